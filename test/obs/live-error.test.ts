import { describe, expect, it } from '@jest/globals';
import { liveErrorOf, MIN_MATURED_STEPS } from '../../src/obs/live-error.js';
import type { TargetSnapshot } from '../../src/service/state.js';
import { fakeSnapshot, MIN, NOW } from '../web/fake-snapshots.js';

/** One-minute history ending at NOW, and past forecasts at the given times. */
function snap(history: number[], past: { atMs: number; p50: number; p90: number }[]): TargetSnapshot {
  const base = fakeSnapshot({ name: 't', historyMinutes: 0, horizon: 0, pastForecastMinutes: 0, base: 1 });
  return { ...base, history: { startMs: NOW - history.length * MIN, stepMs: MIN, values: Float64Array.from(history) }, pastForecasts: past };
}

describe('liveErrorOf', () => {
  it('compares matured p50 and p90 with the actuals', () => {
    const past = Array.from({ length: 20 }, (_, i) => ({ atMs: NOW - (20 - i) * MIN, p50: 110, p90: i % 2 === 0 ? 105 : 95 }));
    const e = liveErrorOf(snap(Array(20).fill(100), past));
    expect(e).toEqual({ steps: 20, fromMs: NOW - 20 * MIN, toMs: NOW, mae: 10, wape: 0.1, p90Coverage: 0.5 });
  });

  it('averages history over a coarser forecast step', () => {
    // Five-minute forecast steps over one-minute history 0,1,2,...: the actual of step k is the mean of 5k..5k+4.
    const history = Array.from({ length: 60 }, (_, i) => i);
    const past = Array.from({ length: 12 }, (_, k) => ({ atMs: NOW - 60 * MIN + k * 5 * MIN, p50: 5 * k + 2, p90: 5 * k + 2 }));
    const e = liveErrorOf(snap(history, past));
    expect(e?.steps).toBe(12);
    expect(e?.mae).toBe(0);
    expect(e?.p90Coverage).toBe(1);
  });

  it('skips steps not yet over and steps without actuals, and needs enough of them', () => {
    const history = Array(30).fill(50);
    for (let i = 0; i < 10; i++) history[i] = NaN;
    // 35 past points from NOW-30min: 10 fall in the gap, 5 are not over yet, 20 remain.
    const past = Array.from({ length: 35 }, (_, i) => ({ atMs: NOW - (30 - i) * MIN, p50: 40, p90: 60 }));
    expect(liveErrorOf(snap(history, past))?.steps).toBe(20);
    expect(liveErrorOf(snap(history, past.slice(0, 10 + MIN_MATURED_STEPS - 1)))).toBeUndefined();
    expect(liveErrorOf(snap(history, past.slice(0, 10 + MIN_MATURED_STEPS)))?.steps).toBe(MIN_MATURED_STEPS);
  });
});
