import { describe, expect, it } from '@jest/globals';
import type { CalendarEvent } from '../../src/events/events.js';
import { neutralise, withEvents } from '../../src/events/event-forecaster.js';
import { learnUplift } from '../../src/events/uplift.js';
import { endMs, makeSeries, sliceSeries, type Series } from '../../src/series/series.js';
import { QUANTILES, type Forecaster, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { HoltWintersForecaster } from '../../src/forecast/holt-winters.js';

const STEP = 5 * 60_000;
const DAY = 288;
const T0 = Date.UTC(2026, 0, 5);

/** A daily shape, with flat multipliers over one-hour events at noon on the given days. */
function trace(days: number, mult: ReadonlyMap<number, number>): { series: Series; calendar: CalendarEvent[] } {
  const v = Float64Array.from({ length: days * DAY }, (_, i) => 100 * (1.5 + Math.sin((2 * Math.PI * (i % DAY)) / DAY)));
  const calendar: CalendarEvent[] = [];
  for (const [day, m] of mult) {
    const a = day * DAY + 144;
    for (let i = a; i < a + 12; i++) v[i] *= m;
    calendar.push({ name: `d${day}`, tag: 'promo', startMs: T0 + a * STEP, endMs: T0 + (a + 12) * STEP });
  }
  return { series: makeSeries(T0, STEP, v), calendar };
}

/** Records what it is fitted on and forecasts the value a day before each step, with p90 = 1.1 × p50. */
class DayAgo implements Forecaster {
  readonly name = 'day-ago';
  readonly minTrainLength = DAY;
  readonly probabilistic = true;
  fitted: Series | undefined;
  contexts: Series[] = [];
  fit(series: Series): Promise<void> {
    this.fitted = series;
    return Promise.resolve();
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    const ctx = context ?? (this.fitted as Series);
    this.contexts.push(ctx);
    const n = ctx.values.length;
    const p50 = Float64Array.from({ length: horizon }, (_, h) => ctx.values[n - DAY + h]);
    return { startMs: endMs(ctx), stepMs: ctx.stepMs, horizon, probabilistic: true, values: QUANTILES.map((_, q) => p50.map((x) => x * (1 + 0.1 * q))) };
  }
}

describe('neutralise', () => {
  it('replaces event windows (with margins) by the value a day earlier and leaves the rest', () => {
    const { series, calendar } = trace(4, new Map([[2, 5], [3, 4]]));
    const clean = trace(4, new Map()).series;
    const n = neutralise(series, calendar);
    expect(Array.from(n.values)).toEqual(Array.from(clean.values));
    expect(Array.from(series.values)).not.toEqual(Array.from(clean.values));
  });
});

describe('withEvents', () => {
  const mult = new Map([[2, 2], [4, 3], [6, 4], [8, 5]]);
  const { series, calendar } = trace(11, mult);
  const held: CalendarEvent = { name: 'held-out', tag: 'promo', startMs: T0 + (10 * DAY + 144) * STEP, endMs: T0 + (10 * DAY + 156) * STEP };
  const train = sliceSeries(series, 0, 10 * DAY);

  it('fits the inner model on the history without its events and learns the profile itself', async () => {
    const inner = new DayAgo();
    const f = withEvents(inner, { events: [...calendar, held] });
    await f.fit(train);
    expect(Array.from(inner.fitted!.values)).toEqual(Array.from(trace(10, new Map()).series.values));
    expect(f.learned.get('promo')!.events).toBe(4);
    expect(f.name).toBe('day-ago+calendar');
  });

  it('multiplies each quantile by the learned ratio inside a coming event, and nothing outside it', async () => {
    const f = withEvents(new DayAgo(), { events: [...calendar, held] });
    await f.fit(train);
    // Origin two hours before the held-out event, 4 hours ahead.
    const ctx = sliceSeries(series, 0, 10 * DAY + 120);
    const plain = new DayAgo().predict(48, neutralise(ctx, [...calendar, held]));
    const got = f.predict(48, ctx);
    const inEvent = 24 + 3;
    // Ratios 2..5: p50 3.5, p90 4.7, p99 4.97.
    expect(got.values[0][inEvent]).toBeCloseTo(plain.values[0][inEvent] * 3.5, 6);
    expect(got.values[1][inEvent]).toBeCloseTo(plain.values[1][inEvent] * 4.7, 6);
    expect(got.values[2][inEvent]).toBeCloseTo(plain.values[2][inEvent] * 4.97, 6);
    expect(got.values[0][5]).toBeCloseTo(plain.values[0][5], 6);
    expect(got.values[1][47]).toBeCloseTo(plain.values[1][47], 6);
  });

  it('wraps an inner model fitted elsewhere (innerFitted): predicts from a context without fit, and says what it lifted', async () => {
    const inner = new DayAgo();
    await inner.fit(train); // as a model loaded from disk: fitted on the raw history, promos and all
    const f = withEvents(inner, { events: [...calendar, held], profiles: learnUplift(train, calendar), innerFitted: true });
    const ctx = sliceSeries(series, 0, 10 * DAY + 120);
    const plain = new DayAgo().predict(48, neutralise(ctx, [...calendar, held]));
    const got = f.predict(48, ctx);
    expect(got.values[1][27]).toBeCloseTo(plain.values[1][27] * 4.7, 6);
    expect(f.upliftOf(got, ctx)).toEqual({ event: 'held-out', tag: 'promo', startMs: held.startMs, endMs: held.endMs, peakP50: expect.closeTo(3.5, 9), peakP90: expect.closeTo(4.7, 9) });
    // Two hours ahead of an origin a day before the event: no step in reach, nothing lifted.
    expect(f.upliftOf({ startMs: endMs(ctx) - 86_400_000, stepMs: STEP, horizon: 12 }, ctx)).toBeUndefined();
    expect(() => f.predict(4)).toThrow('day-ago+calendar: predict needs a context when the inner model was fitted elsewhere');
    expect(() => withEvents(inner, { events: calendar, innerFitted: true })).toThrow('innerFitted needs the learned profiles');
  });

  it('adapts the uplift of a running event to what it has shown so far (and not when told not to)', async () => {
    // The held-out event runs at 6x: after 6 of its 12 steps, the rest is forecast near 6x, not 3.5x.
    const live = trace(11, new Map([...mult, [10, 6]]));
    const ctx = sliceSeries(live.series, 0, 10 * DAY + 150);
    const at = 2;
    const truth = live.series.values[10 * DAY + 150 + at];
    const adapted = withEvents(new DayAgo(), { events: live.calendar });
    await adapted.fit(train);
    expect(adapted.predict(6, ctx).values[0][at]).toBeCloseTo(truth, 6);
    const fixed = withEvents(new DayAgo(), { events: live.calendar, adapt: false });
    await fixed.fit(train);
    expect(fixed.predict(6, ctx).values[0][at]).toBeCloseTo((truth / 6) * 3.5, 6);
  });

  it('with Holt-Winters inside, forecasts the held-out peak where Holt-Winters alone does not', async () => {
    const noisy = { ...series, values: series.values.map((x, i) => x * (1 + 0.02 * Math.sin(i * 12.9898))) };
    const trainN = sliceSeries(noisy, 0, 10 * DAY);
    const ctx = sliceSeries(noisy, 0, 10 * DAY + 138);
    const plainHw = new HoltWintersForecaster({ stepMs: STEP });
    await plainHw.fit(trainN);
    const cal = withEvents(new HoltWintersForecaster({ stepMs: STEP }), { events: [...calendar, held], profiles: learnUplift(trainN, calendar) });
    await cal.fit(trainN);
    const normal = noisy.values[10 * DAY + 150 - DAY];
    const peak = (f: QuantileForecast): number => Math.max(...f.values[1]);
    expect(peak(cal.predict(18, ctx))).toBeGreaterThan(3.5 * normal);
    expect(peak(plainHw.predict(18, ctx))).toBeLessThan(2.5 * normal);
  });
});
