import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSeriesFile } from '../../src/series/load.js';
import { InputError } from '../../src/util/errors.js';

let dir = '';
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadSeriesFile', () => {
  it('reads CSV as counts per interval by default', () => {
    const r = loadSeriesFile(file('a.csv', 'time,requests\n2024-03-01 00:00:00,60\n2024-03-01 00:01:00,120\n'));
    expect(r.format).toBe('csv');
    expect(r.unit).toBe('count-per-interval');
    expect(Array.from(r.series.values)).toEqual([1, 2]);
  });

  it('recognises CloudWatch JSON by content, whatever the extension, and uses --value-col as the Id', () => {
    const doc = { MetricDataResults: [{ Id: 'q1', Timestamps: ['2024-03-01T00:01:00Z', '2024-03-01T00:00:00Z'], Values: [120, 60] }] };
    const r = loadSeriesFile(file('export.txt', JSON.stringify(doc)), { valueColumn: 'q1' });
    expect(r.format).toBe('cloudwatch');
    expect(Array.from(r.series.values)).toEqual([1, 2]);
  });

  it('reads Prometheus JSON as a rate per second by default', () => {
    const doc = { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1709251200, '4'], [1709251260, '5']] }] } };
    const r = loadSeriesFile(file('p.json', JSON.stringify(doc)));
    expect(r.format).toBe('prometheus');
    expect(r.unit).toBe('per-second');
    expect(Array.from(r.series.values)).toEqual([4, 5]);
  });

  it.each([
    ['x.json', '{"hello": 1}', /x\.json: JSON that is neither CloudWatch/],
    ['y.json', '{"MetricDataResults": [', /y\.json: not valid JSON/],
  ])('rejects %s', (name, text, re) => {
    expect(() => loadSeriesFile(file(name, text))).toThrow(re);
    expect(() => loadSeriesFile(file(name, text))).toThrow(InputError);
  });

  it('names a missing file', () => {
    const p = path.join(dir, 'missing.csv');
    expect(() => loadSeriesFile(p)).toThrow(InputError);
    expect(() => loadSeriesFile(p)).toThrow(/cannot read .*missing\.csv/);
  });
});
