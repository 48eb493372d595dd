import { describe, expect, it } from '@jest/globals';
import { boost, predictRow, type Matrix } from '../../src/forecast/gbdt.js';
import { mulberry32 } from '../../src/util/prng.js';

/** `rows` rows of `features` uniform inputs and the targets `fn(x)` plus noise of standard deviation `noise`. */
function dataset(rows: number, features: number, fn: (x: Float64Array) => number, noise: number, seed = 1): { x: Matrix; y: Float64Array } {
  const r = mulberry32(seed);
  const data = Float64Array.from({ length: rows * features }, () => r());
  const y = Float64Array.from({ length: rows }, (_, i) => fn(data.subarray(i * features, (i + 1) * features)) + noise * (r() - 0.5) * Math.sqrt(12));
  return { x: { rows, features, data }, y };
}

function variance(y: ArrayLike<number>): number {
  const a = Array.from(y);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
}

// A step, an interaction and an irrelevant input: what a linear model cannot fit and trees can.
const target = (x: Float64Array): number => (x[0] > 0.5 ? 2 : 0) + 3 * x[1] * x[2];

describe('boost (gradient-boosted trees)', () => {
  it('learns a step and an interaction: validation error near the noise floor', () => {
    const { x, y } = dataset(4000, 4, target, 0.1);
    const res = boost(x, y, 800);
    // Noise variance is 0.01; the target's variance is about 1.3.
    expect(res.validLoss).toBeLessThan(0.03);
    expect(variance(y)).toBeGreaterThan(1);
    expect(res.model.trees.length).toBeGreaterThan(20);
  });

  it('predictRow gives the validation predictions it reports, and the splits use only the inputs that matter', () => {
    const { x, y } = dataset(3000, 4, target, 0.1, 2);
    const res = boost(x, y, 500, { rounds: 60 });
    for (let v = 0; v < 500; v += 37) {
      expect(predictRow(res.model, x.data, (2500 + v) * 4)).toBeCloseTo(res.validPredictions[v], 10);
    }
    const used = new Set(res.model.trees.flatMap((t) => t.feature.filter((f) => f >= 0)));
    expect(used.has(0) && used.has(1) && used.has(2)).toBe(true);
    const splitsOnNoise = res.model.trees.flatMap((t) => t.feature).filter((f) => f === 3).length;
    const splits = res.model.trees.flatMap((t) => t.feature).filter((f) => f >= 0).length;
    expect(splitsOnNoise / splits).toBeLessThan(0.2);
  });

  it('stops early on pure noise and keeps the best round only', () => {
    const { x, y } = dataset(3000, 3, () => 0, 1, 3);
    const res = boost(x, y, 600, { rounds: 400, patience: 10 });
    expect(res.model.trees.length).toBeLessThan(40);
    expect(res.validLoss).toBeGreaterThan(0.9);
    expect(res.validLoss).toBeLessThan(1.1);
  });

  it('is deterministic and respects the leaf and size limits', () => {
    const { x, y } = dataset(2000, 3, target, 0.2, 4);
    const a = boost(x, y, 400, { rounds: 30, maxLeaves: 8, minLeaf: 50 });
    const b = boost(x, y, 400, { rounds: 30, maxLeaves: 8, minLeaf: 50 });
    expect(JSON.stringify(a.model)).toBe(JSON.stringify(b.model));
    for (const t of a.model.trees) expect(t.feature.filter((f) => f < 0).length).toBeLessThanOrEqual(8);
  });

  it('rejects impossible settings with a message naming them', () => {
    const { x, y } = dataset(100, 2, target, 0.1);
    expect(() => boost(x, y, 10, { maxBins: 300 })).toThrow(/maxBins must be 2..256, 300 given/);
    expect(() => boost(x, y, 70)).toThrow(/30 training rows, at least 40 needed/);
    expect(() => boost(x, y.subarray(1), 10)).toThrow(/100 rows but 99 targets/);
  });
});
