import { describe, expect, it } from '@jest/globals';
import { makeSeries } from '../../src/series/series.js';
import { CsvReplaySource } from '../../src/sources/csv-replay.js';
import { DAY_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';

// Two weeks of minutes starting Monday 2024-01-01 00:00 UTC; value = minutes since trace start.
const T0 = Date.parse('2024-01-01T00:00:00Z');
const trace = makeSeries(T0, MINUTE_MS, Array.from({ length: 14 * 1440 + 100 }, (_, i) => i));

describe('CsvReplaySource', () => {
  it('keeps weekday and time of day with week alignment, and reveals only the past', async () => {
    const now = Date.parse('2026-11-27T10:30:20Z'); // a Friday
    const clock = new ManualClock(now);
    const src = new CsvReplaySource({ trace, description: 'demo', clock, align: 'week' });
    const tau = src.traceTime(now);
    expect(new Date(tau).getUTCDay()).toBe(5);
    expect(new Date(tau).toISOString().slice(11, 16)).toBe('10:30');
    const h = await src.history(now - 10 * MINUTE_MS, now + 60 * MINUTE_MS);
    // whole minutes from 10:21 up to 10:30, which is still filling: nothing from the future
    expect(h.values.length).toBe(9);
    expect(h.startMs).toBe(Date.parse('2026-11-27T10:21:00Z'));
    expect(h.values[8] - h.values[0]).toBe(8);
    clock.advance(MINUTE_MS);
    expect((await src.history(now - 10 * MINUTE_MS, now + 60 * MINUTE_MS)).values.length).toBe(10);
  });

  it('maps the anchor to the start time and scales by the multiplier', async () => {
    const started = Date.parse('2026-11-27T10:00:00Z');
    const clock = new ManualClock(started + 5 * MINUTE_MS);
    const src = new CsvReplaySource({ trace, description: 'demo', clock, align: 'anchor', anchorMs: T0 + DAY_MS, startedAtMs: started, multiplier: 2 });
    const h = await src.history(started, started + 5 * MINUTE_MS);
    expect(Array.from(h.values)).toEqual([1440, 1441, 1442, 1443, 1444].map((v) => v * 2));
  });

  it('wraps around after the whole weeks of the trace', () => {
    const src = new CsvReplaySource({ trace, description: 'demo', clock: new ManualClock(0), align: 'week' });
    expect(src.traceTime(T0 + 14 * DAY_MS + 5 * MINUTE_MS)).toBe(T0 + 5 * MINUTE_MS);
  });

  it('rejects a trace shorter than a week', () => {
    const short = makeSeries(T0, MINUTE_MS, [1, 2, 3]);
    expect(() => new CsvReplaySource({ trace: short, description: 'x.csv', clock: new ManualClock(0), align: 'week' })).toThrow(InputError);
  });
});
