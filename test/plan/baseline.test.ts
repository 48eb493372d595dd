import { describe, expect, it } from '@jest/globals';
import { pointForecast } from '../../src/forecast/forecaster.js';
import { dayAgoLevels } from '../../src/plan/baseline.js';
import { makeSeries } from '../../src/series/series.js';
import { DAY_MS, MINUTE_MS } from '../../src/util/clock.js';

describe('dayAgoLevels', () => {
  // Two days at 1 min: value = minute index, a gap at minute 5 of day 0.
  const h = makeSeries(0, MINUTE_MS, Array.from({ length: 2 * 1440 }, (_, i) => (i === 5 ? NaN : i)));
  it('averages the same interval one day earlier, skipping gaps', () => {
    const f = pointForecast(DAY_MS, 5 * MINUTE_MS, [0, 0, 0]);
    expect(Array.from(dayAgoLevels(h, f, DAY_MS))).toEqual([(0 + 1 + 2 + 3 + 4) / 5, (6 + 7 + 8 + 9) / 4, (10 + 11 + 12 + 13 + 14) / 5]);
  });
  it('never reads at or after now, and is NaN where nothing was observed', () => {
    const f = pointForecast(0, 5 * MINUTE_MS, [0]);
    expect(Number.isNaN(dayAgoLevels(h, f, 0)[0])).toBe(true);
  });
});
