import { describe, expect, it } from '@jest/globals';
import { DM_CRITICAL_5, dieboldMariano, neweyWestLag } from '../../src/forecast/compare.js';

/** A fixed pseudo-random sequence in [−1, 1) (a linear congruential generator), so the tests are repeatable. */
function noise(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (2 * s) / 2147483648 - 1;
  });
}

describe('dieboldMariano', () => {
  it('uses the Newey-West rule-of-thumb lag', () => {
    expect(neweyWestLag(100)).toBe(4);
    expect(neweyWestLag(464)).toBe(5);
    expect(neweyWestLag(0)).toBe(0);
  });

  it('matches the statistic worked by hand on a short series (lag 2: Bartlett weights 2/3 and 1/3)', () => {
    // d = a − b = [1, 0, 2, 1, 1]: mean 1, centred [0, −1, 1, 0, 0]; γ0 = 2/5, γ1 = −1/5, γ2 = 0/5.
    // n = 5 → lag ⌊4 · 0.05^(2/9)⌋ = ⌊2.04⌋ = 2. Long-run variance 0.4 + 2·(2/3)·(−0.2) + 0 = 0.1333…
    const a = [3, 2, 4, 3, 3];
    const b = [2, 2, 2, 2, 2];
    const r = dieboldMariano(a, b);
    expect(r.lag).toBe(2);
    expect(r.n).toBe(5);
    expect(r.meanDiff).toBeCloseTo(1, 12);
    expect(r.t).toBeCloseTo(1 / Math.sqrt((0.4 - (4 / 3) * 0.2) / 5), 10);
  });

  it('is positive when B has the lower losses, antisymmetric, and unchanged by scaling both', () => {
    const e = noise(300, 7);
    const a = e.map((x) => 1.2 + x);
    const b = e.map((x, i) => 1 + x + 0.3 * Math.sin(i));
    const r = dieboldMariano(a, b);
    expect(r.t).toBeGreaterThan(DM_CRITICAL_5);
    expect(dieboldMariano(b, a).t).toBeCloseTo(-r.t, 10);
    expect(dieboldMariano(a.map((x) => 10 * x), b.map((x) => 10 * x)).t).toBeCloseTo(r.t, 10);
  });

  it('finds no significant difference between two noisy losses with the same mean', () => {
    const a = noise(400, 1).map((x) => 2 + x);
    const b = noise(400, 2).map((x) => 2 + x);
    expect(Math.abs(dieboldMariano(a, b).t)).toBeLessThan(DM_CRITICAL_5);
  });

  it('leaves out windows with a missing loss, and says so in n', () => {
    const r = dieboldMariano([1, NaN, 3, 2, 5], [0, 1, NaN, 1, 1]);
    expect(r.n).toBe(3);
    expect(r.meanDiff).toBeCloseTo((1 + 1 + 4) / 3, 12);
  });

  it('is 0 for identical losses or under two windows, and infinite for a constant non-zero difference', () => {
    expect(dieboldMariano([1, 2, 3], [1, 2, 3]).t).toBe(0);
    expect(dieboldMariano([1], [0]).t).toBe(0);
    expect(dieboldMariano([], []).t).toBe(0);
    expect(dieboldMariano([3, 4, 5, 6], [1, 2, 3, 4]).t).toBe(Infinity);
    expect(dieboldMariano([1, 2, 3, 4], [3, 4, 5, 6]).t).toBe(-Infinity);
  });

  it('refuses losses of different lengths', () => {
    expect(() => dieboldMariano([1, 2], [1])).toThrow(/2 losses against 1/);
  });
});
