import { describe, expect, it } from '@jest/globals';
import { applyBand, BandForecaster, calibrateBand, WINDOW_PEAK_MAX_EXPONENT, type BandOptions } from '../../src/forecast/band.js';
import { scoreRollingOrigins, seasonalScale, type ProtocolData } from '../../src/forecast/evaluate.js';
import { pointForecast, type Forecaster, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { fromLog } from '../../src/forecast/log-scale.js';
import { endMs, type Series } from '../../src/series/series.js';
import { mulberry32 } from '../../src/util/prng.js';

const STEP = 5 * 60_000;
const H = 6;
const z = (v: number): number => Math.log1p(v * 60);

function forecast(p50: number[], p90: number[], p99: number[], probabilistic = true): QuantileForecast {
  return { startMs: 0, stepMs: STEP, horizon: p50.length, probabilistic, values: [Float64Array.from(p50), Float64Array.from(p90), Float64Array.from(p99)] };
}

describe('applyBand', () => {
  it('moves every quantile above the p50 `exponent` times as far from it on the log scale', () => {
    const fc = forecast([10, 20], [15, 30], [30, 50]);
    const out = applyBand(fc, 2);
    expect(Array.from(out.values[0])).toEqual([10, 20]);
    expect(out.values[1][0]).toBeCloseTo(fromLog(z(10) + 2 * (z(15) - z(10))), 9);
    expect(out.values[2][1]).toBeCloseTo(fromLog(z(20) + 2 * (z(50) - z(20))), 9);
    expect(out.values[1][0]).toBeGreaterThan(15 * 1.4); // wider, not just shifted
  });

  it('leaves exponent 1 and point forecasts as they are', () => {
    const fc = forecast([10], [15], [30]);
    expect(applyBand(fc, 1)).toBe(fc);
    const point = pointForecast(0, STEP, [7, 8]);
    expect(applyBand(point, 2)).toBe(point);
  });
});

/** A rate of 100/s ± 20 % with a burst to ×(1.3..1.8) in one window out of four, at a random step. */
function bursty(days: number, seed: number): Series {
  const rnd = mulberry32(seed);
  const n = days * 288;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = 100 * (1 + 0.4 * (rnd() - 0.5));
  for (let w = 0; w + H <= n; w += H) if (rnd() < 0.25) values[w + Math.floor(rnd() * H)] *= 1.3 + 0.5 * rnd();
  return { startMs: Date.UTC(2024, 0, 1), stepMs: STEP, values };
}

/** Forecasts a flat 100/s with a p90 `spread` times it: too narrow for the bursts when spread is small. */
class Flat implements Forecaster {
  readonly name = 'flat';
  readonly minTrainLength = 1;
  readonly probabilistic = true;
  calls = 0;
  constructor(private readonly spread: number) {}
  fit(): Promise<void> {
    return Promise.resolve();
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    this.calls++;
    const fc = pointForecast(context ? endMs(context) : 0, STEP, new Array<number>(horizon).fill(100));
    return { ...fc, probabilistic: true, values: [fc.values[0], fc.values[0].map((v) => v * this.spread), fc.values[0].map((v) => v * this.spread * 1.5)] };
  }
}

function holdout(s: Series): ProtocolData {
  const trainEnd = 2 * 288;
  return { actual: s, trainEnd, horizon: H, season: 288, maseScale: seasonalScale(s.values, trainEnd, 288) };
}

const EMPTY = { ufr: 0, peakRatio: 0, coverageP90: null };

describe('calibrateBand', () => {
  const s = bursty(4, 3);
  const d = holdout(s);

  it('widens a band that misses window peaks to the smallest exponent that meets the target', () => {
    const f = new Flat(1.16);
    const band = calibrateBand(f, d, { targetUfr: 0.1, maxCoverage: 1 });
    expect(band.holdout.before.ufr).toBeGreaterThan(0.1);
    expect(band.exponent).toBeGreaterThan(1);
    expect(band.holdout.after.ufr).toBeLessThanOrEqual(0.1);
    // What it reports is what protocol v1 scores for the widened model, and one step less misses the target.
    const scored = scoreRollingOrigins(new BandForecaster(f, band), d);
    expect(scored.ufr).toBeCloseTo(band.holdout.after.ufr, 12);
    expect(scoreRollingOrigins(new BandForecaster(f, { ...band, exponent: band.exponent - 0.05 }), d).ufr).toBeGreaterThan(0.1);
  });

  it('forecasts each holdout origin once, however many exponents it tries', () => {
    const f = new Flat(1.16);
    calibrateBand(f, d, { maxCoverage: 1 });
    expect(f.calls).toBe(scoreRollingOrigins(new Flat(1), d).windows);
  });

  it('never narrows a band that already meets the target', () => {
    const band = calibrateBand(new Flat(3), d);
    expect(band.exponent).toBe(1);
    expect(band.holdout.after).toEqual(band.holdout.before);
  });

  it('stops widening where the p90 would cover more than maxCoverage of the points', () => {
    const band = calibrateBand(new Flat(1.16), d, { targetUfr: 0.01 });
    expect(band.holdout.after.coverageP90).toBeLessThanOrEqual(0.95);
    expect(band.exponent).toBeGreaterThan(1);
    expect(band.holdout.after.ufr).toBeGreaterThan(0.01);
    expect(band.holdout.after.ufr).toBeLessThan(band.holdout.before.ufr);
  });

  it('stops widening where the window-peak ratio would pass maxPeakRatio, and leaves a band already past it', () => {
    const f = new Flat(1.16);
    const before = calibrateBand(f, d, { maxExponent: 1 }).holdout.before;
    const cap = before.peakRatio + 0.05;
    const band = calibrateBand(f, d, { maxCoverage: 1, maxPeakRatio: cap });
    expect(band.exponent).toBeGreaterThan(1);
    expect(band.holdout.after.peakRatio).toBeLessThanOrEqual(cap);
    expect(band.holdout.after.ufr).toBeGreaterThan(0.1);
    // Without the cap it widens further.
    expect(calibrateBand(f, d, { maxCoverage: 1, maxPeakRatio: 10 }).exponent).toBeGreaterThan(band.exponent);
    expect(calibrateBand(f, d, { maxCoverage: 1, maxPeakRatio: before.peakRatio - 0.01 }).exponent).toBe(1);
  });

  it.each([
    [{ targetUfr: 0 }, /targetUfr must be between 0 and 1, 0 given/],
    [{ maxCoverage: 1.5 }, /maxCoverage must be in \(0, 1\], 1.5 given/],
    [{ maxPeakRatio: 0 }, /maxPeakRatio must be above 0, 0 given/],
    [{ step: 0 }, /step must be above 0 and maxExponent at least 1, 0 and 3 given/],
    [{ maxExponent: 0.5 }, /step must be above 0 and maxExponent at least 1, 0.05 and 0.5 given/],
  ])('refuses options %j, naming the rule', (o, message) => {
    expect(() => calibrateBand(new Flat(1.16), d, o)).toThrow(message);
  });
});

describe("calibrateBand with method 'window-peak'", () => {
  const s = bursty(4, 3);
  const d = holdout(s);
  const wp: BandOptions = { method: 'window-peak' };
  /** Holdout WPL90 of `f` widened by `exponent`, scored independently of the calibration. */
  const wplAt = (f: Forecaster, exponent: number): number => scoreRollingOrigins(new BandForecaster(f, { exponent, targetUfr: 0.1, holdout: { before: EMPTY, after: EMPTY } }), d).wpl90 as number;

  it('keeps the exponent of the grid with the lowest holdout WPL90, the smallest on a tie', () => {
    const f = new Flat(1.16);
    const band = calibrateBand(f, d, wp);
    expect(band.method).toBe('window-peak');
    // Every exponent of the grid, scored one by one as protocol v2 scores the widened model.
    const grid = Array.from({ length: Math.round((WINDOW_PEAK_MAX_EXPONENT - 1) / 0.05) + 1 }, (_, i) => Number((1 + i * 0.05).toFixed(6)));
    const losses = grid.map((k) => wplAt(f, k));
    const best = Math.min(...losses);
    expect(band.exponent).toBe(grid[losses.indexOf(best)]);
    expect(band.exponent).toBeGreaterThan(1);
    expect(band.holdout.after.wpl90).toBeCloseTo(best, 12);
    expect(band.holdout.after.wpl90).toBeLessThan(band.holdout.before.wpl90 as number);
    // The minimiser of the 0.9 pinball loss sits where the window-peak coverage crosses 0.9.
    expect(band.holdout.before.windowPeakCoverage).toBeLessThan(0.8);
    expect(band.holdout.after.windowPeakCoverage).toBeGreaterThanOrEqual(0.85);
    expect(band.holdout.after.windowPeakCoverage).toBeLessThanOrEqual(0.95);
  });

  it("is not stopped by the caps on overshoot that stop 'ufr'", () => {
    const f = new Flat(1.16);
    const free = calibrateBand(f, d, wp);
    const cap = free.holdout.before.peakRatio + 0.05;
    const capped = { maxCoverage: 0.5, maxPeakRatio: cap };
    expect(calibrateBand(f, d, capped).exponent).toBeLessThan(free.exponent);
    expect(calibrateBand(f, d, { ...wp, ...capped }).exponent).toBe(free.exponent);
    expect(free.holdout.after.peakRatio).toBeGreaterThan(cap);
  });

  it('never narrows a band wider than the window peaks need', () => {
    const band = calibrateBand(new Flat(3), d, wp);
    expect(band.exponent).toBe(1);
    expect(band.holdout.after).toEqual(band.holdout.before);
  });

  it('stops at maxExponent when given, and leaves a point forecaster as it is', () => {
    expect(calibrateBand(new Flat(1.16), d, { ...wp, maxExponent: 1.2 }).exponent).toBe(1.2);
    const point: Forecaster = { ...new Flat(1.16), name: 'point', probabilistic: false, minTrainLength: 1, fit: () => Promise.resolve(), predict: (h) => pointForecast(0, STEP, new Array<number>(h).fill(100)) };
    expect(calibrateBand(point, d, wp).exponent).toBe(1);
  });

  it('leaves the default as it was: no method means the UFR target', () => {
    const f = new Flat(1.16);
    const dflt = calibrateBand(f, d);
    expect(dflt.method).toBeUndefined();
    expect(calibrateBand(f, d, { method: 'ufr' }).exponent).toBe(dflt.exponent);
    expect(calibrateBand(f, d, wp).exponent).not.toBe(dflt.exponent);
  });

  it('refuses an unknown method, naming it', () => {
    expect(() => calibrateBand(new Flat(1.16), d, { method: 'coverage' as BandOptions['method'] })).toThrow(/method must be one of ufr, window-peak, coverage given/);
  });
});

