import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runBacktest, type CycleRecord } from '../../src/backtest/backtest.js';
import { parseScenario } from '../../src/backtest/scenario.js';
import { synth } from '../../src/backtest/synth.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createForecaster } from '../../src/forecast/registry.js';
import { initTf } from '../../src/forecast/tf-backend.js';
import { servedValue } from '../../src/metrics-api/served.js';
import { seriesCsv } from '../../src/service/models.js';
import { buildService } from '../../src/service/run.js';
import type { Series } from '../../src/series/series.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

/**
 * The backtest is evidence about the service only if it decides what the service decides. This runs `serve`'s own
 * wiring (buildService on a `simulated: true` config: CSV replay, the simulated world, the model it trains itself)
 * minute by minute on a manual clock, then `backtest` over the same minutes with the same config, and asserts the
 * same decisions every minute: capacities, reasons, fallbacks, the actions written (scheduled actions, served
 * metric records) and the value `prescale-qps` serves.
 */

const STEP = 5 * MINUTE_MS;

/** 15 days of the synthetic promo trace, a flash sale on day 8, and a 15-minute hole in the recording before it. */
function trace(): { series: Series; fromMs: number; toMs: number; gapMs: number } {
  const { series, events } = synth({ profile: 'promo', days: 15, seed: 3, promoDays: [1, 8] });
  const sale = events[1];
  const fromMs = Math.floor(sale.startMs / STEP) * STEP - 150 * MINUTE_MS;
  const gapMs = fromMs + 40 * MINUTE_MS;
  const values = Float64Array.from(series.values);
  const g = (gapMs - series.startMs) / MINUTE_MS;
  values.fill(NaN, g, g + 15);
  return { series: { ...series, values }, fromMs, toMs: sale.endMs + 60 * MINUTE_MS, gapMs };
}

function configText(o: { file: string; modelsDir: string; anchorMs: number }): string {
  return `
simulated: true
dryRun: false
modelsDir: ${o.modelsDir}
targets:
  - name: shop
    history: { source: csv, path: ${o.file}, valueColumn: qps, unit: per-second, days: 7, replay: { align: anchor, anchor: "${new Date(o.anchorMs).toISOString()}" } }
    forecast: { model: holt-winters, stepMinutes: 5, horizonMinutes: 30, quantile: 0.9, maxHistoryAgeMinutes: 10 }
    actuators:
      - { kind: cloneset, namespace: shop, name: web, qpsPerReplica: 70, min: 2, max: 3000, leadMinutes: 3, scaleDownDelayMinutes: 10, maxStepUp: 60 }
      - { kind: lambda-provisioned-concurrency, function: checkout, qualifier: live, meanDurationMs: 200, targetUtilization: 0.7, min: 1, max: 100000, leadMinutes: 5, scaleDownDelayMinutes: 10 }
`;
}

/** What `serve` decided, minute by minute, through its own wiring on a manual clock. */
async function serveMinutes(config: Config, fromMs: number, toMs: number): Promise<CycleRecord[]> {
  const clock = new ManualClock(fromMs);
  const b = await buildService(config, { clock });
  await b.service.loadModels();
  const out: CycleRecord[] = [];
  for (let t = fromMs; t < toMs; t += MINUTE_MS) {
    clock.set(t);
    const decisions = await b.service.runCycle();
    const snap = b.store.get('shop');
    const served: Record<string, number | null> = {};
    for (const a of snap?.actuators ?? []) {
      if (a.kind !== 'cloneset' || !snap) continue;
      const r = servedValue(snap, a, { nowMs: t, staleAfterSeconds: config.metricsApi.staleAfterSeconds, stale: config.metricsApi.stale });
      served[a.id] = r.ok ? r.value.qps : null;
    }
    out.push({ atMs: t, decisions, served });
  }
  return out;
}

describe('serve and backtest decide the same, minute by minute', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'prescale-equality-'));
  const { series, fromMs, toMs, gapMs } = trace();
  let served: CycleRecord[];
  let replayed: readonly CycleRecord[];

  beforeAll(async () => {
    await initTf();
    const file = path.join(dir, 'trace.csv');
    writeFileSync(file, seriesCsv(series));
    // anchor = the clock's start: the replay maps trace time to wall time one to one.
    const config = parseConfig(configText({ file, modelsDir: path.join(dir, 'models'), anchorMs: fromMs }), path.join(dir, 'config.yaml'));
    served = await serveMinutes(config, fromMs, toMs);
    const scenario = parseScenario({ pods: { readySeconds: config.simulation.podReadySeconds, hpa: { targetAverageValue: 70, tolerance: config.simulation.hpaTolerance } }, lambda: { allocationSeconds: config.simulation.lambdaAllocationSeconds } });
    const r = await runBacktest({
      series,
      fromMs,
      toMs,
      scenario,
      forecaster: createForecaster('holt-winters', { stepMs: STEP, seed: 1 }),
      config: { config, target: 'shop' },
      strategies: ['predictive'],
      record: true,
    });
    replayed = r.strategies.predictive?.cycles ?? [];
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('covers the minutes, and the replay has what makes it a test: a ramp, the step limit, fallback and scheduled actions', () => {
    expect(served.length).toBe((toMs - fromMs) / MINUTE_MS);
    expect(replayed.length).toBe(served.length);
    const decisions = served.flatMap((c) => c.decisions);
    expect(decisions.length).toBe(2 * served.length);
    const reasons = new Set(decisions.map((d) => d.reason));
    expect(reasons).toContain('step-limit');
    expect(reasons).toContain('forecast');
    // The hole in the recording: no observed load for more than maxHistoryAgeMinutes.
    const fallbacks = served.filter((c) => c.decisions.some((d) => d.fallback !== null));
    expect(fallbacks.length).toBeGreaterThan(0);
    expect(fallbacks[0].atMs).toBeGreaterThanOrEqual(gapMs + 10 * MINUTE_MS);
    expect(decisions.flatMap((d) => d.actions).filter((a) => a.action === 'put-scheduled-action' && a.result === 'ok').length).toBeGreaterThan(10);
    const peak = Math.max(...decisions.filter((d) => d.actuator.startsWith('cloneset')).map((d) => d.currentCapacity ?? 0));
    expect(peak).toBeGreaterThan(500);
  });

  it('every minute: the same decisions, actions and served metric', () => {
    for (let i = 0; i < served.length; i++) {
      // One minute at a time, so a difference names its minute.
      expect([new Date(served[i].atMs).toISOString(), replayed[i]]).toEqual([new Date(served[i].atMs).toISOString(), served[i]]);
    }
  });
});
