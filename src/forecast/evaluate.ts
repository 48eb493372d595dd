import { fillGaps, resampleMean, sliceSeries, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { quantileRow, unwrap, type Forecaster, type QuantileForecast } from './forecaster.js';
import { createForecaster, type MethodName } from './registry.js';
import { scoreWindowPeaks } from './window-peak.js';

/**
 * Protocol v1 of docs/benchmark-protocol.md as library code: prepare (resample, split), then score a forecaster
 * from rolling origins. The scoring functions are shared with model selection (src/forecast/select.ts), so
 * "best on the holdout" and "best in the benchmark" mean the same thing.
 */

export const PROTOCOL_RESOLUTION_MS = 5 * MINUTE_MS;
export const PROTOCOL_HORIZON_MS = 30 * MINUTE_MS;
export const PROTOCOL_TRAIN_SHARE = 0.7;

/** A trace made ready for protocol v1. */
export interface ProtocolData {
  /** The resampled trace with gaps as NaN: the truth that is scored. */
  readonly actual: Series;
  /** Points [0, trainEnd) train; [trainEnd, n) test. */
  readonly trainEnd: number;
  /** H: steps per forecast window. */
  readonly horizon: number;
  /** m: steps per day. */
  readonly season: number;
  /** MASE denominator: mean |y[t] − y[t−m]| over present pairs of the training part. */
  readonly maseScale: number;
}

export interface PrepareOptions {
  /** Default 5 minutes; the resolution is max(native step, this). */
  readonly minResolutionMs?: number;
  readonly trainShare?: number;
}

/**
 * Mean |y[t] − y[t−m]| over t in [m, end) where both are present. Throws when it is 0 (a flat or all-zero
 * series), since MASE is then undefined, or when no pair is present.
 */
export function seasonalScale(values: Float64Array, end: number, m: number): number {
  let sum = 0;
  let n = 0;
  for (let t = m; t < end; t++) {
    const d = values[t] - values[t - m];
    if (!Number.isNaN(d)) {
      sum += Math.abs(d);
      n++;
    }
  }
  if (n === 0) throw new InputError(`MASE needs at least one pair of present points a season (${m} steps) apart in the training part; there is none`);
  if (sum === 0) throw new InputError('the training part does not change from one day to the next (e.g. all zero): MASE is undefined, nothing to forecast');
  return sum / n;
}

/** Steps 1–4 of protocol v1: resolution, horizon, season, split, and the MASE denominator. */
export function prepareProtocol(series: Series, o: PrepareOptions = {}): ProtocolData {
  const minRes = o.minResolutionMs ?? PROTOCOL_RESOLUTION_MS;
  const r = Math.max(series.stepMs, minRes);
  if (r % series.stepMs !== 0) {
    throw new InputError(`the trace's step of ${series.stepMs / 1000} s does not divide the ${minRes / MINUTE_MS}-min resolution of protocol v1`);
  }
  if (DAY_MS % r !== 0) throw new InputError(`a resolution of ${r / MINUTE_MS} min does not divide a day`);
  const actual = resampleMean(series, r);
  const season = DAY_MS / r;
  // H = 30 min / r; a resolution coarser than 30 min forecasts one step.
  const horizon = Math.max(1, Math.floor(PROTOCOL_HORIZON_MS / r));
  const n = actual.values.length;
  const trainEnd = Math.floor(n * (o.trainShare ?? PROTOCOL_TRAIN_SHARE));
  if (trainEnd <= season) {
    throw new InputError(`protocol v1 needs more than one day (${season} points at ${r / MINUTE_MS} min) in the training part (70 %), ${trainEnd} given`);
  }
  if (n - trainEnd < horizon) throw new InputError(`the test part (30 %) holds ${n - trainEnd} points, fewer than one ${horizon}-step window`);
  return { actual, trainEnd, horizon, season, maseScale: seasonalScale(actual.values, trainEnd, season) };
}

/**
 * Model input for an origin at index `t`: y[0..t] with gaps filled by linear interpolation between present
 * points at or before `t`, and held flat after the last present one — never using anything after `t`.
 * `filled` is fillGaps of the whole series (identical to this except after the last present point ≤ t).
 */
export function causalContext(actual: Series, filled: Series, t: number): Series {
  const ctx = sliceSeries(filled, 0, t + 1);
  let last = t;
  while (last >= 0 && Number.isNaN(actual.values[last])) last--;
  if (last >= 0 && last < t) ctx.values.fill(actual.values[last], last + 1);
  return ctx;
}

/** Scores of one method under protocol v1 (probabilistic methods are judged on their p90 for UFR and peaks). */
export interface MethodScores {
  readonly mase: number;
  /** Share of complete windows whose forecast peak is below 0.9 × the actual peak; NaN when none. */
  readonly ufr: number;
  /** Mean forecast peak ÷ actual peak over complete windows with a positive actual peak; NaN when none. */
  readonly peakRatio: number;
  /** Share of scored points at or below the p90 forecast; null for point forecasts. */
  readonly coverageP90: number | null;
  readonly windows: number;
  /** Windows with every actual present: the ones UFR and peak ratio are computed on. */
  readonly completeWindows: number;
  readonly scoredPoints: number;
  /**
   * Protocol v2 (src/forecast/window-peak.ts), on the same windows: WPL90 of the forecast peak (the p90, the point
   * for point forecasts), NaN when no window is complete. Always set by scoreForecasts.
   */
  readonly wpl90?: number;
  /** Protocol v2: share of complete windows whose actual peak is at or below the forecast peak. Set by scoreForecasts. */
  readonly windowPeakCoverage?: number;
}

export interface ScoreOptions {
  /** First forecast origin is `from − 1` (the last training point); default `trainEnd`. */
  readonly from?: number;
  /** Windows must end before this index; default the series length. */
  readonly to?: number;
  /** Called after each origin with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Called after each window with its mean absolute p50 error over the scored points (NaN when none is
   * present): the per-window losses auto compares candidates on (src/forecast/compare.ts).
   */
  readonly onWindow?: (meanAbsError: number) => void;
}

/** Forecast origins t = from−1, from−1+H, … while the window t+1..t+H lies before `to`. */
export function originsOf(from: number, to: number, horizon: number): number[] {
  const out: number[] = [];
  for (let t = from - 1; t + horizon <= to - 1; t += horizon) out.push(t);
  return out;
}

interface Accumulator {
  absErr: number;
  scored: number;
  covered: number;
  windows: number;
  complete: number;
  under: number;
  ratioSum: number;
  ratioCount: number;
}

/** Adds one window to `acc`; returns its mean absolute p50 error (NaN when no point is present). */
function scoreWindow(acc: Accumulator, y: Float64Array, w: { t: number; p50: Float64Array; upper: Float64Array; p90: Float64Array }): number {
  let complete = true;
  let absErr = 0;
  let scored = 0;
  let actualPeak = -Infinity;
  let forecastPeak = -Infinity;
  for (let h = 0; h < w.p50.length; h++) {
    const a = y[w.t + 1 + h];
    forecastPeak = Math.max(forecastPeak, w.upper[h]);
    if (Number.isNaN(a)) {
      complete = false;
      continue;
    }
    actualPeak = Math.max(actualPeak, a);
    absErr += Math.abs(a - w.p50[h]);
    scored++;
    if (a <= w.p90[h]) acc.covered++;
  }
  acc.absErr += absErr;
  acc.scored += scored;
  acc.windows++;
  if (complete) {
    acc.complete++;
    if (forecastPeak < 0.9 * actualPeak) acc.under++;
    if (actualPeak > 0) {
      acc.ratioSum += forecastPeak / actualPeak;
      acc.ratioCount++;
    }
  }
  return scored > 0 ? absErr / scored : NaN;
}

/** What a forecaster said at each rolling origin. */
export interface OriginForecasts {
  /** Origin indices t; `forecasts[k]` forecasts y[t+1..t+H] from y[0..t]. */
  readonly origins: readonly number[];
  readonly forecasts: readonly QuantileForecast[];
  /** Whether the forecaster is probabilistic, for a run without any origin. */
  readonly probabilistic: boolean;
}

/**
 * Step 5 of protocol v1: rolling origins every H steps from the end of training; at origin t the model sees
 * the causal context y[0..t] through `predict(H, context)` (never a refit) and forecasts y[t+1..t+H].
 */
export function forecastOrigins(f: Forecaster, d: ProtocolData, o: Pick<ScoreOptions, 'from' | 'to' | 'onProgress'> = {}): OriginForecasts {
  const filled = fillGaps(d.actual);
  const origins = originsOf(o.from ?? d.trainEnd, o.to ?? d.actual.values.length, d.horizon);
  const forecasts = origins.map((t, k) => {
    const fc = f.predict(d.horizon, causalContext(d.actual, filled, t));
    o.onProgress?.(k + 1, origins.length);
    return fc;
  });
  return { origins, forecasts, probabilistic: f.probabilistic };
}

/**
 * Step 6 of protocol v1 on forecasts already made: MASE on the p50; UFR and peak ratio on the p90 of
 * probabilistic forecasts, the point otherwise.
 */
export function scoreForecasts(d: ProtocolData, r: OriginForecasts, o: Pick<ScoreOptions, 'onWindow'> = {}): MethodScores {
  const y = d.actual.values;
  const acc: Accumulator = { absErr: 0, scored: 0, covered: 0, windows: 0, complete: 0, under: 0, ratioSum: 0, ratioCount: 0 };
  let probabilistic = r.probabilistic;
  const uppers: Float64Array[] = [];
  r.forecasts.forEach((fc, k) => {
    probabilistic = fc.probabilistic;
    const p50 = quantileRow(fc, 0.5);
    const p90 = quantileRow(fc, 0.9);
    const upper = probabilistic ? p90 : p50;
    uppers.push(upper);
    // Scored first: an optional call skips evaluating its argument when there is no callback.
    const loss = scoreWindow(acc, y, { t: r.origins[k], p50, p90, upper });
    o.onWindow?.(loss);
  });
  const peaks = scoreWindowPeaks(y, r.origins, uppers);
  return {
    mase: acc.scored > 0 ? acc.absErr / acc.scored / d.maseScale : NaN,
    ufr: acc.complete > 0 ? acc.under / acc.complete : NaN,
    peakRatio: acc.ratioCount > 0 ? acc.ratioSum / acc.ratioCount : NaN,
    coverageP90: probabilistic ? (acc.scored > 0 ? acc.covered / acc.scored : NaN) : null,
    windows: acc.windows,
    completeWindows: acc.complete,
    scoredPoints: acc.scored,
    wpl90: peaks.wpl90,
    windowPeakCoverage: peaks.windowPeakCoverage,
  };
}

/** Steps 5–6 of protocol v1: `forecastOrigins`, then `scoreForecasts`. */
export function scoreRollingOrigins(f: Forecaster, d: ProtocolData, o: ScoreOptions = {}): MethodScores {
  return scoreForecasts(d, forecastOrigins(f, d, o), o);
}

export interface MethodResult extends MethodScores {
  readonly fitSeconds: number;
  /** For `auto`: the method it picked. */
  readonly chosen?: string;
  /** For `auto`: the exponent its holdout set on the upper band (1 = the model's own; src/forecast/band.ts). */
  readonly bandExponent?: number;
}

export interface EvaluationReport {
  readonly resolutionMinutes: number;
  readonly horizonSteps: number;
  /** Points after resampling, gaps included. */
  readonly points: number;
  readonly trainPoints: number;
  readonly methods: Partial<Record<MethodName, MethodResult>>;
}

export interface EvaluateOptions extends PrepareOptions {
  readonly methods: readonly MethodName[];
  /** Builds a method; default the registry's `createForecaster`. */
  readonly create?: (name: MethodName, stepMs: number) => Forecaster;
  readonly onMethodStart?: (name: MethodName) => void;
  readonly onMethodDone?: (name: MethodName, r: MethodResult) => void;
  readonly onProgress?: (name: MethodName, done: number, total: number) => void;
  /** Time source for fitSeconds; default performance.now. */
  readonly nowMs?: () => number;
}

/** What `auto` picked and how it set the band (`Forecaster.wraps`); nothing for a method that picks nothing. */
function choiceOf(f: Forecaster): Pick<MethodResult, 'chosen' | 'bandExponent'> {
  const { chosen, band } = unwrap(f);
  return { ...(chosen !== undefined ? { chosen } : {}), ...(band !== undefined ? { bandExponent: band.exponent } : {}) };
}

/** Fits on the causally filled training part and scores one method. */
export async function evaluateMethod(f: Forecaster, d: ProtocolData, o: { nowMs?: () => number; onProgress?: (done: number, total: number) => void } = {}): Promise<MethodResult> {
  const now = o.nowMs ?? (() => performance.now());
  const train = fillGaps(sliceSeries(d.actual, 0, d.trainEnd));
  const t0 = now();
  await f.fit(train);
  const fitSeconds = (now() - t0) / 1000;
  const scores = scoreRollingOrigins(f, d, { onProgress: o.onProgress });
  return { ...scores, fitSeconds, ...choiceOf(f) };
}

/** Protocol v1 for several methods on one trace (a series of requests per second at its native step). */
export async function evaluateSeries(series: Series, o: EvaluateOptions): Promise<EvaluationReport> {
  const d = prepareProtocol(series, o);
  const stepMs = d.actual.stepMs;
  const create = o.create ?? ((name: MethodName, s: number): Forecaster => createForecaster(name, { stepMs: s, horizon: d.horizon }));
  const methods: Partial<Record<MethodName, MethodResult>> = {};
  for (const name of o.methods) {
    o.onMethodStart?.(name);
    const r = await evaluateMethod(create(name, stepMs), d, { nowMs: o.nowMs, onProgress: (a, b) => o.onProgress?.(name, a, b) });
    methods[name] = r;
    o.onMethodDone?.(name, r);
  }
  return { resolutionMinutes: stepMs / MINUTE_MS, horizonSteps: d.horizon, points: d.actual.values.length, trainPoints: d.trainEnd, methods };
}
