import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { eventsCsv, loadEventsFile, parseEventsCsv, parseEventsJson, type CalendarEvent } from '../../src/events/events.js';
import { InputError } from '../../src/util/errors.js';

const T0 = Date.UTC(2026, 0, 18, 12);

describe('parseEventsCsv', () => {
  it('reads the required and optional columns, times without a zone as UTC', () => {
    const csv = 'name,start,end,tag,multiplier,minCapacity\n' + 'sale,2026-01-18T12:00:00Z,2026-01-18T14:00,promo,3.5,40\n\n' + '"launch, big",2026-01-19T10:00:00+01:00,2026-01-19T11:00:00+01:00,launch,,\n';
    expect(parseEventsCsv(csv, 'cal.csv')).toEqual([
      { name: 'sale', startMs: T0, endMs: T0 + 2 * 3600_000, tag: 'promo', multiplier: 3.5, minCapacity: 40 },
      { name: 'launch, big', startMs: Date.UTC(2026, 0, 19, 9), endMs: Date.UTC(2026, 0, 19, 10), tag: 'launch' },
    ]);
  });

  it('reads back what eventsCsv writes for a name holding a line break, a comma and a double quote', () => {
    const ev: CalendarEvent[] = [
      { name: 'Big "Spring"\nsale, day 1', startMs: T0, endMs: T0 + 3600_000, tag: 'promo, "flash"', multiplier: 2 },
      { name: 'after', startMs: T0 + 7200_000, endMs: T0 + 10_800_000, tag: 'launch' },
    ];
    const csv = eventsCsv(ev);
    expect(csv).toBe(
      'name,start,end,tag,multiplier\n' +
        '"Big ""Spring""\nsale, day 1",2026-01-18T12:00:00.000Z,2026-01-18T13:00:00.000Z,"promo, ""flash""",2\n' +
        'after,2026-01-18T14:00:00.000Z,2026-01-18T15:00:00.000Z,launch,\n',
    );
    expect(parseEventsCsv(csv, 'cal.csv')).toEqual(ev);
    expect(parseEventsCsv(csv.replace(/\n/g, '\r\n'), 'cal.csv')).toEqual([{ ...ev[0], name: 'Big "Spring"\r\nsale, day 1' }, ev[1]]);
  });

  it('names the line of a row after a record over several lines as the file numbers it', () => {
    const csv = 'name,start,end,tag\n"two\nline\nname",2026-01-18T12:00:00Z,2026-01-18T13:00:00Z,promo\n\nx,2026-01-18T14:00:00Z,2026-01-18T12:00:00Z,promo\n';
    expect(() => parseEventsCsv(csv, 'cal.csv')).toThrow('cal.csv:6: end (2026-01-18T12:00:00.000Z) must be after start (2026-01-18T14:00:00.000Z)');
    const unclosed = 'name,start,end,tag\n"a\nb",2026-01-18T12:00:00Z,2026-01-18T13:00:00Z,promo\n"c,2026-01-18T14:00:00Z,2026-01-18T15:00:00Z,promo\n';
    expect(() => parseEventsCsv(unclosed, 'cal.csv')).toThrow('cal.csv:4: unterminated quoted field');
  });

  it('takes the header from the first line that is not blank, with a BOM and CR line ends', () => {
    const csv = '\uFEFF\r\rname,start,end,tag\rsale,2026-01-18T12:00:00Z,2026-01-18T13:00:00Z,promo\r';
    expect(parseEventsCsv(csv, 'cal.csv')).toEqual([{ name: 'sale', startMs: T0, endMs: T0 + 3600_000, tag: 'promo' }]);
    expect(() => parseEventsCsv('\n\nname,start,end,tag,mult\n', 'cal.csv')).toThrow('cal.csv:3: unknown column "mult"');
  });

  it.each([
    ['bad time', 'name,start,end,tag\nx,2026-13-45,2026-01-18T14:00:00Z,promo\n', /cal\.csv:2: start is not an ISO date-time: "2026-13-45"/],
    ['end before start', 'name,start,end,tag\nx,2026-01-18T14:00:00Z,2026-01-18T12:00:00Z,promo\n', /cal\.csv:2: end \(2026-01-18T12:00:00.000Z\) must be after start/],
    ['end equals start', 'name,start,end,tag\n\nx,2026-01-18T14:00:00Z,2026-01-18T14:00:00Z,promo\n', /cal\.csv:3: end .* must be after start/],
    ['unknown column', 'name,start,end,tag,mult\n', /cal\.csv:1: unknown column "mult"/],
    ['missing column', 'name,start,end\n', /cal\.csv:1: missing column "tag"/],
    ['negative multiplier', 'name,start,end,tag,multiplier\nx,2026-01-18T12:00:00Z,2026-01-18T14:00:00Z,promo,-2\n', /cal\.csv:2: multiplier must be > 0, -2 given/],
    ['text multiplier', 'name,start,end,tag,multiplier\nx,2026-01-18T12:00:00Z,2026-01-18T14:00:00Z,promo,lots\n', /cal\.csv:2: multiplier must be a number, "lots" given/],
    ['fractional minCapacity', 'name,start,end,tag,minCapacity\nx,2026-01-18T12:00:00Z,2026-01-18T14:00:00Z,promo,2.5\n', /cal\.csv:2: minCapacity must be a whole number >= 0/],
    ['empty tag', 'name,start,end,tag\nx,2026-01-18T12:00:00Z,2026-01-18T14:00:00Z,\n', /cal\.csv:2: tag must be a non-empty text/],
    ['field count', 'name,start,end,tag\nx,2026-01-18T12:00:00Z\n', /cal\.csv:2: 2 fields, the header has 4/],
    ['unterminated quote', 'name,start,end,tag\n"x,2026-01-18T12:00:00Z\n', /cal\.csv:2: unterminated quoted field/],
    ['empty file', '\n\n', /cal\.csv: empty/],
  ])('%s is an InputError naming file and line', (_label, csv, message) => {
    expect(() => parseEventsCsv(csv, 'cal.csv')).toThrow(InputError);
    expect(() => parseEventsCsv(csv, 'cal.csv')).toThrow(message);
  });
});

