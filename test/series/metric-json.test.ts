import { describe, expect, it } from '@jest/globals';
import { parseCloudWatchJson, parsePrometheusJson } from '../../src/series/metric-json.js';
import { InputError } from '../../src/util/errors.js';

const gaps = (v: Float64Array): (number | null)[] => Array.from(v, (x) => (Number.isNaN(x) ? null : x));

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

// As `aws cloudwatch get-metric-data` prints it: newest first, ISO timestamps.
const page1 = {
  MetricDataResults: [
    { Id: 'inv', Label: 'Invocations', Timestamps: ['2024-03-01T00:04:00+00:00', '2024-03-01T00:03:00+00:00'], Values: [600, 300], StatusCode: 'PartialData' },
  ],
  NextToken: 'x',
};
const page2 = {
  MetricDataResults: [
    { Id: 'inv', Label: 'Invocations', Timestamps: ['2024-03-01T00:01:00+00:00', '2024-03-01T00:00:00+00:00'], Values: [120, 60], StatusCode: 'Complete' },
  ],
};

describe('parseCloudWatchJson', () => {
  it('joins pages, sorts newest-first data, divides a Sum by the period, and leaves missing periods as gaps', () => {
    const s = parseCloudWatchJson([page1, page2], { unit: 'count-per-interval', source: 'cw.json' });
    expect(s.startMs).toBe(Date.parse('2024-03-01T00:00:00Z'));
    expect(s.stepMs).toBe(60_000);
    expect(gaps(s.values)).toEqual([1, 2, null, 5, 10]);
  });

  it('takes the stated period and epoch-second timestamps (the SDK form)', () => {
    const t = Date.parse('2024-03-01T00:00:00Z') / 1000;
    const doc = { MetricDataResults: [{ Id: 'a', Timestamps: [t, t + 600], Values: [300, 600] }] };
    const s = parseCloudWatchJson(doc, { unit: 'count-per-interval', periodSeconds: 300 });
    expect(gaps(s.values)).toEqual([1, null, 2]);
    expect(gaps(parseCloudWatchJson(doc, { unit: 'per-minute', periodSeconds: 300 }).values)).toEqual([5, null, 10]);
  });

  it('needs an Id when the file holds several queries', () => {
    const doc = { MetricDataResults: [...page2.MetricDataResults, { Id: 'err', Timestamps: ['2024-03-01T00:00:00Z', '2024-03-01T00:01:00Z'], Values: [1, 2] }] };
    expect(errorOf(() => parseCloudWatchJson(doc, { unit: 'per-second', source: 'cw.json' }))).toMatch(/cw\.json: holds several queries \(inv, err\); pick one by its Id/);
    expect(gaps(parseCloudWatchJson(doc, { unit: 'per-second', id: 'err' }).values)).toEqual([1, 2]);
    expect(errorOf(() => parseCloudWatchJson(doc, { unit: 'per-second', id: 'nope' }))).toMatch(/no query with Id "nope"; the Ids are inv, err/);
  });

  it.each([
    [{ MetricDataResults: [{ Id: 'a', Timestamps: ['2024-03-01T00:00:00Z'], Values: [] }] }, /has 1 timestamps but 0 values/],
    [{ MetricDataResults: [{ Id: 'a', Timestamps: ['2024-03-01T00:00:00Z', '2024-03-01T00:01:00Z'], Values: [1, -1] }] }, /point 1: value -1 is negative/],
    [{ MetricDataResults: [{ Id: 'a', Timestamps: ['yesterday', '2024-03-01T00:01:00Z'], Values: [1, 1] }] }, /timestamp "yesterday" is neither/],
    [{ MetricDataResults: [{ Id: 'a', Timestamps: [], Values: [], StatusCode: 'Forbidden' }] }, /StatusCode Forbidden/],
    [[page2, page2], /duplicate timestamp/],
    [{ MetricDataResults: [] }, /no MetricDataResults/],
  ])('rejects bad exports (%#)', (doc, re) => {
    expect(errorOf(() => parseCloudWatchJson(doc, { unit: 'count-per-interval', source: 'cw.json' }))).toMatch(re);
  });
});

const t0 = Date.parse('2024-03-01T00:00:00Z') / 1000;
const prom = {
  status: 'success',
  data: {
    resultType: 'matrix',
    result: [
      { metric: { job: 'api', instance: 'a' }, values: [[t0, '1'], [t0 + 60, '2'], [t0 + 180, '3']] },
      { metric: { job: 'api', instance: 'b' }, values: [[t0, '10'], [t0 + 60, 'NaN'], [t0 + 180, '30']] },
    ],
  },
};

describe('parsePrometheusJson', () => {
  it('sums all series by timestamp, with absent steps as gaps', () => {
    const s = parsePrometheusJson(prom, { unit: 'per-second' });
    expect(s.startMs).toBe(t0 * 1000);
    expect(s.stepMs).toBe(60_000);
    expect(gaps(s.values)).toEqual([11, 2, null, 33]);
  });

  it('picks series by label matchers', () => {
    expect(gaps(parsePrometheusJson(prom, { unit: 'per-second', select: 'instance=b' }).values)).toEqual([10, null, null, 30]);
    expect(gaps(parsePrometheusJson(prom, { unit: 'per-minute', select: 'job="api",instance="a"' }).values)).toEqual([1 / 60, 2 / 60, null, 3 / 60]);
    expect(errorOf(() => parsePrometheusJson(prom, { unit: 'per-second', select: 'instance=c', source: 'p.json' }))).toMatch(
      /p\.json: no series matches instance=c; the series are \{"job":"api","instance":"a"\}/,
    );
  });

  it.each([
    [{ status: 'error', errorType: 'bad_data', error: 'parse error' }, /returned status error: parse error/],
    [{ status: 'success', data: { resultType: 'vector', result: [] } }, /resultType must be "matrix"/],
    [{ status: 'success', data: { resultType: 'matrix', result: [] } }, /returned no series/],
    [{ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[t0, 'x']] }] } }, /values\[0\]: value "x" is not a number/],
    [{ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[t0, '-2'], [t0 + 60, '1']] }] } }, /value -2 is negative/],
    [{ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[t0, 1]] }] } }, /must be \[unixSeconds, "value"\]/],
  ])('rejects bad responses (%#)', (doc, re) => {
    expect(errorOf(() => parsePrometheusJson(doc, { unit: 'per-second', source: 'p.json' }))).toMatch(re);
  });
});
