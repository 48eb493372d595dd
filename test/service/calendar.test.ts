import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { makeSeries } from '../../src/series/series.js';
import { loadTargetEvents } from '../../src/service/calendar.js';
import type { ModelProvider } from '../../src/service/model-provider.js';
import { DiskModelProvider } from '../../src/service/models.js';
import { buildService, runOnce } from '../../src/service/run.js';
import { PrescaleService, type Decision } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { createClients, createTargets } from '../../src/service/wiring.js';
import { DAY_MS, MINUTE_MS, ManualClock } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';

/**
 * The live service forecasts with the promo calendar: a CSV history with four past promos of tag `promo` (x3,
 * x4, x5, x6 for an hour at noon), and a calendar file that also lists a coming promo with times and tag only.
 * The uplift learned from the past four (p90 of 3..6 = 5.7) must reach the planner before the promo starts.
 */

const STEP = 5 * MINUTE_MS;
const PER_DAY = DAY_MS / STEP;
const T0 = Date.parse('2026-01-05T00:00:00Z'); // a Monday; the 14-day trace is two whole weeks
const NOON = 144;
const PROMOS = new Map([
  [3, 3],
  [5, 4],
  [7, 5],
  [9, 6],
  [12, 5], // the coming one: in the trace, not yet revealed when the test plans
]);
const dir = mkdtempSync(path.join(tmpdir(), 'prescale-calendar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** QPS at step i of the trace: 1000 x (1.5 + sin) over each day (1500 at "noon"), times the promo multiplier over 12:00-13:00. */
function level(i: number): number {
  const day = Math.floor(i / PER_DAY);
  const k = i % PER_DAY;
  const m = k >= NOON && k < NOON + 12 ? (PROMOS.get(day) ?? 1) : 1;
  return 1000 * (1.5 + Math.sin((2 * Math.PI * k) / PER_DAY)) * m;
}

function traceCsv(startMs: number): string {
  const rows = ['timestamp,qps'];
  for (let i = 0; i < 14 * PER_DAY; i++) rows.push(`${new Date(startMs + i * STEP).toISOString()},${level(i)}`);
  return rows.join('\n') + '\n';
}

/** The calendar: the past promos (learned from) and the coming one, times and tag only. */
function calendarCsv(noonOf: (day: number) => number): string {
  const rows = ['name,start,end,tag'];
  for (const day of PROMOS.keys()) {
    const s = noonOf(day);
    rows.push(`${day === 12 ? 'spring-sale' : `promo-${day}`},${new Date(s).toISOString()},${new Date(s + 60 * MINUTE_MS).toISOString()},promo`);
  }
  return rows.join('\n') + '\n';
}

writeFileSync(path.join(dir, 'trace.csv'), traceCsv(T0));
writeFileSync(path.join(dir, 'calendar.csv'), calendarCsv((d) => T0 + d * DAY_MS + NOON * STEP));

const config = (o: { calendar: boolean; modelsDir: string; model?: string }): string => `
simulated: true
modelsDir: ${o.modelsDir}
targets:
  - name: shop
    history: { source: csv, path: trace.csv, unit: per-second, days: 12, replay: { align: week } }
    forecast: { model: ${o.model ?? 'seasonal-naive'}, stepMinutes: 5, horizonMinutes: 30 }
${o.calendar ? '    eventsFile: calendar.csv\n' : ''}    actuators:
      - { kind: cloneset, namespace: shop, name: web, qpsPerReplica: 100, min: 1, max: 500, mode: direct }
`;

/** Three minutes before the coming promo: inside the CloneSet's 3-minute lead time. */
const BEFORE = T0 + 12 * DAY_MS + NOON * STEP - 3 * MINUTE_MS;

/** One cycle of a service wired from the config (sources, in-memory actuators, events) on the manual clock; models trained in process. */
async function cycleAt(o: { calendar: boolean; models?: ModelProvider; model?: string; extra?: Record<string, unknown> }): Promise<{ decision: Decision; store: StateStore; modelsDir: string }> {
  const modelsDir = mkdtempSync(path.join(dir, 'models-'));
  const cfg = parseConfig(config({ ...o, modelsDir }), path.join(dir, 'config.yaml'));
  const clock = new ManualClock(BEFORE);
  const store = new StateStore();
  const clients = createClients(cfg, clock);
  const service = new PrescaleService({
    clock,
    store,
    targets: createTargets(cfg, { clients, clock, startedAtMs: clock.now() }),
    models: o.models ?? new DiskModelProvider({ modelsDir, clock, inProcess: true, extra: o.extra }),
    dryRun: false,
    isLeader: () => true,
  });
  await service.loadModels();
  const [decision] = await service.runCycle();
  return { decision, store, modelsDir };
}

describe('the live service with a promo calendar', () => {
  it('raises capacity before a coming promo by the uplift learned from the past ones, where the same service without the calendar does not', async () => {
    const plain = await cycleAt({ calendar: false });
    const cal = await cycleAt({ calendar: true });
    // Without: the seasonal forecast of a normal noon (1521.8 QPS at 11:55) and the observed 1543.6 QPS -> 16.
    expect(plain.decision).toMatchObject({ plannedCapacity: 16, fallback: null, forecastSource: 'model' });
    expect(plain.decision.calendarUplift).toBeUndefined();
    // With: the 12:00 step is 1500 QPS x 5.7 (the p90 of the past promos' 3, 4, 5, 6) = 8550 QPS -> 86 replicas.
    expect(cal.decision).toMatchObject({ plannedCapacity: 86, reason: 'forecast', fallback: null, forecastSource: 'model' });
    expect(cal.decision.calendarUplift).toMatchObject({ event: 'spring-sale', tag: 'promo', startMs: BEFORE + 3 * MINUTE_MS });
    expect(cal.decision.calendarUplift?.peakP50).toBeCloseTo(4.5, 9);
    expect(cal.decision.calendarUplift?.peakP90).toBeCloseTo(5.7, 9);
    expect(cal.store.get('shop')?.calendarUplift?.event).toBe('spring-sale');
    expect(plain.store.get('shop')?.calendarUplift).toBeUndefined();
  });

  it('trains the model it saves on the history with the past promos replaced by the day before', async () => {
    const { modelsDir } = await cycleAt({ calendar: true });
    const saved = JSON.parse(readFileSync(path.join(modelsDir, 'shop', 'history.json'), 'utf8')) as { startMs: number; stepMs: number; values: number[] };
    const at = (t: number): number => saved.values[(t - saved.startMs) / saved.stepMs];
    for (const day of [3, 5, 7, 9]) {
      const noon = T0 + day * DAY_MS + NOON * STEP;
      expect(at(noon + 30 * MINUTE_MS)).toBeCloseTo(at(noon + 30 * MINUTE_MS - DAY_MS), 6);
      expect(at(noon + 30 * MINUTE_MS)).toBeCloseTo(level((noon + 30 * MINUTE_MS - T0) / STEP) / PROMOS.get(day)!, 6);
    }
  });

  it('trains an lstm with the calendar as inputs on the raw history: not wrapped, and the coming promo lifts its forecast', async () => {
    // A small LSTM, quick to train; the same one with and without the calendar.
    const extra = { epochs: 12, units: 8, window: 12, maxSamples: 3000, patience: 12 };
    const plain = await cycleAt({ calendar: false, model: 'lstm', extra });
    const cal = await cycleAt({ calendar: true, model: 'lstm', extra });
    const meta = JSON.parse(readFileSync(path.join(cal.modelsDir, 'shop', 'meta.json'), 'utf8')) as { lstm: { eventTags?: string[]; events?: { name: string }[] } };
    expect(meta.lstm.eventTags).toEqual(['promo']);
    expect(meta.lstm.events?.map((e) => e.name)).toContain('spring-sale');
    // It reads the calendar itself: no uplift multiplied on top.
    expect(cal.decision.calendarUplift).toBeUndefined();
    expect(cal.decision).toMatchObject({ reason: 'forecast', fallback: null, forecastSource: 'model' });
    expect(cal.decision.plannedCapacity).toBeGreaterThan(2 * plain.decision.plannedCapacity);
  }, 120_000);

  it('retrains an lstm over a loaded model: both judged on the raw history as each forecasts (the old one wrapped, the new one with its inputs)', async () => {
    const modelsDir = mkdtempSync(path.join(dir, 'models-'));
    const cfg = parseConfig(config({ calendar: true, modelsDir, model: 'lstm' }), path.join(dir, 'config.yaml'));
    const clock = new ManualClock(BEFORE);
    const inner = new DiskModelProvider({ modelsDir, clock, inProcess: true, extra: { epochs: 2, units: 4, window: 12, maxSamples: 1000 } });
    const old = new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP });
    await old.fit(makeSeries(T0, STEP, Array.from({ length: 12 * PER_DAY }, (_, i) => level(i))));
    const judged: { model: string; promosKept: boolean }[] = [];
    const promoStep = T0 + 9 * DAY_MS + NOON * STEP + 30 * MINUTE_MS;
    const models: ModelProvider = {
      load: () => Promise.resolve({ forecaster: old, stepMs: STEP, info: { kind: 'seasonal-naive', trainedAtMs: T0, backend: 'none', scores: {} } }),
      train: (t, h, o) => inner.train(t, h, o),
      score: (m, h, from) => {
        const at = h.values[(promoStep - h.startMs) / h.stepMs];
        judged.push({ model: m.forecaster.name, promosKept: Math.abs(at - level((promoStep - T0) / STEP)) < 1e-6 });
        return inner.score(m, h, from);
      },
      save: () => Promise.resolve(),
    };
    const clients = createClients(cfg, clock);
    const service = new PrescaleService({ clock, store: new StateStore(), targets: createTargets(cfg, { clients, clock, startedAtMs: clock.now() }), models, dryRun: true, isLeader: () => true });
    await service.loadModels();
    await service.retrainAll();
    expect(judged).toEqual([
      { model: 'seasonal-naive+calendar', promosKept: true },
      { model: 'lstm', promosKept: true },
    ]);
  }, 120_000);

  it('wraps a model loaded from disk (fitted on the raw history, never fitted again) the same way', async () => {
    const raw = makeSeries(T0, STEP, Array.from({ length: 12 * PER_DAY }, (_, i) => level(i)));
    const f = new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP });
    await f.fit(raw);
    const loaded: ModelProvider = {
      load: () => Promise.resolve({ forecaster: f, stepMs: STEP, info: { kind: 'seasonal-naive', trainedAtMs: T0, backend: 'none', scores: {} } }),
      train: () => Promise.reject(new Error('must not train')),
      score: () => 0,
      save: () => Promise.resolve(),
    };
    expect((await cycleAt({ calendar: true, models: loaded })).decision).toMatchObject({ plannedCapacity: 86, reason: 'forecast' });
    expect((await cycleAt({ calendar: false, models: loaded })).decision).toMatchObject({ plannedCapacity: 16 });
  });
});

