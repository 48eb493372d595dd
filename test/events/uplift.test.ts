import { describe, expect, it } from '@jest/globals';
import type { CalendarEvent } from '../../src/events/events.js';
import { eventMask, learnUplift, normalLevels, peakMultiplier, upliftAt } from '../../src/events/uplift.js';
import { makeSeries, type Series } from '../../src/series/series.js';

const STEP = 5 * 60_000;
const DAY = 288;
const T0 = Date.UTC(2026, 0, 5);

/** A daily shape (no noise), and events that multiply it by a shape of minutes since start. */
function trace(days: number, events: readonly { day: number; hour: number; minutes: number; factor: (m: number, len: number) => number }[]): { series: Series; calendar: CalendarEvent[] } {
  const v = Float64Array.from({ length: days * DAY }, (_, i) => 100 * (1.5 + Math.sin((2 * Math.PI * (i % DAY)) / DAY)));
  const calendar: CalendarEvent[] = [];
  events.forEach((e, n) => {
    const a = e.day * DAY + e.hour * 12;
    const len = e.minutes / 5;
    for (let i = 0; i < len; i++) v[a + i] *= e.factor(i * 5, e.minutes);
    calendar.push({ name: `e${n}`, tag: 'promo', startMs: T0 + a * STEP, endMs: T0 + (a + len) * STEP });
  });
  return { series: makeSeries(T0, STEP, v), calendar };
}

const flat = (m: number) => (): number => m;

describe('learnUplift', () => {
  it('learns the quantiles of known multipliers across past events (normal = a day earlier)', () => {
    const { series, calendar } = trace(10, [2, 3, 4, 5].map((m, n) => ({ day: 2 + 2 * n, hour: 12, minutes: 60, factor: flat(m) })));
    const p = learnUplift(series, calendar).get('promo');
    expect(p).toBeDefined();
    expect(p!.events).toBe(4);
    const mid = upliftAt(p!, calendar[0], calendar[0].startMs + 30 * 60_000);
    // Ratios 2, 3, 4, 5 at every step: p50 3.5, p90 4.7, p99 4.97 (linear interpolation).
    expect(mid!.p50).toBeCloseTo(3.5, 9);
    expect(mid!.p90).toBeCloseTo(4.7, 9);
    expect(mid!.p99).toBeCloseTo(4.97, 9);
    // No uplift before or after: the ratio there is exactly 1.
    expect(upliftAt(p!, calendar[0], calendar[0].startMs - 10 * 60_000)!.p90).toBeCloseTo(1, 9);
    expect(upliftAt(p!, calendar[0], calendar[0].endMs + 10 * 60_000)!.p50).toBeCloseTo(1, 9);
    expect(upliftAt(p!, calendar[0], calendar[0].startMs - 3 * 3600_000)).toBeUndefined();
    expect(peakMultiplier(p!)).toBeCloseTo(3.5, 9);
  });

  it('falls back to a week earlier when the day before had an event too', () => {
    const { series, calendar } = trace(10, [
      { day: 1, hour: 12, minutes: 60, factor: flat(3) },
      { day: 8, hour: 12, minutes: 60, factor: flat(3) },
      { day: 9, hour: 12, minutes: 60, factor: flat(3) },
    ]);
    const mask = eventMask(series, calendar);
    const normal = normalLevels(series, mask);
    const i9 = 9 * DAY + 12 * 12 + 3;
    // Day 8 is masked, so day 2 (a week earlier, clean) is the normal level for day 9.
    expect(normal[i9]).toBe(series.values[i9 - 7 * DAY]);
    const p = learnUplift(series, calendar).get('promo')!;
    expect(p.events).toBe(3);
    expect(upliftAt(p, calendar[2], calendar[2].startMs + 20 * 60_000)!.p90).toBeCloseTo(3, 9);
  });

  it('lines up the ramp after the start and the decay before the end for events of different lengths', () => {
    // 20-min linear ramp to 4, hold, 20-min linear decay, events of 60 and 120 minutes.
    const shape = (m: number, len: number): number => (m < 20 ? 1 + (3 * m) / 20 : m >= len - 20 ? 1 + (3 * (len - m)) / 20 : 4);
    const { series, calendar } = trace(8, [
      { day: 2, hour: 11, minutes: 60, factor: shape },
      { day: 4, hour: 14, minutes: 120, factor: shape },
    ]);
    const p = learnUplift(series, calendar).get('promo')!;
    for (const m of [0, 5, 10, 15]) expect(p.sinceStart.p90[m / 5]).toBeCloseTo(1 + (3 * m) / 20, 9);
    expect(p.sinceStart.p50[4]).toBeCloseTo(4, 9);
    // 5 minutes before the end (k = 0) both events are at 1 + 3 * 5 / 20.
    expect(p.untilEnd.p50[0]).toBeCloseTo(1.75, 9);
    // A 240-minute event, longer than any learned one, holds the peak in its middle.
    const long: CalendarEvent = { name: 'long', tag: 'promo', startMs: T0 + 7 * 86_400_000, endMs: T0 + 7 * 86_400_000 + 240 * 60_000 };
    expect(upliftAt(p, long, long.startMs + 100 * 60_000)!.p50).toBeCloseTo(4, 9);
    expect(upliftAt(p, long, long.startMs + 10 * 60_000)!.p50).toBeCloseTo(2.5, 9);
    expect(upliftAt(p, long, long.endMs - 5 * 60_000)!.p50).toBeCloseTo(1.75, 9);
  });

  it('does not trust a step that fewer than half of the past events had: a long event holds the shared level', () => {
    // Three one-hour events at 2x, one three-hour event at 2x whose last two hours run at 9x.
    const { series, calendar } = trace(10, [
      ...[2, 4, 6].map((day) => ({ day, hour: 10, minutes: 60, factor: flat(2) })),
      { day: 8, hour: 10, minutes: 180, factor: (m: number) => (m < 60 ? 2 : 9) },
    ]);
    const p = learnUplift(series, calendar).get('promo')!;
    expect(p.sinceStart.n[3]).toBe(4);
    expect(p.sinceStart.n[15]).toBe(1);
    expect(p.sinceStart.p50[15]).toBeCloseTo(9, 9);
    const next: CalendarEvent = { name: 'n', tag: 'promo', startMs: T0 + 9 * 86_400_000, endMs: T0 + 9 * 86_400_000 + 180 * 60_000 };
    expect(upliftAt(p, next, next.startMs + 80 * 60_000)!.p50).toBeCloseTo(2, 9);
  });

  it('skips events whose window is not inside the history and tags without usable ratios', () => {
    const { series, calendar } = trace(4, [{ day: 2, hour: 12, minutes: 60, factor: flat(2) }]);
    const future: CalendarEvent = { name: 'f', tag: 'launch', startMs: T0 + 5 * 86_400_000, endMs: T0 + 5 * 86_400_000 + 3600_000 };
    const first: CalendarEvent = { name: 'first', tag: 'launch', startMs: T0 + 3600_000, endMs: T0 + 7200_000 };
    const m = learnUplift(series, [...calendar, future, first]);
    expect([...m.keys()]).toEqual(['promo']);
  });

  it('rejects negative margins', () => {
    const { series, calendar } = trace(3, []);
    expect(() => learnUplift(series, calendar, { beforeMinutes: -1 })).toThrow(/beforeMinutes and afterMinutes must be >= 0/);
  });
});
