import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainCommand, trainCommandLine } from '../../src/commands/train-command.js';
import type { ModelMeta } from '../../src/forecast/artefact.js';

const STEP = 15 * 60_000;
const PER_DAY = 96;
const T0 = Date.UTC(2026, 0, 5);
/** Three days at 15 min: a daily cycle, and a x4 promo over 12:00-13:00 on the third day. */
const values = Array.from({ length: 3 * PER_DAY }, (_, i) => {
  const k = i % PER_DAY;
  return (200 + 100 * Math.sin((2 * Math.PI * k) / PER_DAY)) * (i >= 2 * PER_DAY + 48 && i < 2 * PER_DAY + 52 ? 4 : 1);
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-train-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const trace = path.join(dir, 'trace.csv');
writeFileSync(trace, ['timestamp,qps', ...values.map((v, i) => `${new Date(T0 + i * STEP).toISOString()},${v}`)].join('\n') + '\n');
const calendar = path.join(dir, 'calendar.csv');
writeFileSync(calendar, 'name,start,end,tag\nsale,2026-01-07T12:00:00Z,2026-01-07T13:00:00Z,promo\n');

async function train(out: string, events?: string): Promise<number[]> {
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await trainCommand({ trace, unit: 'per-second', model: 'seasonal-naive', stepMinutes: '15', horizonMinutes: '30', seed: '1', out, ...(events ? { events } : {}) });
  } finally {
    err.mockRestore();
  }
  return (JSON.parse(readFileSync(path.join(out, 'history.json'), 'utf8')) as { values: number[] }).values;
}

describe('prescale train --events', () => {
  it('fits on the trace with the calendar events (and their hour margins) replaced by the load a day earlier', async () => {
    const raw = await train(path.join(dir, 'raw'));
    const clean = await train(path.join(dir, 'clean'), calendar);
    const promo = 2 * PER_DAY + 49;
    expect(raw[promo]).toBeCloseTo(4 * values[promo - PER_DAY], 6);
    expect(clean[promo]).toBeCloseTo(values[promo - PER_DAY], 6);
    // The margins: an hour either side is the day before too; the rest of the day is untouched.
    expect(clean.slice(2 * PER_DAY + 44, 2 * PER_DAY + 56)).toEqual(values.slice(PER_DAY + 44, PER_DAY + 56));
    expect(clean.slice(0, 2 * PER_DAY + 44)).toEqual(raw.slice(0, 2 * PER_DAY + 44));
    const meta = JSON.parse(readFileSync(path.join(dir, 'clean', 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.command).toContain(`--events ${calendar}`);
  });

  it('records --events in the command line and a bad calendar names file and line', async () => {
    expect(trainCommandLine({ trace, model: 'naive', stepMinutes: '5', horizonMinutes: '30', seed: '1', events: 'cal.csv', out: 'm' })).toContain('--events cal.csv --out m');
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'name,start,end,tag\nx,2026-01-07T14:00:00Z,2026-01-07T12:00:00Z,promo\n');
    await expect(train(path.join(dir, 'bad'), bad)).rejects.toThrow(`${bad}:2: end (2026-01-07T12:00:00.000Z) must be after start`);
  });

  it('--calendar-mode inputs trains the lstm on the raw trace with the calendar as inputs, saved in meta.json', async () => {
    const out = path.join(dir, 'lstm-inputs');
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await trainCommand({ trace, unit: 'per-second', model: 'lstm', stepMinutes: '15', horizonMinutes: '30', seed: '1', epochs: '1', events: calendar, calendarMode: 'inputs', out });
    } finally {
      err.mockRestore();
    }
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.lstm?.eventTags).toEqual(['promo']);
    expect(meta.lstm?.events?.map((e) => e.name)).toEqual(['sale']);
    expect(meta.lstm?.denseFeatures).toContain('ev_h1_active');
    // Fitted on the raw trace: the saved tail still holds the promo (the default mode would hold the day before).
    const promo = 2 * PER_DAY + 49;
    const at = (T0 + promo * STEP - meta.lstm!.tailStartMs) / STEP;
    expect(meta.lstm?.tail[at]).toBeCloseTo(values[promo], 6);
    expect(values[promo]).toBeCloseTo(4 * values[promo - PER_DAY], 6);
    expect(meta.command).toContain(`--events ${calendar} --calendar-mode inputs`);
  });

  it('--events with --model lstm and no --calendar-mode takes the calendar as inputs (its default)', async () => {
    const out = path.join(dir, 'lstm-default');
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await trainCommand({ trace, unit: 'per-second', model: 'lstm', stepMinutes: '15', horizonMinutes: '30', seed: '1', epochs: '1', events: calendar, out });
    } finally {
      err.mockRestore();
    }
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.lstm?.eventTags).toEqual(['promo']);
  });

  it.each<[string, { model: string; events?: boolean; calendarMode: string }, string]>([
    ['inputs for another method', { model: 'seasonal-naive', events: true, calendarMode: 'inputs' }, '--calendar-mode inputs: only the lstm takes the calendar as inputs, --model seasonal-naive given'],
    ['a mode without --events', { model: 'lstm', calendarMode: 'inputs' }, '--calendar-mode needs --events'],
    ['an unknown mode', { model: 'lstm', events: true, calendarMode: 'both' }, '--calendar-mode must be one of uplift, inputs, "both" given'],
  ])('--calendar-mode: %s is an InputError', async (_, f, message) => {
    const flags = { trace, unit: 'per-second' as const, stepMinutes: '15', horizonMinutes: '30', seed: '1', out: path.join(dir, 'never'), model: f.model, calendarMode: f.calendarMode, ...(f.events ? { events: calendar } : {}) };
    await expect(trainCommand(flags)).rejects.toThrow(message);
  });
});
