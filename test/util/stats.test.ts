import { describe, expect, it } from '@jest/globals';
import { quantileSorted } from '../../src/util/stats.js';

describe('quantileSorted', () => {
  it('interpolates linearly between order statistics (numpy default)', () => {
    const v = [1, 2, 4, 8];
    expect(quantileSorted(v, 0)).toBe(1);
    expect(quantileSorted(v, 1)).toBe(8);
    expect(quantileSorted(v, 0.5)).toBe(3); // between 2 and 4
    expect(quantileSorted(Float64Array.from(v), 0.9)).toBeCloseTo(6.8, 12); // 4 + 0.7 × 4
  });

  it('returns whenEmpty for an empty array', () => {
    expect(quantileSorted([], 0.5)).toBeNaN();
    expect(quantileSorted(new Float64Array(0), 0.9, 0)).toBe(0);
  });
});
