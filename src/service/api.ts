import { QUANTILES, type QuantileForecast } from '../forecast/forecaster.js';
import type { Series } from '../series/series.js';
import { liveErrorOf } from '../obs/live-error.js';
import { DAY_MS } from '../util/clock.js';
import type { ActuatorSnapshot, ModelInfo, TargetSnapshot } from './state.js';

/**
 * The JSON shape of the dashboard API. Compact on purpose (a day of minutes is 1440 points per line): time
 * series are arrays of `[ms, value]`, and a number that is not finite (a gap, an unknown) is `null`, because
 * JSON has no NaN and `JSON.stringify(NaN)` would silently give `null` anyway, but only inside arrays.
 */
export type Num = number | null;
export type Point = [number, Num];

export interface ApiForecast {
  readonly startMs: number;
  readonly stepMs: number;
  readonly horizon: number;
  readonly probabilistic: boolean;
  /** Keyed `p50`, `p90`, `p99`: one `[ms, QPS]` per step. */
  readonly quantiles: Record<string, Point[]>;
}

export interface ApiActuator {
  readonly id: string;
  readonly kind: ActuatorSnapshot['kind'];
  readonly namespace: string | null;
  readonly name: string | null;
  readonly plannedQps: Num;
  readonly plannedCapacity: Num;
  readonly currentCapacity: Num;
  /** `[ms, capacity, QPS sized for, reason]` per planned step. */
  readonly schedule: [number, Num, Num, string][];
}

export interface ApiAction {
  readonly atMs: number;
  readonly actuator: string;
  readonly action: string;
  readonly result: string;
  readonly detail: string;
  readonly data: Record<string, unknown> | null;
}

export interface ApiModel {
  readonly kind: string;
  readonly trainedAtMs: Num;
  readonly backend: string;
  readonly scores: Record<string, Record<string, Num>>;
  readonly liveMase: Num;
  /** auto's band check of the p90 on its holdout; null when the model had none. */
  readonly band: { readonly exponent: number; readonly holdoutUfrBefore: Num; readonly holdoutUfrAfter: Num } | null;
}

export interface ApiTarget {
  readonly name: string;
  readonly updatedAtMs: number;
  readonly forecastAtMs: Num;
  readonly observedQps: Num;
  readonly paused: boolean;
  readonly fallback: { readonly active: boolean; readonly reason: string | null };
  /** Observed QPS over the chart window. */
  readonly history: Point[];
  readonly historyStepMs: number;
  /** `[ms, p50, p90]`: what earlier forecasts said about each step. */
  readonly pastForecasts: [number, Num, Num][];
  readonly forecast: ApiForecast | null;
  readonly actuators: ApiActuator[];
  readonly model: ApiModel | null;
  /** Past forecasts (p50, p90) against the actuals over the chart window; null before enough have matured. */
  readonly liveError: { readonly steps: number; readonly mae: Num; readonly wape: Num; readonly p90Coverage: Num } | null;
  /** The promo calendar's uplift in the forecast (event, tag, its times, largest p50/p90 ratios applied); null when none. */
  readonly calendarUplift: { readonly event: string; readonly tag: string; readonly startMs: number; readonly endMs: number; readonly peakP50: Num; readonly peakP90: Num } | null;
  /** Newest first. */
  readonly actions: ApiAction[];
}

/** One row of `/api/targets`. */
export interface ApiTargetSummary {
  readonly name: string;
  readonly updatedAtMs: number;
  readonly observedQps: Num;
  readonly fallback: boolean;
  readonly paused: boolean;
  readonly model: string | null;
  readonly actuators: { readonly id: string; readonly plannedCapacity: Num; readonly currentCapacity: Num }[];
}

export interface ApiOptions {
  /** How far back history and past forecasts reach, counted from the snapshot's update time. */
  readonly windowMs?: number;
}

export function num(v: number | undefined | null): Num {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function seriesPoints(s: Series, fromMs: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < s.values.length; i++) {
    const t = s.startMs + i * s.stepMs;
    if (t >= fromMs) out.push([t, num(s.values[i])]);
  }
  return out;
}

