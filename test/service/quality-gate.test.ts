import { describe, expect, it } from '@jest/globals';
import { makeSeries } from '../../src/series/series.js';
import { judgeModel } from '../../src/service/quality-gate.js';
import { DAY_MS, MINUTE_MS } from '../../src/util/clock.js';

const STEP = 5 * MINUTE_MS;
// Two days at 5 min: a repeating daily pattern 100 + (index within the day), so "a day earlier" is exact.
const perDay = DAY_MS / STEP;
const history = makeSeries(0, STEP, Array.from({ length: 2 * perDay }, (_, i) => 100 + (i % perDay)));
const now = 2 * DAY_MS;

function pastWith(offset: number, n = 24) {
  const m = new Map<number, { p50: number }>();
  for (let k = 1; k <= n; k++) {
    const at = now - k * STEP;
    m.set(at, { p50: 100 + ((at / STEP) % perDay) + offset });
  }
  return m;
}

describe('judgeModel', () => {
  it('closes on a model that does worse than the day-ago baseline', () => {
    const v = judgeModel(pastWith(10), history, { nowMs: now, stepMs: STEP });
    expect(v).toEqual({ active: true, steps: 24, modelMae: 10, baselineMae: 0 });
  });

  it('keeps a model that does as well as the baseline', () => {
    expect(judgeModel(pastWith(0), history, { nowMs: now, stepMs: STEP }).active).toBe(false);
  });

  it('says nothing before enough forecasts matured', () => {
    const v = judgeModel(pastWith(10, 5), history, { nowMs: now, stepMs: STEP });
    expect(v).toMatchObject({ active: false, steps: 5 });
  });

  it('ignores steps not yet over and steps outside the window', () => {
    const past = pastWith(10);
    past.set(now, { p50: 1e9 }); // still in progress
    past.set(now - 7 * 3_600_000, { p50: 1e9 }); // older than 6 h
    expect(judgeModel(past, history, { nowMs: now, stepMs: STEP }).modelMae).toBe(10);
  });

  it.each([
    ['inside a known event window', [{ startMs: now - 2 * 3_600_000, endMs: now }], 0],
    ['a day after one', [{ startMs: now - DAY_MS - 2 * 3_600_000, endMs: now - DAY_MS }], 0],
    ['half inside one', [{ startMs: now - 3_600_000, endMs: now + 3_600_000 }], 12],
    ['far from one', [{ startMs: now - 10 * 3_600_000, endMs: now - 8 * 3_600_000 }], 24],
  ])('does not judge the steps %s', (_what, exclude, steps) => {
    const v = judgeModel(pastWith(10), history, { nowMs: now, stepMs: STEP, exclude });
    expect(v).toMatchObject({ steps, active: steps >= 12 });
  });
});
