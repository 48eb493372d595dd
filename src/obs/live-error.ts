import { meanOver } from '../series/series.js';
import type { TargetSnapshot } from '../service/state.js';

/** Fewest matured forecast steps before an error is reported; fewer would be noise. */
export const MIN_MATURED_STEPS = 10;

/**
 * How the live forecasts for the chart window compared with what happened. A step counts once its
 * interval has passed and history has at least one value in it. Each step uses the first forecast made
 * for it, which was made furthest ahead.
 */
export interface LiveError {
  /** Matured steps compared. */
  readonly steps: number;
  readonly fromMs: number;
  readonly toMs: number;
  /** Mean absolute error of p50, in QPS. */
  readonly mae: number;
  /** Sum of absolute errors over the sum of actuals (weighted absolute percentage error), as a fraction. */
  readonly wape: number;
  /** Share of steps whose actual was at or below the forecast p90; about 0.9 when the p90 is calibrated. */
  readonly p90Coverage: number;
}

/** The forecast step: the smallest gap between past forecasts, else the history step. */
function stepOf(s: TargetSnapshot): number {
  let step = Infinity;
  const p = s.pastForecasts;
  for (let i = 1; i < p.length; i++) {
    const d = p[i].atMs - p[i - 1].atMs;
    if (d > 0 && d < step) step = d;
  }
  return Number.isFinite(step) ? Math.max(step, s.history.stepMs) : s.history.stepMs;
}

/** Live forecast error from a snapshot's past forecasts and history, or undefined before enough have matured. */
export function liveErrorOf(s: TargetSnapshot): LiveError | undefined {
  const step = stepOf(s);
  let steps = 0;
  let absSum = 0;
  let actualSum = 0;
  let covered = 0;
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const p of s.pastForecasts) {
    if (p.atMs + step > s.updatedAtMs || !Number.isFinite(p.p50)) continue;
    const actual = meanOver(s.history, p.atMs, p.atMs + step);
    if (!Number.isFinite(actual)) continue;
    steps++;
    absSum += Math.abs(actual - p.p50);
    actualSum += Math.abs(actual);
    if (actual <= p.p90) covered++;
    fromMs = Math.min(fromMs, p.atMs);
    toMs = Math.max(toMs, p.atMs + step);
  }
  if (steps < MIN_MATURED_STEPS) return undefined;
  return { steps, fromMs, toMs, mae: absSum / steps, wape: actualSum > 0 ? absSum / actualSum : NaN, p90Coverage: covered / steps };
}
