import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FORMATTED_QUANTITY, formatQuantity, parseQuantity } from '../../src/metrics-api/quantity.js';

describe('formatQuantity', () => {
  it.each([
    [1.5, '1500m'],
    [0, '0'],
    [2, '2'],
    [1500, '1500'],
    [2000, '2k'],
    [1_500_000, '1500k'],
    [3e9, '3G'],
    [0.001, '1m'],
    [0.0004, '0'],
    [0.0006, '1m'],
    [1234.5, '1234500m'],
    [80, '80'],
    [Number.NaN, '0'],
    [Infinity, '0'],
    [-Infinity, '0'],
    [-5, '0'],
    [-0, '0'],
  ])('%p → %s', (x, q) => {
    expect(formatQuantity(x)).toBe(q);
  });

  it('keeps milli precision and the canonical grammar for any double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: false }), (x) => {
        const q = formatQuantity(x);
        expect(q).toMatch(FORMATTED_QUANTITY);
        const back = parseQuantity(q);
        expect(back).toBeGreaterThanOrEqual(0);
        if (!Number.isFinite(x) || x <= 0) expect(back).toBe(0);
        // Half a milli-unit of rounding, plus double precision for huge values.
        else expect(Math.abs(back - x)).toBeLessThanOrEqual(0.0005 + Math.abs(x) * 1e-12);
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaves a mantissa that a larger suffix could shorten', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 52 }), (n) => {
        const q = formatQuantity(n);
        const mantissa = /^(\d+)/.exec(q)?.[1] ?? '';
        if (!q.endsWith('E')) expect(mantissa.endsWith('000')).toBe(false);
      }),
    );
  });
});

describe('parseQuantity', () => {
  it.each([
    ['1500m', 1.5],
    ['2k', 2000],
    ['1Ki', 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['12e3', 12000],
    ['12E-3', 0.012],
    ['-3', -3],
    ['+.5', 0.5],
    ['100u', 0.0001],
    ['7n', 7e-9],
  ])('%s → %p', (s, v) => {
    expect(parseQuantity(s)).toBeCloseTo(v, 12);
  });

  it.each(['', 'm', '1.5.5', '1 k', '1KB', 'NaN', 'Infinity', '0x10', '1e', '--1', '1mi'])('rejects %p', (s) => {
    expect(() => parseQuantity(s)).toThrow(/not a Kubernetes quantity/);
  });
});
