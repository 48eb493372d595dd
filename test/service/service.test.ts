import { describe, expect, it } from '@jest/globals';
import type { Actuator, ActionRecord } from '../../src/actuators/actuator.js';
import { parseConfig } from '../../src/config/load.js';
import { QUANTILES, pointForecast, type Forecaster } from '../../src/forecast/forecaster.js';
import type { Plan } from '../../src/plan/planner.js';
import { makeSeries, type Series } from '../../src/series/series.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import { PrescaleService, implausibility, latestObserved, type TargetRuntime } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import type { MetricSource } from '../../src/sources/source.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const cfg = parseConfig(
  `
targets:
  - name: shop
    history: { source: csv, path: x.csv, days: 2 }
    forecast: { stepMinutes: 1 }
    actuators:
      - { kind: cloneset, namespace: default, name: web, qpsPerReplica: 100, min: 1, max: 50, leadMinutes: 2, scaleDownDelayMinutes: 0 }
`,
  '/tmp/c.yaml',
);

/** A source over a fixed per-minute series, revealing only what is before the clock. */
function fixedSource(values: (now: number) => Series | Error): MetricSource {
  return {
    description: 'fake',
    history: (_from, _to) => {
      const v = values(clock.now());
      return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
    },
  };
}

/** A forecaster that returns a constant point forecast (or throws). */
function constForecaster(level: () => number): Forecaster {
  return {
    name: 'const',
    minTrainLength: 1,
    probabilistic: false,
    fit: () => Promise.resolve(),
    predict: (h, ctx) => {
      const c = ctx as Series;
      return pointForecast(c.startMs + c.values.length * c.stepMs, c.stepMs, Array(h).fill(level()));
    },
  };
}

function provider(f: Forecaster): ModelProvider {
  const m: LoadedModel = { forecaster: f, stepMs: MINUTE_MS, info: { kind: 'const', trainedAtMs: T0, backend: 'none', scores: {} } };
  return { load: () => Promise.resolve(m), train: () => Promise.resolve(m), score: () => 0, save: () => Promise.resolve() };
}