function forecastOf(f: QuantileForecast): ApiForecast {
  const quantiles: Record<string, Point[]> = {};
  QUANTILES.forEach((q, qi) => {
    const row = f.values[qi];
    const pts: Point[] = [];
    for (let h = 0; h < f.horizon; h++) pts.push([f.startMs + h * f.stepMs, num(row?.[h])]);
    quantiles[`p${Math.round(q * 100)}`] = pts;
  });
  return { startMs: f.startMs, stepMs: f.stepMs, horizon: f.horizon, probabilistic: f.probabilistic, quantiles };
}

function actuatorOf(a: ActuatorSnapshot): ApiActuator {
  return {
    id: a.id,
    kind: a.kind,
    namespace: a.namespace ?? null,
    name: a.name ?? null,
    plannedQps: num(a.plannedQps),
    plannedCapacity: num(a.plannedCapacity),
    currentCapacity: num(a.currentCapacity),
    schedule: a.schedule.map((p) => [p.atMs, num(p.capacity), num(p.qps), p.reason]),
  };
}

function modelOf(m: ModelInfo): ApiModel {
  const scores: Record<string, Record<string, Num>> = {};
  for (const [method, byMetric] of Object.entries(m.scores)) {
    scores[method] = Object.fromEntries(Object.entries(byMetric).map(([k, v]) => [k, num(v)]));
  }
  const band = m.band ? { exponent: m.band.exponent, holdoutUfrBefore: num(m.band.holdoutUfrBefore), holdoutUfrAfter: num(m.band.holdoutUfrAfter) } : null;
  return { kind: m.kind, trainedAtMs: num(m.trainedAtMs), backend: m.backend, scores, liveMase: num(m.liveMase), band };
}

function liveErrorFor(s: TargetSnapshot): ApiTarget['liveError'] {
  const e = liveErrorOf(s);
  return e ? { steps: e.steps, mae: num(e.mae), wape: num(e.wape), p90Coverage: num(e.p90Coverage) } : null;
}

/** A snapshot as the dashboard reads it: no NaN anywhere, history trimmed to the chart window. */
export function toApiTarget(s: TargetSnapshot, o: ApiOptions = {}): ApiTarget {
  const fromMs = s.updatedAtMs - (o.windowMs ?? DAY_MS);
  return {
    name: s.name,
    updatedAtMs: s.updatedAtMs,
    forecastAtMs: num(s.forecastAtMs),
    observedQps: num(s.observedQps),
    paused: s.paused ?? false,
    fallback: { active: s.fallback.active, reason: s.fallback.reason ?? null },
    history: seriesPoints(s.history, fromMs),
    historyStepMs: s.history.stepMs,
    pastForecasts: s.pastForecasts
      .filter((p) => p.atMs >= fromMs)
      .map((p): [number, Num, Num] => [p.atMs, num(p.p50), num(p.p90)])
      .sort((a, b) => a[0] - b[0]),
    forecast: s.forecast ? forecastOf(s.forecast) : null,
    actuators: s.actuators.map(actuatorOf),
    model: s.model ? modelOf(s.model) : null,
    liveError: liveErrorFor(s),
    calendarUplift: s.calendarUplift ? { ...s.calendarUplift, peakP50: num(s.calendarUplift.peakP50), peakP90: num(s.calendarUplift.peakP90) } : null,
    actions: [...s.actions]
      .sort((a, b) => b.atMs - a.atMs)
      .map((a) => ({ atMs: a.atMs, actuator: a.actuator, action: a.action, result: a.result, detail: a.detail, data: a.data ?? null })),
  };
}

export function toApiSummary(s: TargetSnapshot): ApiTargetSummary {
  return {
    name: s.name,
    updatedAtMs: s.updatedAtMs,
    observedQps: num(s.observedQps),
    fallback: s.fallback.active,
    paused: s.paused ?? false,
    model: s.model?.kind ?? null,
    actuators: s.actuators.map((a) => ({ id: a.id, plannedCapacity: num(a.plannedCapacity), currentCapacity: num(a.currentCapacity) })),
  };
}
