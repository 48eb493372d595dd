/**
 * Kubernetes quantities (k8s.io/apimachinery `resource.Quantity`), the string type of every value the external
 * metrics API returns.
 *
 * Formatting emits the canonical decimal-SI form the apiserver itself prints: the number rounded to milli
 * units, then the largest suffix that keeps the mantissa whole (1.5 → "1500m", 2 → "2", 1500 → "1500",
 * 2000 → "2k"). NaN, ±Infinity and negative numbers become "0", as KEDA does: the HPA must never see them.
 */

const DECIMAL_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'] as const;

/** The grammar `format` emits: an unsigned integer, then `m` or a decimal-SI multiplier suffix or nothing. */
export const FORMATTED_QUANTITY = /^(0|[1-9][0-9]*)(m|k|M|G|T|P|E)?$/;

/** Formats a non-negative number as a canonical decimal-SI quantity with milli precision. */
export function formatQuantity(x: number): string {
  if (!Number.isFinite(x) || x <= 0) return '0';
  const milli = Math.round(x * 1000);
  if (milli === 0) return '0';
  if (Number.isSafeInteger(milli)) {
    if (milli % 1000 !== 0) return `${milli}m`;
    return withSuffix(BigInt(milli / 1000));
  }
  // Beyond 2^53 milli-units the fraction is below double precision anyway: format the whole number.
  return withSuffix(BigInt(Math.round(x)));
}

function withSuffix(whole: bigint): string {
  let v = whole;
  let i = 0;
  while (i < DECIMAL_SUFFIXES.length - 1 && v % 1000n === 0n && v !== 0n) {
    v /= 1000n;
    i++;
  }
  return `${v}${DECIMAL_SUFFIXES[i]}`;
}

const PARSE_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** `<signedNumber><suffix>` where suffix is binary SI, decimal SI or a decimal exponent (resource.Quantity grammar). */
const QUANTITY = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;

/**
 * Parses any Kubernetes quantity string ("1500m", "2k", "1.5Gi", "12e3") into a number; throws a RangeError
 * naming the string when it does not follow the quantity grammar.
 */
export function parseQuantity(s: string): number {
  const m = QUANTITY.exec(s);
  if (!m) throw new RangeError(`not a Kubernetes quantity: ${JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s)}`);
  const [, sign, num, suffix, exp] = m;
  const mult = exp !== undefined ? 10 ** Number(exp) : PARSE_SUFFIX[suffix ?? ''];
  const v = Number(num) * mult;
  return sign === '-' ? -v : v;
}
