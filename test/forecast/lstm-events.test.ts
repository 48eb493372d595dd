import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CalendarEvent } from '../../src/events/events.js';
import { loadModel, saveModel } from '../../src/forecast/artefact.js';
import { LstmForecaster, type LstmState } from '../../src/forecast/lstm.js';
import { EVENT_CLIP_MINUTES, eventIndex, fillEventInputs, MAX_EVENT_TAGS, trainingTags } from '../../src/forecast/lstm-events.js';
import { initTf } from '../../src/forecast/tf-backend.js';
import { sliceSeries, type Series } from '../../src/series/series.js';
import { InputError } from '../../src/util/errors.js';
import { mulberry32 } from '../../src/util/prng.js';

const STEP = 15 * 60_000;
const DAY = 96;
const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** Past promos (day, start hour, hours, multiplier) and the coming one on day 14, whose multiplier the model is not told. */
const PAST: readonly (readonly [number, number, number, number])[] = [
  [2, 11, 2, 3],
  [4, 14, 3, 4],
  [6, 10, 2, 5],
  [8, 15, 2, 3.5],
  [10, 12, 3, 4.5],
  [12, 9, 2, 4],
];
const COMING = { day: 14, hour: 13, hours: 2, mult: 4 };

const ev = (name: string, day: number, hour: number, hours: number, tag = 'promo'): CalendarEvent => ({
  name,
  tag,
  startMs: T0 + day * 24 * HOUR + hour * HOUR,
  endMs: T0 + day * 24 * HOUR + (hour + hours) * HOUR,
});
const calendar: CalendarEvent[] = [...PAST.map(([d, h, n], i) => ev(`promo-${i}`, d, h, n)), ev('coming', COMING.day, COMING.hour, COMING.hours)];

/** A daily sine around 100 QPS with noise, each promo multiplying its hours; 15 days. */
function history(): Series {
  const rand = mulberry32(11);
  const mult = (ms: number): number => {
    const i = calendar.findIndex((e) => ms >= e.startMs && ms < e.endMs);
    if (i < 0) return 1;
    return i < PAST.length ? PAST[i][3] : COMING.mult;
  };
  const values = Float64Array.from({ length: 15 * DAY }, (_, i) => (100 + 50 * Math.sin((2 * Math.PI * i) / DAY) + 6 * (rand() - 0.5)) * mult(T0 + i * STEP));
  return { startMs: T0, stepMs: STEP, values };
}

const tiny = { stepMs: STEP, horizon: 4, window: 8, units: 8, epochs: 8, patience: 5, batchSize: 32, learningRate: 0.01, seed: 3 } as const;

describe('fillEventInputs', () => {
  const cal = [ev('a', 1, 10, 2, 'promo'), ev('b', 1, 20, 1, 'launch')];
  const ix = eventIndex(cal, ['promo', 'launch']);
  const at = (hour: number): number[] => {
    const out = new Float32Array(7);
    expect(fillEventInputs(ix, { ms: T0 + 24 * HOUR + hour * HOUR, stepMs: STEP, out, k: 0 })).toBe(7);
    return Array.from(out, (v) => Number(v.toFixed(4)));
  };
  const m = (minutes: number): number => Number((minutes / EVENT_CLIP_MINUTES).toFixed(4));
  it.each([
    // [hour of day 1, active, to_start, since_start, to_end, since_end, promo, launch]
    ['far before any event', 2, [0, 1, 1, 1, 1, 0, 0]],
    ['an hour before promo a', 9, [0, m(60), 1, 1, 1, 1, 0]],
    ['30 min into promo a (launch b 9.5 h away: clipped)', 10.5, [1, 1, m(30), m(90), 1, 1, 0]],
    ['an hour after promo a', 13, [0, 1, m(180), 1, m(60), 1, 0]],
    ['in launch b', 20.25, [1, 1, m(15), m(45), 1, 0, 1]],
  ])('%s', (_, hour, want) => {
    expect(at(hour as number)).toEqual((want as number[]).map((v) => Number(v.toFixed(4))));
  });

  it('marks an event with a tag unseen in training as running, with no tag', () => {
    const out = new Float32Array(7);
    fillEventInputs(eventIndex([ev('x', 1, 10, 2, 'new-kind')], ['promo', 'launch']), { ms: T0 + 24 * HOUR + 11 * HOUR, stepMs: STEP, out, k: 0 });
    expect(out[0]).toBe(1);
    expect(Array.from(out.subarray(5))).toEqual([0, 0]);
  });

  it('keeps the most frequent tags of the events before the end of training, at most MAX_EVENT_TAGS', () => {
    const many = Array.from({ length: MAX_EVENT_TAGS + 3 }, (_, i) => ev(`e${i}`, 1, i, 1, `t${i}`));
    const tags = trainingTags([...many, ev('again', 2, 1, 1, 't5'), ev('future', 9, 1, 1, 'later')], T0 + 5 * 24 * HOUR);
    expect(tags).toHaveLength(MAX_EVENT_TAGS);
    expect(tags[0]).toBe('t5');
    expect(tags).not.toContain('later');
  });
});

