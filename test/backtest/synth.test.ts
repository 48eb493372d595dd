import { describe, expect, it } from '@jest/globals';
import { synth, synthCsv } from '../../src/backtest/synth.js';

describe('synth promo', () => {
  const r = synth({ profile: 'promo', days: 14, seed: 7 });
  const dayMax = (d: number): number => Math.max(...r.series.values.subarray(d * 1440, (d + 1) * 1440));

  it('is deterministic for a seed and differs across seeds', () => {
    expect(synth({ profile: 'promo', days: 14, seed: 7 }).series.values).toEqual(r.series.values);
    expect(synth({ profile: 'promo', days: 14, seed: 8 }).series.values).not.toEqual(r.series.values);
  });

  it('normal days peak near 30k QPS and promo days (6 and 13) near 120k', () => {
    expect(r.series.values.length).toBe(14 * 1440);
    for (const d of [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]) {
      expect(dayMax(d)).toBeGreaterThan(25_000);
      expect(dayMax(d)).toBeLessThan(40_000);
    }
    for (const d of [6, 13]) {
      expect(dayMax(d)).toBeGreaterThan(105_000);
      expect(dayMax(d)).toBeLessThan(135_000);
    }
    expect(r.events.map((e) => e.name)).toEqual(['promo-day-6', 'promo-day-13']);
  });

  it('the promo ramps to its peak in about 20 minutes', () => {
    const e = r.events[1];
    const i = (e.startMs - r.series.startMs) / 60_000;
    const v = r.series.values;
    expect(v[i + 20]).toBeGreaterThan(100_000);
    expect(v[i + 10]).toBeGreaterThan(v[i] * 2);
    expect(v[i + 10]).toBeLessThan(90_000);
  });

  it('writes timestamp,qps CSV', () => {
    const csv = synthCsv(synth({ profile: 'promo', days: 1, seed: 1 }).series).split('\n');
    expect(csv[0]).toBe('timestamp,qps');
    expect(csv[1]).toMatch(/^2026-01-05T00:00:00.000Z,\d+\.\d$/);
    expect(csv.length).toBe(1440 + 2);
  });

  it('rejects bad days', () => {
    expect(() => synth({ profile: 'promo', days: 0, seed: 1 })).toThrow('days must be a whole number in 1..366, 0 given');
  });
});
