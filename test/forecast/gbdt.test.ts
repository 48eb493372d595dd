import { describe, expect, it } from '@jest/globals';
import { boost, fromForest, predictForest, predictRow, toForest, type Matrix } from '../../src/forecast/gbdt.js';
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

  it('packs a model into a flat forest that predicts the same to the bit and unpacks to the same trees', () => {
    const { x, y } = dataset(3000, 4, target, 0.1, 5);
    const { model } = boost(x, y, 500, { rounds: 80 });
    const forest = toForest(model);
    expect(forest.roots.length).toBe(model.trees.length);
    expect(forest.feature.length).toBe(model.trees.reduce((a, t) => a + t.feature.length, 0));
    for (let r = 0; r < 3000; r += 97) expect(predictForest(forest, x.data, r * 4)).toBe(predictRow(model, x.data, r * 4));
    expect(JSON.stringify(fromForest(forest))).toBe(JSON.stringify(model));
  });

  it('refuses to pack a tree whose children are not side by side or whose feature is out of range', () => {
    const { x, y } = dataset(1000, 3, target, 0.1, 6);
    const { model } = boost(x, y, 200, { rounds: 3 });
    const swapped = structuredClone(model);
    swapped.trees[1].right[0] = swapped.trees[1].left[0];
    expect(() => toForest(swapped)).toThrow(/tree 1, node 0: needs a feature below 3 and two children side by side/);
    const outOfRange = structuredClone(model);
    outOfRange.trees[0].feature[0] = 7;
    expect(() => toForest(outOfRange)).toThrow(/tree 0, node 0/);
    const ragged = structuredClone(model);
    ragged.trees[2].value.pop();
    expect(() => toForest(ragged)).toThrow(/tree 2: its arrays differ in length/);
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