describe('LstmForecaster with calendar inputs', () => {
  const series = history();
  const coming = calendar[calendar.length - 1];
  const trainEnd = COMING.day * DAY; // midnight before the coming promo
  const train = sliceSeries(series, 0, trainEnd);
  // The origin 30 min before the coming promo: the horizon (1 h) reaches 30 min into it.
  const origin = (coming.startMs - T0) / STEP - 2;
  const context = sliceSeries(series, 0, origin);
  let withCal: LstmForecaster;
  let plain: LstmForecaster;
  let dir: string;

  beforeAll(async () => {
    await initTf();
    dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-lstm-events-'));
    withCal = new LstmForecaster({ ...tiny, events: calendar });
    await withCal.fit(train);
    plain = new LstmForecaster(tiny);
    await plain.fit(train);
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('forecasts the coming promo clearly higher than the same LSTM without the calendar', () => {
    const a = withCal.predict(4, context);
    const b = plain.predict(4, context);
    // Steps 3 and 4 are the first 30 min of the promo (actual ≈ 4 × normal).
    const inEvent = (f: typeof a): number => (f.values[0][2] + f.values[0][3]) / 2;
    const actual = (series.values[origin + 2] + series.values[origin + 3]) / 2;
    expect(inEvent(a)).toBeGreaterThan(1.8 * inEvent(b));
    expect(inEvent(a)).toBeGreaterThan(0.4 * actual);
    // Before the start both forecast the normal load.
    expect(a.values[0][0]).toBeLessThan(2 * b.values[0][0]);
  });

  it('records the tags and the calendar inputs in its state; a model without events has none', () => {
    const st = withCal.state as LstmState;
    expect(st.eventTags).toEqual(['promo']);
    expect(st.denseFeatures).toEqual(expect.arrayContaining(['ev_now_active', 'ev_h4_to_start', 'ev_h1_since_start', 'ev_h2_tag_promo']));
    expect(st.events).toHaveLength(calendar.length);
    expect(plain.state?.eventTags).toBeUndefined();
    expect(plain.state?.denseFeatures.some((n) => n.startsWith('ev_'))).toBe(false);
    expect(plain.state?.denseFeatures.length).toBe(st.denseFeatures.length - (5 + 1) * (tiny.horizon + 1));
  });

  it('round-trips: save → load → identical predictions, with the calendar from meta.json', async () => {
    const out = path.join(dir, 'lstm-cal');
    await saveModel(out, { forecaster: withCal, training: train });
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as { lstm: LstmState };
    expect(meta.lstm.eventTags).toEqual(['promo']);
    const { forecaster } = await loadModel(out);
    const a = withCal.predict(4, context);
    const b = forecaster.predict(4, context);
    for (let q = 0; q < 3; q++) expect(Array.from(b.values[q])).toEqual(Array.from(a.values[q]));
  });

  it('predicts with a newer calendar handed to it, and without the coming event it does not lift', () => {
    const f = LstmForecaster.fromParts(withCal.layersModel!, withCal.state!, { events: calendar.slice(0, -1) });
    const without = f.predict(4, context).values[0][3];
    f.setEvents(calendar);
    expect(f.predict(4, context).values[0][3]).toBeGreaterThan(1.5 * without);
  });

  it.each([
    ['an end before the start', [{ name: 'x', tag: 'promo', startMs: T0 + HOUR, endMs: T0 }], /event "x" ends .* before or when it starts/],
    ['no tag', [{ name: 'y', tag: ' ', startMs: T0, endMs: T0 + HOUR }], /event "y" needs a non-empty tag/],
    ['a time that is not a number', [{ name: 'z', tag: 'promo', startMs: NaN, endMs: T0 }], /event "z" needs finite startMs and endMs, NaN/],
  ])('rejects a calendar with %s', (_, events, msg) => {
    expect(() => new LstmForecaster({ ...tiny, events: events as CalendarEvent[] })).toThrow(InputError);
    expect(() => new LstmForecaster({ ...tiny, events: events as CalendarEvent[] })).toThrow(msg);
  });

  it('refuses events for a model fitted without calendar inputs, and a bad oversampling factor', () => {
    expect(() => plain.setEvents(calendar)).toThrow('fitted without calendar inputs');
    expect(() => LstmForecaster.fromParts(plain.layersModel!, plain.state!, { events: calendar })).toThrow('fitted without calendar inputs');
    expect(() => new LstmForecaster({ ...tiny, events: calendar, eventOversample: 0 })).toThrow('eventOversample must be a whole number >= 1, 0 given');
  });
});
