/**
 * The log scale Holt-Winters and gbdt model on: z = log1p(rate per minute). Series hold per-second rates; the
 * per-minute rate is what protocol v1's peers transformed, so the numbers compare, and log1p keeps zeros finite.
 */
const PER_MINUTE = 60;

/** z of one per-second rate; a negative value counts as 0. */
export function logOf(x: number): number {
  return Math.log1p(Math.max(0, x) * PER_MINUTE);
}

/** z of every value; a gap (NaN) stays NaN, a negative value counts as 0. */
export function toLog(v: Float64Array): Float64Array {
  return Float64Array.from(v, (x) => (Number.isNaN(x) ? NaN : logOf(x)));
}

/** The per-second rate of a z. */
export function fromLog(z: number): number {
  return Math.expm1(z) / PER_MINUTE;
}
