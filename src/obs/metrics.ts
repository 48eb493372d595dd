import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QUANTILES } from '../forecast/forecaster.js';
import type { TargetSnapshot } from '../service/state.js';
import { MINUTE_MS } from '../util/clock.js';
import { liveErrorOf } from './live-error.js';

export const METRIC_PREFIX = 'prescale_';

export interface MetricsOptions {
  /** Wall clock for ages (model age); injected so tests can pin it. */
  readonly now?: () => number;
  /** Live tfjs tensor count (`tf.memory().numTensors`), read at scrape time so a leak shows between cycles. */
  readonly tensorCount?: () => number | undefined;
  /** The active tfjs backend (`tf.getBackend()`), read at scrape time. */
  readonly tfjsBackend?: () => string | undefined;
  /** Node process metrics (CPU, memory, event loop lag, GC); on unless turned off. */
  readonly defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** Mirrors one target's state after a cycle. Actions are counted once even though snapshots repeat them. */
  recordSnapshot(s: TargetSnapshot): void;
  /** Duration of one whole service cycle (all targets). */
  observeCycle(seconds: number): void;
  /** Removes every series of a target that is gone (its PredictiveScaler deleted), so no alert fires on a frozen value. */
  forgetTarget(name: string): void;
  /** The Prometheus text exposition of the registry. */
  render(): Promise<string>;
  readonly contentType: string;
}

type Labels = Record<string, string>;

/**
 * Removes the label sets a target had last cycle but not this one, so a forecast step, an actuator or a
 * quantile that went away does not linger as a frozen gauge value.
 */
class LabelTracker {
  private readonly last = new Map<Gauge, Map<string, Map<string, Labels>>>();

  sync(target: string, gauge: Gauge, current: readonly Labels[]): void {
    const key = (l: Labels): string => JSON.stringify(Object.entries(l).sort());
    const now = new Map(current.map((l) => [key(l), l]));
    let byTarget = this.last.get(gauge);
    if (!byTarget) this.last.set(gauge, (byTarget = new Map()));
    for (const [k, l] of byTarget.get(target) ?? []) if (!now.has(k)) gauge.remove(l);
    byTarget.set(target, now);
  }

  /** Removes every label set `target` has in any gauge. */
  forget(target: string): void {
    for (const [gauge, byTarget] of this.last) {
      for (const l of byTarget.get(target)?.values() ?? []) gauge.remove(l);
      byTarget.delete(target);
    }
  }
}

function actionKey(a: TargetSnapshot['actions'][number]): string {
  return JSON.stringify([a.atMs, a.actuator, a.action, a.result, a.detail]);
}

