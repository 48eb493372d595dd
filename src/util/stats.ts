/**
 * Linear-interpolated empirical quantile (R's type 7, numpy's default) of an ascending array; `whenEmpty`
 * for an empty one.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number, whenEmpty = NaN): number {
  if (sorted.length === 0) return whenEmpty;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
