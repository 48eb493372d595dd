import { DAY_MS, HOUR_MS } from '../util/clock.js';
import { meanOver, type Series } from '../series/series.js';

/** How the model's live forecasts compare with the daily seasonal-naive baseline over a recent window. */
export interface GateVerdict {
  /** True when the model did worse than the baseline: act on the baseline until a retrain. */
  readonly active: boolean;
  /** Matured forecast steps compared. */
  readonly steps: number;
  /** Mean absolute error of the model's p50 and of the baseline (the value a day earlier), in QPS. */
  readonly modelMae: number;
  readonly baselineMae: number;
}

export interface GateOptions {
  /** Window of matured forecasts judged. Default 6 hours. */
  readonly windowMs?: number;
  /** Fewest matured steps before the gate may close on the model. Default 12. */
  readonly minSteps?: number;
  /**
   * Known event windows (with their margins). A step inside one, or a day after one, is not judged: there the
   * day-ago baseline is no baseline (the day before a promo had none, the day after one repeats it), so a
   * model that knows the calendar would lose to it by chance on a weak promo, or win by chance the day after.
   */
  readonly exclude?: readonly { readonly startMs: number; readonly endMs: number }[];
}

/** True when [at, at + step) or the same interval a day earlier overlaps an excluded window. */
function excluded(windows: GateOptions['exclude'], at: number, stepMs: number): boolean {
  if (!windows) return false;
  // Called for every remembered step of every cycle: plain loops, no closures.
  for (const w of windows) {
    if ((w.startMs < at + stepMs && w.endMs > at) || (w.startMs < at - DAY_MS + stepMs && w.endMs > at - DAY_MS)) return true;
  }
  return false;
}

/** Whether the step at `at` has matured inside the window and lies outside every excluded window. */
function judged(at: number, fromMs: number, o: { nowMs: number; stepMs: number } & GateOptions): boolean {
  return at >= fromMs && at + o.stepMs <= o.nowMs && !excluded(o.exclude, at, o.stepMs);
}

/**
 * The forecast quality gate: over the last `windowMs`, compare the p50 the model forecast for each matured
 * step (the first forecast made for it) with what happened, and with what the daily seasonal-naive baseline
 * (the same interval a day earlier) would have said. A model that does worse than that baseline is not
 * trusted until it is retrained.
 */
export function judgeModel(
  past: ReadonlyMap<number, { readonly p50: number }>,
  history: Series,
  o: { nowMs: number; stepMs: number } & GateOptions,
): GateVerdict {
  const from = o.nowMs - (o.windowMs ?? 6 * HOUR_MS);
  let steps = 0;
  let model = 0;
  let base = 0;
  for (const [at, f] of past) {
    if (!judged(at, from, o)) continue;
    const actual = meanOver(history, at, at + o.stepMs);
    const dayAgo = meanOver(history, at - DAY_MS, at - DAY_MS + o.stepMs);
    if (!Number.isFinite(actual) || !Number.isFinite(dayAgo) || !Number.isFinite(f.p50)) continue;
    steps++;
    model += Math.abs(actual - f.p50);
    base += Math.abs(actual - dayAgo);
  }
  const modelMae = steps > 0 ? model / steps : NaN;
  const baselineMae = steps > 0 ? base / steps : NaN;
  return { active: steps >= (o.minSteps ?? 12) && modelMae > baselineMae, steps, modelMae, baselineMae };
}