function multiset(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/**
 * prom-client metrics on a registry of their own (never the global one, so two services in one test process
 * do not collide and importing this module registers nothing).
 */
export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const now = opts.now ?? ((): number => Date.now());
  const p = METRIC_PREFIX;
  const reg = [registry];

  const forecast = new Gauge({
    name: `${p}forecast_qps`,
    help: 'Forecast request rate (QPS) by quantile and minutes ahead of the forecast origin',
    labelNames: ['target', 'quantile', 'horizon_minutes'],
    registers: reg,
  });
  const observed = new Gauge({ name: `${p}observed_qps`, help: 'Latest observed request rate (QPS)', labelNames: ['target'], registers: reg });
  const liveError = new Gauge({
    name: `${p}forecast_error_mase`,
    help: 'Rolling mean absolute scaled error of matured live forecasts (1 = as good as seasonal naive)',
    labelNames: ['target'],
    registers: reg,
  });
  const liveWape = new Gauge({
    name: `${p}forecast_live_wape`,
    help: 'Weighted absolute percentage error (fraction) of past p50 forecasts against actuals over the last day',
    labelNames: ['target'],
    registers: reg,
  });
  const liveMae = new Gauge({
    name: `${p}forecast_live_mae_qps`,
    help: 'Mean absolute error (QPS) of past p50 forecasts against actuals over the last day',
    labelNames: ['target'],
    registers: reg,
  });
  const liveCoverage = new Gauge({
    name: `${p}forecast_p90_coverage`,
    help: 'Share of the last day\'s steps whose actual stayed at or below the forecast p90 (about 0.9 when calibrated)',
    labelNames: ['target'],
    registers: reg,
  });
  const planned = new Gauge({
    name: `${p}planned_capacity`,
    help: 'Capacity the planner wants now (provisioned concurrency or replicas)',
    labelNames: ['target', 'actuator', 'kind'],
    registers: reg,
  });
  const plannedQps = new Gauge({
    name: `${p}planned_qps`,
    help: 'Request rate (QPS) the planned capacity is sized for',
    labelNames: ['target', 'actuator', 'kind'],
    registers: reg,
  });
  const current = new Gauge({
    name: `${p}current_capacity`,
    help: 'Capacity in place as last read from the actuator',
    labelNames: ['target', 'actuator', 'kind'],
    registers: reg,
  });
  const actions = new Counter({
    name: `${p}actions_total`,
    help: 'Actions taken or refused, by result',
    labelNames: ['target', 'actuator', 'action', 'result'],
    registers: reg,
  });
  const fallback = new Gauge({
    name: `${p}fallback_active`,
    help: '1 while the target runs on the reactive fallback (no trustworthy forecast)',
    labelNames: ['target'],
    registers: reg,
  });
  const forecastAt = new Gauge({
    name: `${p}forecast_timestamp_seconds`,
    help: 'When the forecast in use was made (Unix seconds); it stops moving while the target is in fallback',
    labelNames: ['target'],
    registers: reg,
  });
  const gateModelMae = new Gauge({
    name: `${p}quality_gate_model_mae_qps`,
    help: "Mean absolute error (QPS) of the model's matured live p50 forecasts over the quality gate's window (6 h, known events left out)",
    labelNames: ['target'],
    registers: reg,
  });
  const gateBaselineMae = new Gauge({
    name: `${p}quality_gate_baseline_mae_qps`,
    help: 'Mean absolute error (QPS) of the daily seasonal-naive baseline (the load a day earlier) over the same steps as the model',
    labelNames: ['target'],
    registers: reg,
  });
  const gateSteps = new Gauge({
    name: `${p}quality_gate_steps`,
    help: 'Matured forecast steps the quality gate compared (the gate judges from 12 on)',
    labelNames: ['target'],
    registers: reg,
  });
  const gateActive = new Gauge({
    name: `${p}quality_gate_active`,
    help: "1 while the model did worse than the seasonal baseline and the plan uses the baseline's forecast",
    labelNames: ['target'],
    registers: reg,
  });
  const paused = new Gauge({ name: `${p}paused`, help: '1 while the target is paused', labelNames: ['target'], registers: reg });
  const updated = new Gauge({
    name: `${p}last_cycle_timestamp_seconds`,
    help: 'When the last cycle for the target finished (Unix seconds)',
    labelNames: ['target'],
    registers: reg,
  });
  const trainedAt = new Map<string, number>();
  new Gauge({
    name: `${p}model_age_seconds`,
    help: 'Seconds since the model in use was trained',
    labelNames: ['target'],
    registers: reg,
    collect(): void {
      this.reset();
      for (const [target, at] of trainedAt) this.set({ target }, Math.max(0, (now() - at) / 1000));
    },
  });
  const modelInfo = new Gauge({
    name: `${p}model_info`,
    help: 'The model in use per target (always 1; the labels carry the information)',
    labelNames: ['target', 'kind', 'backend'],
    registers: reg,
  });
  new Gauge({
    name: `${p}tfjs_backend_info`,
    help: 'The active TensorFlow.js backend (always 1; the label carries the name)',
    labelNames: ['backend'],
    registers: reg,
    collect(): void {
      this.reset();
      const b = opts.tfjsBackend?.();
      if (b) this.set({ backend: b }, 1);
    },
  });
  new Gauge({
    name: `${p}tfjs_tensors`,
    help: 'Live TensorFlow.js tensors; growth between cycles is a leak',
    registers: reg,
    collect(): void {
      const n = opts.tensorCount?.();
      if (n !== undefined && Number.isFinite(n)) this.set(n);
    },
  });
  const cycle = new Histogram({
    name: `${p}cycle_duration_seconds`,
    help: 'Duration of one service cycle over all targets',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: reg,
  });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });

  const tracker = new LabelTracker();
  const seenActions = new Map<string, Map<string, number>>();
  /** The action counter's label sets per target, to remove them with the target. */
  const actionLabels = new Map<string, Map<string, Labels>>();

  const setOrRemove = (g: Gauge, labels: Labels, v: number | undefined): Labels | undefined => {
    if (v === undefined || !Number.isFinite(v)) return undefined;
    g.set(labels, v);
    return labels;
  };

  function recordForecast(s: TargetSnapshot): void {
    const sets: Labels[] = [];
    const f = s.forecast;
    if (f) {
      const origin = s.forecastAtMs ?? f.startMs;
      QUANTILES.forEach((q, qi) => {
        for (let h = 0; h < f.horizon; h++) {
          const minutes = Math.round((f.startMs + h * f.stepMs - origin) / MINUTE_MS);
          const l = setOrRemove(forecast, { target: s.name, quantile: String(q), horizon_minutes: String(minutes) }, f.values[qi]?.[h]);
          if (l) sets.push(l);
        }
      });
    }
    tracker.sync(s.name, forecast, sets);
  }

  function recordActuators(s: TargetSnapshot): void {
    const sets = { planned: [] as Labels[], plannedQps: [] as Labels[], current: [] as Labels[] };
    for (const a of s.actuators) {
      const l = { target: s.name, actuator: a.id, kind: a.kind };
      const p1 = setOrRemove(planned, l, a.plannedCapacity);
      if (p1) sets.planned.push(p1);
      const p2 = setOrRemove(plannedQps, l, a.plannedQps);
      if (p2) sets.plannedQps.push(p2);
      const c = setOrRemove(current, l, a.currentCapacity);
      if (c) sets.current.push(c);
    }
    tracker.sync(s.name, planned, sets.planned);
    tracker.sync(s.name, plannedQps, sets.plannedQps);
    tracker.sync(s.name, current, sets.current);
  }

  /** Counts actions not in the previous snapshot (the service keeps a sliding list of recent ones). */
  function recordActions(s: TargetSnapshot): void {
    const before = seenActions.get(s.name) ?? new Map<string, number>();
    const nowSeen = multiset(s.actions.map(actionKey));
    const counted = new Map<string, number>();
    for (const a of s.actions) {
      const k = actionKey(a);
      const fresh = (nowSeen.get(k) ?? 0) - (before.get(k) ?? 0);
      const done = counted.get(k) ?? 0;
      if (done < fresh) {
        const labels = { target: s.name, actuator: a.actuator, action: a.action, result: a.result };
        actions.inc(labels);
        let mine = actionLabels.get(s.name);
        if (!mine) actionLabels.set(s.name, (mine = new Map()));
        mine.set(JSON.stringify(labels), labels);
        counted.set(k, done + 1);
      }
    }
    seenActions.set(s.name, nowSeen);
  }

  function recordModel(s: TargetSnapshot): void {
    const sets: Labels[] = [];
    if (s.model) {
      if (Number.isFinite(s.model.trainedAtMs)) trainedAt.set(s.name, s.model.trainedAtMs);
      sets.push({ target: s.name, kind: s.model.kind, backend: s.model.backend });
      modelInfo.set(sets[0], 1);
    } else {
      trainedAt.delete(s.name);
    }
    tracker.sync(s.name, modelInfo, sets);
    tracker.sync(s.name, liveError, [setOrRemove(liveError, { target: s.name }, s.model?.liveMase)].filter((l): l is Labels => !!l));
  }

  function recordLiveError(s: TargetSnapshot): void {
    const e = liveErrorOf(s);
    const t = { target: s.name };
    for (const [g, v] of [
      [liveWape, e?.wape],
      [liveMae, e?.mae],
      [liveCoverage, e?.p90Coverage],
    ] as const) {
      tracker.sync(s.name, g, [setOrRemove(g, t, v)].filter((l): l is Labels => !!l));
    }
  }

  /** The quality gate's verdict: the model's live error beside the seasonal baseline's, over the same steps. */
  function recordGate(s: TargetSnapshot): void {
    const g = s.qualityGate;
    const t = { target: s.name };
    for (const [gauge, v] of [
      [gateModelMae, g?.modelMae],
      [gateBaselineMae, g?.baselineMae],
      [gateSteps, g?.steps],
      [gateActive, g === undefined ? undefined : g.active ? 1 : 0],
    ] as const) {
      tracker.sync(s.name, gauge, [setOrRemove(gauge, t, v)].filter((l): l is Labels => !!l));
    }
  }

  return {
    registry,
    contentType: registry.contentType,
    recordSnapshot(s: TargetSnapshot): void {
      const t = { target: s.name };
      tracker.sync(s.name, observed, [setOrRemove(observed, t, s.observedQps)].filter((l): l is Labels => !!l));
      fallback.set(t, s.fallback.active ? 1 : 0);
      paused.set(t, s.paused ? 1 : 0);
      updated.set(t, s.updatedAtMs / 1000);
      tracker.sync(s.name, forecastAt, [setOrRemove(forecastAt, t, s.forecastAtMs === undefined ? undefined : s.forecastAtMs / 1000)].filter((l): l is Labels => !!l));
      recordForecast(s);
      recordActuators(s);
      recordActions(s);
      recordModel(s);
      recordLiveError(s);
      recordGate(s);
    },
    observeCycle(seconds: number): void {
      if (Number.isFinite(seconds) && seconds >= 0) cycle.observe(seconds);
    },
    forgetTarget(name: string): void {
      tracker.forget(name);
      for (const g of [fallback, paused, updated]) g.remove({ target: name });
      for (const l of actionLabels.get(name)?.values() ?? []) actions.remove(l);
      actionLabels.delete(name);
      seenActions.delete(name);
      trainedAt.delete(name);
    },
    render(): Promise<string> {
      return registry.metrics();
    },
  };
}
