/**
 * Protocol v2's window-peak scores (docs/benchmark-protocol.md §1b, steps 7–9), on the same rolling origins
 * as protocol v1 (src/forecast/evaluate.ts calls this from scoreForecasts, so `prescale evaluate`, auto's
 * holdout and bench:forecast's peers are all scored by this one function).
 *
 * For each complete test window (origin t, every actual of y[t+1..t+H] present): A = max y[t+1..t+H], the
 * actual peak; F = max over the window's steps of the quantile the planner sizes for (the p90, or the point
 * forecast of a point-only method), the forecast peak.
 * - WPL90 = mean over windows of ρ(A − F) ÷ mean over windows of A, with ρ(u) = 0.9·u for u ≥ 0 (short) and
 *   −0.1·u for u < 0 (idle): the pinball loss of the 0.9 quantile of the coming peak, scaled by the mean peak.
 * - window-peak coverage = share of complete windows with A ≤ F.
 */

/** The quantile level WPL90 scores. */
export const WPL_TAU = 0.9;

/** Pinball loss of a forecast `u` below the truth (u = actual − forecast) at quantile `tau`: tau·u short, (tau − 1)·u idle. */
export function pinball(u: number, tau = WPL_TAU): number {
  return u >= 0 ? tau * u : (tau - 1) * u;
}

export interface WindowPeakScores {
  /** WPL90; NaN when no window is complete or the mean actual peak is not positive. */
  readonly wpl90: number;
  /** Share of complete windows whose actual peak is at or below the forecast peak; NaN when none is complete. */
  readonly windowPeakCoverage: number;
  /** Complete windows: the ones both scores are computed on. */
  readonly peakWindows: number;
}

/** A = max y[t+1..t+h]; undefined when any of them is missing (NaN) or lies past the end of `y`. */
export function actualWindowPeak(y: ArrayLike<number>, t: number, h: number): number | undefined {
  if (t + h >= y.length || t + 1 < 0) return undefined;
  let peak = -Infinity;
  for (let i = t + 1; i <= t + h; i++) {
    const a = y[i];
    if (Number.isNaN(a)) return undefined;
    if (a > peak) peak = a;
  }
  return peak;
}

/** F = the largest value of the sized-for quantile over the window. */
export function forecastWindowPeak(upper: ArrayLike<number>): number {
  let peak = -Infinity;
  for (let h = 0; h < upper.length; h++) if (upper[h] > peak) peak = upper[h];
  return peak;
}

/**
 * Steps 7–9 of protocol v2. `upper[k]` is the sized-for quantile (p90, or the point) of the window after
 * `origins[k]`, one value per step; the window's length is that row's length.
 */
export function scoreWindowPeaks(y: ArrayLike<number>, origins: readonly number[], upper: readonly ArrayLike<number>[]): WindowPeakScores {
  if (upper.length !== origins.length) throw new Error(`scoreWindowPeaks: ${origins.length} origins but ${upper.length} forecasts`);
  let loss = 0;
  let peaks = 0;
  let covered = 0;
  let n = 0;
  origins.forEach((t, k) => {
    const A = actualWindowPeak(y, t, upper[k].length);
    if (A === undefined) return;
    const F = forecastWindowPeak(upper[k]);
    loss += pinball(A - F);
    peaks += A;
    if (A <= F) covered++;
    n++;
  });
  return {
    wpl90: n > 0 && peaks > 0 ? loss / n / (peaks / n) : NaN,
    windowPeakCoverage: n > 0 ? covered / n : NaN,
    peakWindows: n,
  };
}
