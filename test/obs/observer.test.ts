import { describe, expect, it } from '@jest/globals';
import type { Actuator, ActionRecord } from '../../src/actuators/actuator.js';
import { parseConfig } from '../../src/config/load.js';
import { pointForecast, type Forecaster } from '../../src/forecast/forecaster.js';
import { MemoryAuditLog } from '../../src/obs/audit.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { observabilityObserver } from '../../src/obs/observer.js';
import type { Plan } from '../../src/plan/planner.js';
import { makeSeries, type Series } from '../../src/series/series.js';
import { toApiTarget } from '../../src/service/api.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import { PrescaleService } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const cfg = parseConfig(
  `
targets:
  - name: shop
    history: { source: csv, path: x.csv, days: 1 }
    forecast: { stepMinutes: 1 }
    actuators:
      - { kind: cloneset, namespace: default, name: web, qpsPerReplica: 100, min: 1, max: 50, leadMinutes: 2, scaleDownDelayMinutes: 0 }
`,
  '/tmp/c.yaml',
);

class ScalingActuator implements Actuator {
  readonly id = 'cloneset:default/web';
  readonly kind = 'cloneset' as const;
  readonly model = { kind: 'cloneset' as const, qpsPerReplica: 100 };
  readonly policy = { quantile: 0.9, leadMinutes: 2, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
  replicas = 3;
  currentCapacity(): Promise<number> {
    return Promise.resolve(this.replicas);
  }
  apply(p: Plan, ctx: { nowMs: number; target: string }): Promise<ActionRecord[]> {
    const from = this.replicas;
    this.replicas = p.current.capacity;
    const changed = from !== this.replicas;
    return Promise.resolve([
      {
        atMs: ctx.nowMs,
        target: ctx.target,
        actuator: this.id,
        action: changed ? 'patch-scale' : 'noop',
        result: changed ? 'ok' : 'skipped',
        detail: `replicas ${from} -> ${this.replicas}`,
      },
    ]);
  }
}

describe('observabilityObserver on the real service cycle', () => {
  it('feeds metrics, the audit log and the API from the same cycle', async () => {
    const clock = new ManualClock(T0 + 60 * MINUTE_MS);
    let level = 500;
    const forecaster: Forecaster = {
      name: 'const',
      minTrainLength: 1,
      probabilistic: false,
      fit: () => Promise.resolve(),
      predict: (h, ctx) => {
        const c = ctx as Series;
        return pointForecast(c.startMs + c.values.length * c.stepMs, c.stepMs, Array(h).fill(level));
      },
    };
    const model: LoadedModel = { forecaster, stepMs: MINUTE_MS, info: { kind: 'const', trainedAtMs: T0, backend: 'none', scores: {} } };
    const models: ModelProvider = { load: () => Promise.resolve(model), train: () => Promise.resolve(model), score: () => 0, save: () => Promise.resolve() };
    const source = {
      description: 'flat 200 QPS',
      // Minutes in [from, to) that the clock has passed, like a real source.
      history: (fromMs: number, toMs: number): Promise<Series> => {
        const start = Math.max(T0, Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS);
        const end = Math.min(toMs, clock.now());
        return Promise.resolve(makeSeries(start, MINUTE_MS, Array(Math.max(0, Math.ceil((end - start) / MINUTE_MS))).fill(200)));
      },
    };
    const metrics = createMetrics({ defaultMetrics: false, now: () => clock.now() });
    const audit = new MemoryAuditLog();
    const store = new StateStore();
    const service = new PrescaleService({
      clock,
      store,
      models,
      targets: [{ config: cfg.targets[0], source, actuators: [new ScalingActuator()] }],
      dryRun: false,
      isLeader: () => true,
      observer: observabilityObserver({ metrics, audit }),
    });
    await service.loadModels();
    await service.runCycle();
    clock.advance(MINUTE_MS);
    level = 800;
    await service.runCycle();
    clock.advance(MINUTE_MS);
    await service.runCycle();

    expect(audit.lines.map((l) => [l.plannedCapacity, l.reason, l.actions[0].action])).toEqual([
      [5, 'forecast', 'patch-scale'],
      [8, 'forecast', 'patch-scale'],
      [8, 'forecast', 'noop'],
    ]);
    expect(audit.lines[1]).toMatchObject({ target: 'shop', observedQps: 200, forecastWindowMax: { p50: 800, p90: 800, p99: 800 }, currentCapacity: 5, leadMinutes: 2, bounds: { min: 1, max: 50 } });
    expect(audit.lines[1].actions[0].detail).toBe('replicas 5 -> 8');

    const text = await metrics.render();
    expect(text).toContain('prescale_actions_total{target="shop",actuator="cloneset:default/web",action="patch-scale",result="ok"} 2');
    expect(text).toContain('prescale_actions_total{target="shop",actuator="cloneset:default/web",action="noop",result="skipped"} 1');
    expect(text).toContain('prescale_planned_capacity{target="shop",actuator="cloneset:default/web",kind="cloneset"} 8');
    expect(text).toContain('prescale_cycle_duration_seconds_count 3');
    expect(text).toContain('prescale_model_age_seconds{target="shop"} 3720');

    const api = toApiTarget(store.get('shop') ?? (undefined as never));
    expect(api.actions.map((a) => a.detail)).toEqual(['replicas 8 -> 8', 'replicas 5 -> 8', 'replicas 3 -> 5']);
    expect(api.history.length).toBeGreaterThan(0);
    expect(api.forecast?.quantiles.p50[0][1]).toBe(800);
  });
});
