import { beforeAll, describe, expect, it } from '@jest/globals';
import type { CalendarEvent } from '../../src/events/events.js';
import { LstmForecaster } from '../../src/forecast/lstm.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { initTf } from '../../src/forecast/tf-backend.js';
import type { Series } from '../../src/series/series.js';
import { TargetCalendar } from '../../src/service/calendar.js';
import type { LoadedModel } from '../../src/service/model-provider.js';

/**
 * A model trained with calendar inputs (train --calendar-mode inputs) reads the calendar itself: the service hands
 * it the target's calendar, coming events included, and does not wrap it with withEvents (the uplift would count
 * twice). Any other model is wrapped as before.
 */

const STEP = 15 * 60_000;
const DAY = 96;
const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;
const series: Series = {
  startMs: T0,
  stepMs: STEP,
  values: Float64Array.from({ length: 4 * DAY }, (_, i) => (50 + 30 * Math.sin((2 * Math.PI * i) / DAY)) * (i >= DAY + 40 && i < DAY + 48 ? 4 : 1)),
};
const info = { kind: 'lstm', trainedAtMs: T0, backend: 'test', scores: {} };
const ev = (name: string, startMs: number): CalendarEvent => ({ name, tag: 'promo', startMs, endMs: startMs + 2 * HOUR });
const past = ev('past', T0 + DAY * STEP + 40 * STEP);
// Starts 30 min after the end of the series: within the 1-hour horizon.
const coming = ev('coming', T0 + 4 * DAY * STEP + 30 * 60_000);

describe('TargetCalendar with a model that takes calendar inputs', () => {
  let lstm: LstmForecaster;

  beforeAll(async () => {
    await initTf();
    // Trained knowing only the past promo; the service's calendar adds the coming one.
    lstm = new LstmForecaster({ stepMs: STEP, horizon: 4, window: 6, units: 4, epochs: 2, seed: 5, events: [past] });
    await lstm.fit(series);
  });

  it('hands the LSTM the whole calendar and does not wrap it', () => {
    const model: LoadedModel = { forecaster: lstm, stepMs: STEP, info };
    const before = lstm.predict(4, series);
    const cal = new TargetCalendar('t', [past, coming]);
    expect(cal.forecasterFor(model, series)).toBeUndefined();
    const after = lstm.predict(4, series);
    const expected = LstmForecaster.fromParts(lstm.layersModel!, lstm.state!, { events: [past, coming] }).predict(4, series);
    expect(Array.from(after.values[0])).toEqual(Array.from(expected.values[0]));
    // The coming event's inputs changed the forecast: the calendar was really handed over.
    expect(Array.from(after.values[0])).not.toEqual(Array.from(before.values[0]));
  });

  it('still wraps any other model with withEvents', () => {
    const model: LoadedModel = { forecaster: new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP }), stepMs: STEP, info };
    const f = new TargetCalendar('t', [past, coming]).forecasterFor(model, series);
    expect(f?.name).toBe('seasonal-naive+calendar');
  });
});
