import type { Actuator, ActionRecord } from '../../src/actuators/actuator.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Forecaster } from '../../src/forecast/forecaster.js';
import { createForecaster } from '../../src/forecast/registry.js';
import type { Plan } from '../../src/plan/planner.js';
import type { Series } from '../../src/series/series.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import type { MetricSource } from '../../src/sources/source.js';
import { MINUTE_MS } from '../../src/util/clock.js';

/** Fakes for the fault-injection suite: the real PrescaleService runs against them. */

export const T0 = Date.parse('2026-01-05T00:00:00Z');

/** Targets named `names`, each a CloneSet of 100 QPS per replica (min 1, max 50) with the default scale-down delay. */
export function configFor(names: readonly string[], model = 'auto'): Config {
  const targets = names
    .map(
      (n) => `
  - name: ${n}
    history: { source: csv, path: x.csv, days: 2 }
    forecast: { stepMinutes: 1, horizonMinutes: 30, model: ${model} }
    actuators:
      - { kind: cloneset, namespace: default, name: ${n}, qpsPerReplica: 100, min: 1, max: 50, leadMinutes: 2 }`,
    )
    .join('');
  return parseConfig(`targets:${targets}\n`, '/tmp/reliability.yaml');
}

/** A per-minute series from T0 up to (not including) `now`, by a function of the minute's start. */
export function seriesUntil(now: number, value: (atMs: number) => number): Series {
  const n = Math.round((now - T0) / MINUTE_MS);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = value(T0 + i * MINUTE_MS);
  return { startMs: T0, stepMs: MINUTE_MS, values };
}

/** A source whose behaviour the test switches between cycles: any `history` function may be swapped in. */
export class SwitchableSource implements MetricSource {
  readonly description = 'switchable fake';
  calls = 0;
  constructor(public behaviour: (from: number, to: number, signal?: AbortSignal) => Promise<Series>) {}
  history(from: number, to: number, signal?: AbortSignal): Promise<Series> {
    this.calls++;
    return this.behaviour(from, to, signal);
  }
}

/** A CloneSet stand-in that applies every plan and keeps every capacity it was set to. */
export class RecordingActuator implements Actuator {
  readonly kind = 'cloneset' as const;
  readonly model = { kind: 'cloneset' as const, qpsPerReplica: 100 };
  readonly policy = { quantile: 0.9, leadMinutes: 2, min: 1, max: 50, scaleDownDelayMinutes: 10, maxStepUp: Infinity };
  readonly id: string;
  replicas: number;
  readonly history: number[] = [];
  constructor(name: string, replicas: number) {
    this.id = `cloneset:default/${name}`;
    this.replicas = replicas;
  }
  currentCapacity(): Promise<number> {
    return Promise.resolve(this.replicas);
  }
  apply(p: Plan, ctx: { nowMs: number; target: string }): Promise<ActionRecord[]> {
    this.replicas = p.current.capacity;
    this.history.push(this.replicas);
    return Promise.resolve([{ atMs: ctx.nowMs, target: ctx.target, actuator: this.id, action: 'patch-scale', result: 'ok', detail: `${this.replicas}` }]);
  }
}

/** The real `naive` forecaster (the last complete minute, repeated): it follows whatever the source returns. */
export async function naiveModel(): Promise<LoadedModel> {
  const f = createForecaster('naive', { stepMs: MINUTE_MS, horizon: 30 });
  await f.fit(seriesUntil(T0 + 10 * MINUTE_MS, () => 1));
  return { forecaster: f, stepMs: MINUTE_MS, info: { kind: 'naive', trainedAtMs: T0, backend: 'none', scores: {} } };
}

/** Wraps a forecaster so the test can make `predict` throw or return something else from now on. */
export function sabotaged(inner: Forecaster, predict: { current?: Forecaster['predict'] }): Forecaster {
  return {
    name: inner.name,
    minTrainLength: inner.minTrainLength,
    probabilistic: inner.probabilistic,
    fit: (s) => inner.fit(s),
    predict: (h, ctx) => (predict.current ?? inner.predict.bind(inner))(h, ctx),
  };
}

/** A provider handing out one model, never training another. */
export function fixedProvider(m: LoadedModel): ModelProvider {
  return { load: () => Promise.resolve(m), train: () => Promise.resolve(m), score: () => 0, save: () => Promise.resolve() };
}
