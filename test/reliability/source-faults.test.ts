import { describe, expect, it } from '@jest/globals';
import { createForecaster } from '../../src/forecast/registry.js';
import type { Series } from '../../src/series/series.js';
import type { LoadedModel } from '../../src/service/model-provider.js';
import { PrescaleService, type Decision } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { DAY_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';
import { configFor, fixedProvider, naiveModel, RecordingActuator, seriesUntil, SwitchableSource, T0 } from './fakes.js';

/**
 * Faults of the metric source, each run through the real PrescaleService and planner: a healthy start at
 * 2000 QPS (20 replicas of 100 QPS), the fault for several one-minute cycles, then the source heals. Each case
 * asserts that capacity never drops below the 20 replicas in place and that the service recovers by itself.
 */

const LEVEL = 2000;
const HELD = 20;

interface Rig {
  clock: ManualClock;
  source: SwitchableSource;
  actuator: RecordingActuator;
  service: PrescaleService;
  store: StateStore;
}

async function rig(model?: LoadedModel, targetTimeoutMs?: number): Promise<Rig> {
  const clock = new ManualClock(T0 + 2 * DAY_MS);
  const healthy = (): Promise<Series> => Promise.resolve(seriesUntil(clock.now(), () => LEVEL));
  const source = new SwitchableSource(healthy);
  const actuator = new RecordingActuator('shop', HELD);
  const store = new StateStore();
  const config = configFor(['shop']).targets[0];
  const service = new PrescaleService({
    clock,
    store,
    models: fixedProvider(model ?? (await naiveModel())),
    targets: [{ config, source, actuators: [actuator] }],
    dryRun: false,
    isLeader: () => true,
    ...(targetTimeoutMs ? { targetTimeoutMs } : {}),
  });
  await service.loadModels();
  for (let i = 0; i < 2; i++) {
    const [d] = await service.runCycle();
    expect(d).toMatchObject({ fallback: null, plannedCapacity: HELD });
    clock.advance(MINUTE_MS);
  }
  return { clock, source, actuator, service, store };
}

const healthy = (r: Rig) => (): Promise<Series> => Promise.resolve(seriesUntil(r.clock.now(), () => LEVEL));

/** The live history with the last `minutes` minutes replaced by `bad(i)` (i = 0 for the newest). */
function corruptTail(r: Rig, minutes: number, bad: (i: number) => number) {
  return (): Promise<Series> => {
    const s = seriesUntil(r.clock.now(), () => LEVEL);
    for (let i = 0; i < minutes; i++) s.values[s.values.length - 1 - i] = bad(i);
    return Promise.resolve(s);
  };
}

/** Runs `cycles` one-minute cycles under the fault, asserting no capacity is lost in any of them. */
async function underFault(r: Rig, cycles: number): Promise<Decision[]> {
  const seen: Decision[] = [];
  for (let i = 0; i < cycles; i++) {
    const [d] = await r.service.runCycle();
    seen.push(d);
    expect(d.plannedCapacity).toBeGreaterThanOrEqual(HELD);
    expect(r.actuator.replicas).toBeGreaterThanOrEqual(HELD);
    r.clock.advance(MINUTE_MS);
  }
  return seen;
}

async function recovers(r: Rig): Promise<void> {
  r.source.behaviour = healthy(r);
  const [d] = await r.service.runCycle();
  expect(d).toMatchObject({ fallback: null, plannedCapacity: HELD, forecastSource: 'model' });
  expect(r.store.get('shop')?.fallback).toEqual({ active: false, reason: undefined });
}

describe('metric source faults: capacity kept, recovery by itself', () => {
  it.each([
    ['negative values', () => -5],
    ['+Infinity (a rate divided by zero)', () => Infinity],
    ['-Infinity', () => -Infinity],
  ])('%s in the newest 5 minutes: read as gaps, the forecast carries the last good value, capacity held', async (_what, bad) => {
    const r = await rig();
    r.source.behaviour = corruptTail(r, 5, bad);
    const seen = await underFault(r, 12); // longer than the 10-minute scale-down delay
    for (const d of seen) expect(d).toMatchObject({ fallback: null, plannedCapacity: HELD, observedQps: LEVEL });
    await recovers(r);
  });

  it.each([
    ['negative values', -5],
    ['+Infinity', Infinity],
    ['NaN', NaN],
  ])('%s for everything the source returns: stale-history fallback, capacity held', async (_what, bad) => {
    const r = await rig();
    r.source.behaviour = (from: number, to: number) => Promise.resolve({ startMs: from, stepMs: MINUTE_MS, values: new Float64Array(Math.round((to - from) / MINUTE_MS)).fill(bad) });
    const seen = await underFault(r, 12);
    for (const d of seen) expect(d).toMatchObject({ fallback: 'no observed load in the last 10 min', reason: 'fallback-hold' });
    expect(r.store.get('shop')?.fallback).toEqual({ active: true, reason: 'no observed load in the last 10 min' });
    await recovers(r);
  });

  it.each([
    ['NaN in the newest 3 minutes', (i: number) => (i < 3 ? NaN : LEVEL)],
    ['every other minute a gap', (i: number) => (i % 2 === 0 ? NaN : LEVEL)],
  ])('%s: gaps filled from the last value, no fallback needed, capacity held', async (_what, bad) => {
    const r = await rig();
    r.source.behaviour = corruptTail(r, 30, bad);
    const seen = await underFault(r, 5);
    for (const d of seen) expect(d).toMatchObject({ fallback: null, plannedCapacity: HELD, observedQps: LEVEL });
    await recovers(r);
  });

  it('zeros for 15 minutes: a seasonal model keeps forecasting the usual load, capacity held', async () => {
    const seasonal = createForecaster('seasonal-naive', { stepMs: MINUTE_MS, horizon: 30 });
    const clock0 = T0 + 2 * DAY_MS;
    await seasonal.fit(seriesUntil(clock0, () => LEVEL));
    const r = await rig({ forecaster: seasonal, stepMs: MINUTE_MS, info: { kind: 'seasonal-naive', trainedAtMs: T0, backend: 'none', scores: {} } });
    // From now on the source says zero for everything it is asked (an exporter reset, a broken query).
    r.source.behaviour = (from: number, to: number) => Promise.resolve({ startMs: from, stepMs: MINUTE_MS, values: new Float64Array(Math.round((to - from) / MINUTE_MS)) });
    const seen = await underFault(r, 15);
    for (const d of seen) expect(d).toMatchObject({ fallback: null, observedQps: 0, reason: 'forecast' });
    await recovers(r);
  });

  it('zeros with a model that follows them (naive): the scale-down delay holds capacity for 10 minutes', async () => {
    const r = await rig();
    r.source.behaviour = (from: number, to: number) => Promise.resolve({ startMs: from, stepMs: MINUTE_MS, values: new Float64Array(Math.round((to - from) / MINUTE_MS)) });
    // scaleDownDelayMinutes is 10 in RecordingActuator's policy: zero load for less than that lowers nothing.
    await underFault(r, 9);
    await recovers(r);
  });

  it('a source that hangs and ignores the abort: the cycle ends at the per-target timeout, the other target is served, capacity held', async () => {
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    const fine = new SwitchableSource(() => Promise.resolve(seriesUntil(clock.now(), () => LEVEL)));
    const hung = new SwitchableSource(() => Promise.resolve(seriesUntil(clock.now(), () => LEVEL)));
    const cfg = configFor(['hung', 'fine']);
    const aHung = new RecordingActuator('hung', HELD);
    const aFine = new RecordingActuator('fine', HELD);
    const store = new StateStore();
    const service = new PrescaleService({
      clock,
      store,
      models: fixedProvider(await naiveModel()),
      targets: [
        { config: cfg.targets[0], source: hung, actuators: [aHung] },
        { config: cfg.targets[1], source: fine, actuators: [aFine] },
      ],
      dryRun: false,
      isLeader: () => true,
      targetTimeoutMs: 200,
    });
    await service.loadModels();
    expect((await service.runCycle()).map((d) => d.fallback)).toEqual([null, null]);
    clock.advance(MINUTE_MS);

    hung.behaviour = () => new Promise<Series>(() => undefined); // never settles, whatever the signal says
    for (let i = 0; i < 3; i++) {
      const decisions = await service.runCycle();
      const byTarget = new Map(decisions.map((d) => [d.target, d]));
      expect(byTarget.get('fine')).toMatchObject({ fallback: null, plannedCapacity: HELD });
      const h = byTarget.get('hung');
      expect(h?.fallback).toBe('history unavailable: target cycle timed out after 200 ms');
      expect(h?.plannedCapacity).toBeGreaterThanOrEqual(HELD);
      expect(aHung.replicas).toBe(HELD);
      expect(store.get('hung')?.fallback.active).toBe(true);
      clock.advance(MINUTE_MS);
    }

    hung.behaviour = () => Promise.resolve(seriesUntil(clock.now(), () => LEVEL));
    const after = new Map((await service.runCycle()).map((d) => [d.target, d]));
    expect(after.get('hung')).toMatchObject({ fallback: null, plannedCapacity: HELD });
  });

  it('a slow source that honours the abort: history unavailable, capacity held, then recovery', async () => {
    const r = await rig(undefined, 200);
    r.source.behaviour = (_f, _t, signal) =>
      new Promise<Series>((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    const seen = await underFault(r, 3);
    for (const d of seen) expect(d.fallback).toBe('history unavailable: target cycle timed out after 200 ms');
    await recovers(r);
  });
});
