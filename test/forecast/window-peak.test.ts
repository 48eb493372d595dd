import { describe, expect, it } from '@jest/globals';
import { scoreForecasts, type ProtocolData } from '../../src/forecast/evaluate.js';
import { QUANTILES, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { actualWindowPeak, forecastWindowPeak, pinball, scoreWindowPeaks } from '../../src/forecast/window-peak.js';
import { makeSeries } from '../../src/series/series.js';

describe('pinball', () => {
  it('costs a unit short nine times a unit idle at τ = 0.9', () => {
    expect(pinball(10)).toBeCloseTo(9, 12);
    expect(pinball(-10)).toBeCloseTo(1, 12);
    expect(pinball(0)).toBe(0);
    expect(pinball(4, 0.5)).toBe(2);
    expect(pinball(-4, 0.5)).toBe(2);
  });
});

describe('window peaks', () => {
  it('A is the max of y[t+1..t+H], undefined when one is missing or past the end', () => {
    const y = [100, 10, 20, 5, NaN, 8];
    expect(actualWindowPeak(y, 0, 3)).toBe(20);
    expect(actualWindowPeak(y, 1, 2)).toBe(20);
    expect(actualWindowPeak(y, 2, 2)).toBeUndefined(); // y[4] is missing
    expect(actualWindowPeak(y, 4, 2)).toBeUndefined(); // y[6] is past the end
    expect(actualWindowPeak(y, 4, 1)).toBe(8);
  });

  it('F is the max of the sized-for quantile over the window', () => {
    expect(forecastWindowPeak([3, 9, 4])).toBe(9);
  });
});

describe('scoreWindowPeaks', () => {
  it('scores two windows by hand: one short by 2, one idle by 4', () => {
    // Window after t=0: A = max(10, 20) = 20, F = 18: short 2 → 0.9·2 = 1.8, not covered.
    // Window after t=2: A = max(5, 8) = 8, F = 12: idle 4 → 0.1·4 = 0.4, covered.
    // WPL90 = mean(1.8, 0.4) ÷ mean(20, 8) = 1.1 / 14.
    const s = scoreWindowPeaks([1, 10, 20, 5, 8], [0, 2], [
      [15, 18],
      [9, 12],
    ]);
    expect(s.wpl90).toBeCloseTo(1.1 / 14, 12);
    expect(s.windowPeakCoverage).toBe(0.5);
    expect(s.peakWindows).toBe(2);
  });

  it('skips incomplete windows and counts A = F as covered with no loss', () => {
    // t=0: A = 7, F = 7 → loss 0, covered. t=2: y[3] missing → skipped. t=4: A = 30, F = 10 → short 20 → 18.
    // WPL90 = mean(0, 18) ÷ mean(7, 30) = 9 / 18.5.
    const s = scoreWindowPeaks([0, 7, 6, NaN, 1, 30, 2], [0, 2, 4], [
      [7, 1],
      [0, 0],
      [10, 9],
    ]);
    expect(s.peakWindows).toBe(2);
    expect(s.windowPeakCoverage).toBe(0.5);
    expect(s.wpl90).toBeCloseTo(9 / 18.5, 12);
  });

  it('a p90 always above the peak has coverage 1 and pays only the idle tenth', () => {
    // A = 4 and 6, F = 5 and 11: idle 1 and 5 → 0.1 and 0.5; WPL90 = 0.3 / 5 = 0.06.
    const s = scoreWindowPeaks([0, 4, 3, 6], [0, 2], [[5, 5], [11]]);
    expect(s.windowPeakCoverage).toBe(1);
    expect(s.wpl90).toBeCloseTo(0.06, 12);
  });

  it('is NaN without a complete window, and WPL90 is NaN when every peak is 0', () => {
    const none = scoreWindowPeaks([1, NaN, 2], [0], [[1, 1]]);
    expect(none.peakWindows).toBe(0);
    expect(none.wpl90).toBeNaN();
    expect(none.windowPeakCoverage).toBeNaN();
    const zero = scoreWindowPeaks([0, 0, 0], [0], [[1, 1]]);
    expect(zero.windowPeakCoverage).toBe(1);
    expect(zero.wpl90).toBeNaN();
  });

  it('rejects a forecast count that differs from the origins', () => {
    expect(() => scoreWindowPeaks([1, 2, 3], [0, 1], [[1]])).toThrow('2 origins but 1 forecasts');
  });
});

describe('scoreForecasts reports protocol v2 beside v1', () => {
  const STEP = 300_000;
  const d: ProtocolData = { actual: makeSeries(0, STEP, [1, 10, 20, 5, 8]), trainEnd: 1, horizon: 2, season: 1, maseScale: 1 };
  const fc = (p50: number[], p90: number[], probabilistic: boolean): QuantileForecast => ({
    startMs: 0,
    stepMs: STEP,
    horizon: 2,
    probabilistic,
    values: QUANTILES.map((q) => Float64Array.from(q === 0.5 ? p50 : p90)),
  });

  it('scores the p90 of a probabilistic forecast', () => {
    const s = scoreForecasts(d, { origins: [0, 2], probabilistic: true, forecasts: [fc([12, 14], [15, 18], true), fc([6, 7], [9, 12], true)] });
    expect(s.wpl90).toBeCloseTo(1.1 / 14, 12);
    expect(s.windowPeakCoverage).toBe(0.5);
    // v1 on the same forecasts: |10−12| + |20−14| + |5−6| + |8−7| = 10 over 4 points.
    expect(s.mase).toBeCloseTo(2.5, 12);
  });

  it('scores the point of a point forecast', () => {
    // Window peaks 20 and 8 against points 14 and 7: short 6 and 1 → 5.4 and 0.9; WPL90 = 3.15 / 14.
    const s = scoreForecasts(d, { origins: [0, 2], probabilistic: false, forecasts: [fc([12, 14], [12, 14], false), fc([6, 7], [6, 7], false)] });
    expect(s.wpl90).toBeCloseTo(3.15 / 14, 12);
    expect(s.windowPeakCoverage).toBe(0);
  });
});