describe('serve --once with an eventsFile', () => {
  it('plans for a promo starting in 5 minutes from the uplift of past ones (wall clock, model trained in a child process)', async () => {
    // The same trace and calendar, moved so that the coming promo starts at the next 5-minute boundary but one.
    const promoStart = Math.floor(Date.now() / STEP) * STEP + STEP;
    const start = promoStart - 12 * DAY_MS - NOON * STEP;
    writeFileSync(path.join(dir, 'live-trace.csv'), traceCsv(start));
    writeFileSync(path.join(dir, 'live-calendar.csv'), calendarCsv((d) => start + d * DAY_MS + NOON * STEP));
    const yaml = (calendar: boolean): string =>
      config({ calendar, modelsDir: mkdtempSync(path.join(dir, 'once-')) })
        .replace('trace.csv', 'live-trace.csv')
        .replace('calendar.csv', 'live-calendar.csv');
    const withCal = await runOnce(parseConfig(yaml(true), path.join(dir, 'config.yaml')));
    const without = await runOnce(parseConfig(yaml(false), path.join(dir, 'config.yaml')));
    const json = JSON.parse(JSON.stringify({ decisions: withCal })) as { decisions: Decision[] };
    expect(json.decisions[0].calendarUplift).toMatchObject({ event: 'spring-sale', tag: 'promo', startMs: promoStart });
    expect(json.decisions[0].plannedCapacity).toBeGreaterThan(4 * without[0].plannedCapacity);
  }, 60_000);
});