class RecordingActuator implements Actuator {
  readonly id = 'cloneset:default/web';
  readonly kind = 'cloneset' as const;
  readonly model = { kind: 'cloneset' as const, qpsPerReplica: 100 };
  readonly policy = { quantile: 0.9, leadMinutes: 2, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
  replicas = 10;
  plans: Plan[] = [];
  currentCapacity(): Promise<number> {
    return Promise.resolve(this.replicas);
  }
  apply(p: Plan, ctx: { nowMs: number; target: string }): Promise<ActionRecord[]> {
    this.plans.push(p);
    this.replicas = p.current.capacity;
    return Promise.resolve([{ atMs: ctx.nowMs, target: ctx.target, actuator: this.id, action: 'patch-scale', result: 'ok', detail: `${p.current.capacity}` }]);
  }
}

const clock = new ManualClock(T0 + 60 * MINUTE_MS);
const flat = (level: number) => (now: number) => makeSeries(T0, MINUTE_MS, Array(Math.round((now - T0) / MINUTE_MS)).fill(level));

function service(source: MetricSource, f: Forecaster, actuator: Actuator, opts: { leader?: boolean } = {}) {
  const target: TargetRuntime = { config: cfg.targets[0], source, actuators: [actuator] };
  return new PrescaleService({ clock, store: new StateStore(), models: provider(f), targets: [target], dryRun: false, isLeader: () => opts.leader ?? true });
}

describe('PrescaleService', () => {
  it('forecasts, plans with the shared planner and actuates', async () => {
    const a = new RecordingActuator();
    const s = service(fixedSource(flat(300)), constForecaster(() => 2000), a);
    await s.loadModels();
    const [d] = await s.runCycle();
    expect(d).toMatchObject({ plannedCapacity: 20, reason: 'forecast', fallback: null, observedQps: 300 });
    expect(d.forecastWindowMax).toEqual({ p50: 2000, p90: 2000, p99: 2000 });
    expect(a.replicas).toBe(20);
  });

  it('keeps capacity when history fails, then recovers by itself', async () => {
    let broken = true;
    const a = new RecordingActuator();
    const s = service(fixedSource((now) => (broken ? new Error('connection refused') : flat(100)(now))), constForecaster(() => 100), a);
    await s.loadModels();
    const [d] = await s.runCycle();
    expect(d.fallback).toContain('history unavailable: connection refused');
    expect(d).toMatchObject({ plannedCapacity: 10, reason: 'fallback-hold' });
    broken = false;
    clock.advance(MINUTE_MS);
    const [d2] = await s.runCycle();
    expect(d2).toMatchObject({ fallback: null, plannedCapacity: 1 });
  });

  it.each([
    ['NaN', Number.NaN, 'implausible forecast: value NaN'],
    ['absurdly high', 1e9, 'over 20x the highest observed'],
  ])('never acts on a %s forecast', async (_what, level, reason) => {
    const a = new RecordingActuator();
    const s = service(fixedSource(flat(100)), { ...constForecaster(() => level), predict: (h, c) => ({ ...constForecaster(() => 1).predict(h, c), values: QUANTILES.map(() => Float64Array.from(Array(h).fill(level))) }) }, a);
    await s.loadModels();
    const [d] = await s.runCycle();
    expect(d.fallback).toContain(reason);
    expect(d.plannedCapacity).toBeGreaterThanOrEqual(10);
  });

  it('falls back when the newest observation is too old', async () => {
    const a = new RecordingActuator();
    const stale = (now: number) => makeSeries(T0, MINUTE_MS, [...Array(Math.round((now - T0) / MINUTE_MS) - 20).fill(100), ...Array(20).fill(NaN)]);
    const s = service(fixedSource(stale), constForecaster(() => 100), a);
    await s.loadModels();
    const [d] = await s.runCycle();
    expect(d.fallback).toBe('no observed load in the last 10 min');
    expect(a.replicas).toBe(10);
  });

  it('only the leader actuates; others still forecast', async () => {
    const a = new RecordingActuator();
    const s = service(fixedSource(flat(300)), constForecaster(() => 2000), a, { leader: false });
    await s.loadModels();
    const [d] = await s.runCycle();
    expect(d.plannedCapacity).toBe(20);
    expect(d.actions).toEqual([expect.objectContaining({ result: 'skipped', detail: 'not the leader' })]);
    expect(a.plans).toHaveLength(0);
  });

  it('pins a minimum and pauses actuation until a time', async () => {
    const a = new RecordingActuator();
    const s = service(fixedSource(flat(100)), constForecaster(() => 100), a);
    await s.loadModels();
    s.pin('shop', 30, clock.now() + 10 * MINUTE_MS);
    expect((await s.runCycle())[0]).toMatchObject({ plannedCapacity: 30, reason: 'event-floor' });
    s.pause('shop', clock.now() + MINUTE_MS);
    expect((await s.runCycle())[0].actions[0]).toMatchObject({ result: 'skipped', detail: 'target paused' });
  });
});

describe('forecast quality gate', () => {
  it('acts on the seasonal baseline once the model does worse than it, and says so', async () => {
    clock.set(T0 + 2 * 24 * 60 * MINUTE_MS); // two days of history: the baseline needs the day before
    const a = new RecordingActuator();
    const s = service(fixedSource(flat(100)), constForecaster(() => 1500), a);
    await s.loadModels();
    const first = await s.runCycle();
    expect(first[0]).toMatchObject({ forecastSource: 'model', plannedCapacity: 15 });
    let last = first;
    for (let i = 0; i < 13; i++) {
      clock.advance(MINUTE_MS);
      last = await s.runCycle();
    }
    expect(last[0]).toMatchObject({ forecastSource: 'seasonal-baseline', plannedCapacity: 1, fallback: null });
  });
});

describe('helpers', () => {
  it('latestObserved skips trailing gaps but not beyond the age limit', () => {
    const s = makeSeries(0, MINUTE_MS, [1, 2, NaN, NaN]);
    expect(latestObserved(s, 0)).toBe(2);
    expect(latestObserved(s, 2 * MINUTE_MS)).toBeUndefined();
  });
  it('implausibility accepts a sane forecast', () => {
    expect(implausibility(pointForecast(0, MINUTE_MS, [5, 6]), makeSeries(0, MINUTE_MS, [4, 5]))).toBeUndefined();
  });
});
