/**
 * Comparing two forecasters on the same windows: the Diebold-Mariano test (Diebold & Mariano 1995) on their
 * per-window losses, with a Newey-West (Bartlett kernel) long-run variance because consecutive windows'
 * errors are correlated. Auto uses it to ask whether the lowest holdout MASE is a real lead over the
 * combination of models or noise (src/forecast/select.ts).
 */

/** One-sided 5 % critical value of the standard normal. */
export const DM_CRITICAL_5 = 1.6449;

export interface DmResult {
  /**
   * The statistic: mean(lossA − lossB) ÷ its standard error. Positive means B's losses are lower. ±Infinity
   * when every difference is the same non-zero number, 0 when they are all 0 or fewer than two windows pair up.
   */
  readonly t: number;
  /** Windows where both losses are finite. */
  readonly n: number;
  /** Autocovariance lags in the variance: ⌊4 (n/100)^(2/9)⌋, the Newey-West (1994) rule of thumb. */
  readonly lag: number;
  /** mean(lossA − lossB). */
  readonly meanDiff: number;
}

/** The Newey-West rule-of-thumb bandwidth for `n` observations. */
export function neweyWestLag(n: number): number {
  return n > 0 ? Math.floor(4 * Math.pow(n / 100, 2 / 9)) : 0;
}

/**
 * Diebold-Mariano statistic of losses `a` against `b` (same windows, same order). Windows where either loss is
 * not finite (no scored point) are left out.
 */
export function dieboldMariano(a: ArrayLike<number>, b: ArrayLike<number>): DmResult {
  if (a.length !== b.length) throw new Error(`dieboldMariano: ${a.length} losses against ${b.length}`);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) && Number.isFinite(b[i])) d.push(a[i] - b[i]);
  const n = d.length;
  const lag = Math.min(neweyWestLag(n), Math.max(0, n - 1));
  if (n < 2) return { t: 0, n, lag, meanDiff: n === 1 ? d[0] : 0 };
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const c = d.map((x) => x - mean);
  const autocov = (k: number): number => {
    let s = 0;
    for (let i = k; i < n; i++) s += c[i] * c[i - k];
    return s / n;
  };
  let variance = autocov(0);
  for (let k = 1; k <= lag; k++) variance += 2 * (1 - k / (lag + 1)) * autocov(k);
  // The Bartlett weights keep the long-run variance non-negative; it is 0 only when every difference is equal.
  const se = Math.sqrt(Math.max(0, variance) / n);
  const t = se > 0 ? mean / se : mean === 0 ? 0 : Math.sign(mean) * Infinity;
  return { t, n, lag, meanDiff: mean };
}