describe('eventsFile errors', () => {
  const base = (file: string): string => `
targets:
  - name: shop
    history: { source: csv, path: trace.csv, unit: per-second }
    eventsFile: ${file}
    actuators: [{ kind: cloneset, namespace: shop, name: web, qpsPerReplica: 100, min: 1, max: 50 }]
  `;

  it('a bad calendar file names the config key, then the file and line', async () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'name,start,end,tag\nok,2026-01-18T12:00:00Z,2026-01-18T13:00:00Z,promo\nx,2026-01-18T14:00:00Z,2026-01-18T12:00:00Z,promo\n');
    const cfg = parseConfig(`simulated: true\n${base('bad.csv')}`, path.join(dir, 'config.yaml'));
    expect(() => loadTargetEvents(cfg.targets[0], 'targets[0].eventsFile')).toThrow(InputError);
    await expect(buildService(cfg)).rejects.toThrow(`targets[0].eventsFile: ${bad}:3: end (2026-01-18T12:00:00.000Z) must be after start (2026-01-18T14:00:00.000Z)`);
  });

  it('a missing calendar file names the key and the path', () => {
    const cfg = parseConfig(base('nope.csv'), path.join(dir, 'config.yaml'));
    expect(() => loadTargetEvents(cfg.targets[0], 'targets[0].eventsFile')).toThrow(`targets[0].eventsFile: ${path.join(dir, 'nope.csv')}: cannot read events`);
  });

  it('inline events and the file are one list; untagged inline events stay floors only', () => {
    writeFileSync(path.join(dir, 'two.csv'), 'name,start,end,tag,minCapacity\na,2026-01-18T12:00:00Z,2026-01-18T13:00:00Z,promo,40\n');
    const cfg = parseConfig(
      base('two.csv').replace('    eventsFile', '    events: [{ name: floor, start: "2026-01-19T08:00:00Z", end: "2026-01-19T09:00:00Z", minCapacity: 7 }]\n    eventsFile'),
      path.join(dir, 'config.yaml'),
    );
    expect(loadTargetEvents(cfg.targets[0], 'targets[0].eventsFile')).toEqual([
      { name: 'floor', startMs: Date.parse('2026-01-19T08:00:00Z'), endMs: Date.parse('2026-01-19T09:00:00Z'), minCapacity: 7 },
      { name: 'a', startMs: Date.parse('2026-01-18T12:00:00Z'), endMs: Date.parse('2026-01-18T13:00:00Z'), tag: 'promo', minCapacity: 40 },
    ]);
  });
});