describe('parseEventsJson', () => {
  it('reads what synth --events-out writes (extra synth keys ignored)', () => {
    const json = JSON.stringify([{ name: 'promo-day-6', startMs: T0, endMs: T0 + 60_000, multiplier: 4.2, peakQps: 120000, tag: 'promo', start: '2026-01-18T12:00:00.000Z', end: '2026-01-18T12:01:00.000Z' }]);
    expect(parseEventsJson(json)).toEqual([{ name: 'promo-day-6', startMs: T0, endMs: T0 + 60_000, tag: 'promo', multiplier: 4.2 }]);
  });

  it.each([
    ['not JSON', '[', /ev\.json: not valid JSON/],
    ['not an array', '{}', /ev\.json: expected an array/],
    ['unknown key', '[{"name":"a","start":"2026-01-18T12:00:00Z","end":"2026-01-18T13:00:00Z","tag":"p","boost":2}]', /ev\.json: \[0\]: unknown key "boost"/],
    ['negative multiplier', '[{"name":"a","start":"2026-01-18T12:00:00Z","end":"2026-01-18T13:00:00Z","tag":"p","multiplier":-1}]', /\[0\]: multiplier must be > 0/],
    ['missing tag', '[{"name":"a","start":"2026-01-18T12:00:00Z","end":"2026-01-18T13:00:00Z"}]', /\[0\]: tag must be a non-empty text, null given/],
  ])('%s is an InputError', (_l, text, message) => {
    expect(() => parseEventsJson(text, 'ev.json')).toThrow(message);
  });
});

describe('loadEventsFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('picks the parser by extension and names a missing file', () => {
    const ev: CalendarEvent[] = [{ name: 'a', startMs: T0, endMs: T0 + 3600_000, tag: 'promo' }];
    writeFileSync(path.join(dir, 'a.csv'), eventsCsv(ev));
    writeFileSync(path.join(dir, 'a.json'), JSON.stringify([{ name: 'a', start: '2026-01-18T12:00:00Z', end: '2026-01-18T13:00:00Z', tag: 'promo' }]));
    expect(loadEventsFile(path.join(dir, 'a.csv'))).toEqual(ev);
    expect(loadEventsFile(path.join(dir, 'a.json'))).toEqual(ev);
    expect(() => loadEventsFile(path.join(dir, 'none.csv'))).toThrow(/none\.csv: cannot read events/);
  });
});

describe('events CSV properties', () => {
  // Names and tags may hold what CSV quoting is for: line breaks, commas, double quotes.
  const unit = fc.oneof(fc.constantFrom('\n', '\r', '\r\n', '"', ','), fc.string({ minLength: 1, maxLength: 1 }));
  const text = fc.string({ minLength: 1, maxLength: 12, unit }).filter((s) => s.trim() === s && s.trim() !== '');
  const event = fc
    .record({
      name: text,
      tag: text,
      start: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2090, 0, 1) }),
      len: fc.integer({ min: 1, max: 10 * 86_400_000 }),
      multiplier: fc.option(fc.double({ min: 0.001, max: 1000, noNaN: true }), { nil: undefined }),
      minCapacity: fc.option(fc.nat(100_000), { nil: undefined }),
    })
    .map((r): CalendarEvent => ({
      name: r.name,
      tag: r.tag,
      startMs: r.start,
      endMs: r.start + r.len,
      ...(r.multiplier !== undefined ? { multiplier: r.multiplier } : {}),
      ...(r.minCapacity !== undefined ? { minCapacity: r.minCapacity } : {}),
    }));

  it('eventsCsv then parseEventsCsv gives the same events', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 8 }), (events) => {
        expect(parseEventsCsv(eventsCsv(events))).toEqual(events);
      }),
      { numRuns: 200 },
    );
  });

  it('any text either parses to valid events or throws an InputError (never another error)', () => {
    const line = fc.array(fc.oneof(fc.constantFrom('x', '2026-01-18T12:00:00Z', '2026-01-18T13:00:00Z', '-1', '2', '"q""', '', ' '), fc.string({ maxLength: 6 })), { maxLength: 6 }).map((c) => c.join(','));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 5 }), (lines) => {
        const csv = ['name,start,end,tag,multiplier', ...lines].join('\n');
        try {
          for (const e of parseEventsCsv(csv)) {
            expect(e.endMs).toBeGreaterThan(e.startMs);
            expect(e.multiplier === undefined || e.multiplier > 0).toBe(true);
          }
        } catch (err: unknown) {
          expect(err).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
