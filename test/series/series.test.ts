import { describe, expect, it } from '@jest/globals';
import { fillGaps, makeSeries, resampleMean, type Series } from '../../src/series/series.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** The definition, one point at a time: bucket = floor(time / step) since the epoch. */
function reference(s: Series, stepMs: number): number[] {
  const first = Math.floor(s.startMs / stepMs) * stepMs;
  const n = Math.ceil((s.startMs + s.values.length * s.stepMs - first) / stepMs);
  const sum = new Array<number>(n).fill(0);
  const cnt = new Array<number>(n).fill(0);
  s.values.forEach((v, i) => {
    if (Number.isNaN(v)) return;
    const b = Math.floor((s.startMs + i * s.stepMs - first) / stepMs);
    sum[b] += v;
    cnt[b]++;
  });
  return sum.map((x, b) => (cnt[b] > 0 ? x / cnt[b] : NaN));
}

describe('resampleMean', () => {
  it.each([
    ['aligned start', T0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [3, 8]],
    ['start 2 min into a bucket', T0 + 2 * MIN, [1, 2, 3, 4, 5, 6], [2, 5]],
    ['gaps, and a bucket of gaps only', T0, [1, NaN, 3, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 7], [2, NaN, 7]],
  ])('%s', (_name, start, values, want) => {
    const r = resampleMean(makeSeries(start, MIN, values), 5 * MIN);
    expect(r.startMs).toBe(Math.floor(start / (5 * MIN)) * 5 * MIN);
    expect(Array.from(r.values)).toEqual(want);
  });

  it('agrees with the definition for every start offset and length', () => {
    for (let off = 0; off < 7; off++) {
      for (let len = 1; len < 40; len++) {
        const s = makeSeries(T0 + off * MIN, MIN, Array.from({ length: len }, (_, i) => (i % 5 === 3 ? NaN : i * 1.5)));
        expect(Array.from(resampleMean(s, 7 * MIN).values)).toEqual(reference(s, 7 * MIN));
      }
    }
  });

  // NAB's elb trace: 5-minute points at :04, :09, … resampled to the protocol's 5 minutes (each point its own bucket),
  // and starts that are no whole number of native steps into a bucket.
  it.each([
    ['the same step, 4 min into a bucket', 5 * MIN, 4 * MIN, 5 * MIN],
    ['the same step, 2 min 53 s into a bucket', 5 * MIN, 173_000, 5 * MIN],
    ['1-min points 20 s into a 5-min bucket', MIN, 20_000, 5 * MIN],
    ['1-min points 4 min 40 s into a 5-min bucket', MIN, 280_000, 5 * MIN],
  ])('agrees with the definition: %s', (_name, step, off, to) => {
    const s = makeSeries(T0 + off, step, Array.from({ length: 23 }, (_, i) => (i % 7 === 5 ? NaN : i + 1)));
    expect(Array.from(resampleMean(s, to).values)).toEqual(reference(s, to));
  });

  it('30-second points into minutes', () => {
    expect(Array.from(resampleMean(makeSeries(T0 + 30_000, 30_000, [1, 3, 5]), MIN).values)).toEqual([1, 4]);
  });
});

describe('fillGaps', () => {
  it('interpolates inside, holds at the ends, and leaves the input alone', () => {
    const s = makeSeries(T0, MIN, [NaN, 2, NaN, 4, NaN]);
    expect(Array.from(fillGaps(s).values)).toEqual([2, 2, 3, 4, 4]);
    expect(Number.isNaN(s.values[0])).toBe(true);
  });
});
