import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { modalStep, parseCsvSeries, parseTimestamp, type RateUnit } from '../../src/series/csv.js';
import { InputError } from '../../src/util/errors.js';

const T0 = Date.parse('2024-03-01T00:00:00Z');
const gaps = (v: Float64Array): (number | null)[] => Array.from(v, (x) => (Number.isNaN(x) ? null : x));

function parseError(text: string, valueColumn?: string): string {
  try {
    parseCsvSeries(text, { unit: 'per-second', valueColumn, source: 'f.csv' });
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('parseTimestamp', () => {
  it.each([
    ['2024-03-01 00:00:00', T0],
    ['2024-03-01T00:00:00Z', T0],
    ['2024-03-01T02:00:00+02:00', T0],
    ['2024-02-29T19:00:00-0500', T0],
    ['2024-03-01T00:00', T0],
    ['2024-03-01', T0],
    ['2024-03-01 00:00:00.250', T0 + 250],
  ])('%s', (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it.each(['2023-02-29 00:00:00', '2024-13-01', '2024-03-01 24:00:00', '03/01/2024', '', 'now'])('rejects %s', (text) => {
    expect(parseTimestamp(text)).toBeNaN();
  });
});

describe('parseCsvSeries', () => {
  it.each<[RateUnit, number]>([
    ['count-per-interval', 300 / 300],
    ['per-minute', 300 / 60],
    ['per-second', 300],
  ])('converts a value of 300 at a 5-minute step, unit %s, to %d requests per second', (unit, qps) => {
    const s = parseCsvSeries('time,v\n2024-03-01 00:00:00,300\n2024-03-01 00:05:00,300\n', { unit });
    expect(s.stepMs).toBe(300_000);
    expect(Array.from(s.values)).toEqual([qps, qps]);
  });

  it('puts jittered timestamps on the most common step and leaves missing rows and empty cells as gaps', () => {
    const text = [
      'timestamp,value',
      '2024-03-01 00:00:53,60',
      '2024-03-01 00:01:53,120',
      '2024-03-01 00:02:51,',
      '2024-03-01 00:03:55,30',
      // 00:04 missing
      '2024-03-01 00:05:53,NaN',
      '2024-03-01 00:06:53,6',
    ].join('\r\n');
    const s = parseCsvSeries(text, { unit: 'count-per-interval' });
    expect(s.startMs).toBe(T0 + 53_000);
    expect(s.stepMs).toBe(60_000);
    expect(gaps(s.values)).toEqual([1, 2, null, 0.5, null, null, 0.1]);
  });

  it('adds up counts that jitter puts on one grid point, and averages rates', () => {
    const text = 'time,v\n2024-03-01 00:00:00,10\n2024-03-01 00:01:00,20\n2024-03-01 00:02:00,30\n2024-03-01 00:02:20,30\n';
    expect(Array.from(parseCsvSeries(text, { unit: 'count-per-interval' }).values)).toEqual([10 / 60, 20 / 60, 60 / 60]);
    expect(Array.from(parseCsvSeries(text, { unit: 'per-second' }).values)).toEqual([10, 20, 30]);
  });

  it('reads minute_offset from the stated origin and picks the value column by name', () => {
    const text = 'minute_offset,other,tweets\n0,1,60\n1,1,120\n3,1,180\n';
    const s = parseCsvSeries(text, { unit: 'count-per-interval', valueColumn: 'tweets', originMs: T0 });
    expect(s.startMs).toBe(T0);
    expect(gaps(s.values)).toEqual([1, 2, null, 3]);
    expect(parseCsvSeries(text, { unit: 'per-second' }).startMs).toBe(0);
    expect(Array.from(parseCsvSeries(text, { unit: 'per-second' }).values.slice(0, 2))).toEqual([1, 1]);
  });

  it.each([
    ['', undefined, /f\.csv: the file is empty/],
    ['\n\n', undefined, /f\.csv: the file is empty/],
    ['time,v\n', undefined, /f\.csv: has a header but no data rows/],
    ['time,v\n2024-03-01 00:00:00,1\n', undefined, /needs at least two data points/],
    ['time,v\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,1\n', 'requests', /no value column "requests"; the columns are "time", "v"/],
    ['time,v\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,abc\n', undefined, /f\.csv: line 3: value "abc" is not a number/],
    ['time,v\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,-4\n', undefined, /line 3: value -4 is negative/],
    ['time,v\n2024-03-01 00:01:00,1\n2024-03-01 00:00:00,1\n', undefined, /line 3: timestamps must increase/],
    ['time,v\n2024-03-01 00:01:00,1\n2024-03-01 00:01:00,2\n', undefined, /line 3: duplicate timestamp 2024-03-01T00:01:00.000Z \(also at line 2\)/],
    ['time,v\nyesterday,1\n', undefined, /line 2: "yesterday" is not a timestamp/],
    ['time,v\n2024-03-01 00:00:00\n', undefined, /line 2: has 1 cells, the header has 2/],
    ['2024-03-01 00:00:00,1\n2024-03-01 00:01:00,1\n', undefined, /line 1 is data/],
    ['minute_offset,v\nx,1\n', undefined, /line 2: minute_offset must be a number, "x" given/],
    ['time,v\n2024-03-01 00:00:00,Infinity\n', undefined, /not a number/],
  ])('rejects %j with a message naming the file and line', (text, col, re) => {
    expect(parseError(text, col)).toMatch(re);
  });

  it('reads a quoted header and quoted cells, a comma inside quotes included, and picks a quoted column by name', () => {
    const text = '"time","requests, per minute",other\r\n"2024-03-01 00:00:00", "60" ,x\r\n2024-03-01 00:01:00,"120","a, b"\r\n';
    const s = parseCsvSeries(text, { unit: 'per-minute', valueColumn: 'requests, per minute', source: 'f.csv' });
    expect(s.startMs).toBe(T0);
    expect(s.stepMs).toBe(60_000);
    expect(Array.from(s.values)).toEqual([1, 2]);
  });

  it('numbers the lines after a quoted cell over several lines as the file does', () => {
    const text = 'time,v,note\n2024-03-01 00:00:00,1,"two\nlines"\n\n2024-03-01 00:01:00,oops,x\n';
    expect(parseError(text)).toBe('f.csv: line 5: value "oops" is not a number');
  });

  it('names the file and the line of an unclosed quote', () => {
    expect(parseError('time,v\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,"2\n2024-03-01 00:02:00,3\n')).toBe('f.csv: line 3: unterminated quoted field');
  });

  it('still takes the first line as the header: a blank one is an empty header', () => {
    expect(parseError('\ntime,v\n2024-03-01 00:00:00,1\n')).toBe('f.csv: line 1: the header needs a time column and a value column, found ""');
  });

  it('finds the native step as the most common difference', () => {
    expect(modalStep([0, 60, 120, 300, 360, 420])).toBe(60);
    expect(modalStep([0, 300, 600, 660])).toBe(300);
  });

  it('never throws anything but an InputError, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom<RateUnit>('count-per-interval', 'per-second'), (text, unit) => {
        try {
          parseCsvSeries(text, { unit });
        } catch (err: unknown) {
          if (!(err instanceof InputError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
    const cell = fc.oneof(fc.constantFrom('', 'NaN', '2024-03-01 00:00:00', '-1', '1e3', '0'), fc.string({ maxLength: 6 }), fc.nat().map(String));
    const line = fc.array(cell, { minLength: 1, maxLength: 3 }).map((c) => c.join(','));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        try {
          parseCsvSeries(['minute_offset,v', ...lines].join('\n'), { unit: 'per-second' });
          parseCsvSeries(['time,v', ...lines].join('\n'), { unit: 'per-second' });
        } catch (err: unknown) {
          if (!(err instanceof InputError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips a series with gaps through every time format', () => {
    const value = fc.option(fc.double({ min: 0, max: 1e7, noNaN: true }), { nil: null, freq: 4 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.constantFrom(60_000, 300_000, 3_600_000),
        fc.array(value, { minLength: 2, maxLength: 40 }),
        fc.constantFrom('iso', 'space', 'offset'),
        (startMinute, stepMs, vals, format) => {
          const startMs = startMinute * 60_000;
          const time = (i: number): string => {
            const d = new Date(startMs + i * stepMs).toISOString();
            if (format === 'iso') return d;
            if (format === 'space') return d.slice(0, 19).replace('T', ' ');
            return String((i * stepMs) / 60_000);
          };
          const header = format === 'offset' ? 'minute_offset,qps' : 'timestamp,qps';
          const rows = vals.map((v, i) => `${time(i)},${v === null ? '' : String(v)}`);
          const s = parseCsvSeries([header, ...rows].join('\n'), { unit: 'per-second', originMs: format === 'offset' ? startMs : undefined });
          expect(s.startMs).toBe(startMs);
          expect(s.stepMs).toBe(stepMs);
          expect(gaps(s.values)).toEqual(vals);
        },
      ),
      { numRuns: 200 },
    );
  });
});
