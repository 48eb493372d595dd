import { describe, expect, it } from '@jest/globals';
import type { GetMetricDataCommandInput, GetMetricDataCommandOutput, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import type { MetricDataApi } from '../../src/aws/clients.js';
import { CloudWatchSource, splitByAge, splitByDatapoints, type CloudWatchSourceOptions } from '../../src/sources/cloudwatch.js';
import { DAY_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;

/** A fake GetMetricData answering from a function of the request; records every request. */
class FakeMetricData implements MetricDataApi {
  readonly requests: GetMetricDataCommandInput[] = [];
  constructor(private readonly answer: (input: GetMetricDataCommandInput, call: number) => Partial<GetMetricDataCommandOutput> | Error | 'hang') {}
  getMetricData(input: GetMetricDataCommandInput, signal?: AbortSignal): Promise<GetMetricDataCommandOutput> {
    this.requests.push(input);
    const a = this.answer(input, this.requests.length - 1);
    if (a === 'hang') {
      return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('The operation was aborted'))));
    }
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve({ $metadata: {}, ...a } as GetMetricDataCommandOutput);
  }
}

function result(points: [number, number][], status: MetricDataResult['StatusCode'] = 'Complete'): MetricDataResult {
  return { Id: 'm0', Label: 'x', StatusCode: status, Timestamps: points.map(([t]) => new Date(t)), Values: points.map(([, v]) => v) };
}

function source(api: MetricDataApi, o: Partial<CloudWatchSourceOptions> = {}): CloudWatchSource {
  return new CloudWatchSource({
    api,
    namespace: 'AWS/Lambda',
    metric: 'Invocations',
    dimensions: { FunctionName: 'checkout', Resource: 'checkout:live' },
    statistic: 'Sum',
    periodSeconds: 60,
    clock: new ManualClock(NOW),
    ...o,
  });
}

describe('splitByAge', () => {
  it.each([
    ['last hour: one 60 s part', NOW - HOUR, NOW, [[NOW - HOUR, NOW, 60]]],
    [
      '20 days back: 300 s beyond 15 days, 60 s after',
      NOW - 20 * DAY_MS,
      NOW,
      [
        [NOW - 20 * DAY_MS, NOW - 15 * DAY_MS, 300],
        [NOW - 15 * DAY_MS, NOW, 60],
      ],
    ],
    [
      '70 days back: 3600 s, 300 s, 60 s',
      NOW - 70 * DAY_MS,
      NOW,
      [
        [NOW - 70 * DAY_MS, NOW - 63 * DAY_MS, 3600],
        [NOW - 63 * DAY_MS, NOW - 15 * DAY_MS, 300],
        [NOW - 15 * DAY_MS, NOW, 60],
      ],
    ],
  ])('%s', (_name, from, to, want) => {
    const got = splitByAge({ fromMs: from, toMs: to, periodS: 60, nowMs: NOW }).map((c) => [c.fromMs, c.toMs, c.periodS]);
    expect(got).toEqual(want);
  });

  it('moves a boundary later onto the coarser grid and keeps periods whole multiples of the Series step', () => {
    const now = NOW + 7 * MINUTE_MS;
    const got = splitByAge({ fromMs: now - 16 * DAY_MS, toMs: now, periodS: 120, nowMs: now });
    expect(got[0].periodS).toBe(600); // lcm(120, 300)
    expect(got[0].toMs % 600_000).toBe(0);
    expect(got[0].toMs).toBeGreaterThanOrEqual(now - 15 * DAY_MS);
    expect(got[1]).toMatchObject({ fromMs: got[0].toMs, toMs: now, periodS: 120 });
  });

  it('splits a part so that no call asks for more than 100,800 datapoints', () => {
    const parts = splitByDatapoints({ fromMs: 0, toMs: 250_000 * 60_000, periodS: 60 });
    expect(parts.map((p) => (p.toMs - p.fromMs) / 60_000)).toEqual([100_800, 100_800, 48_400]);
    expect(parts[1].fromMs).toBe(parts[0].toMs);
  });
});

describe('CloudWatchSource', () => {
  it('pages with NextToken (through PartialData), turns Sum per minute into requests/second, and leaves gaps NaN', async () => {
    const from = NOW - 10 * MINUTE_MS;
    const api = new FakeMetricData((_input, call) =>
      call === 0
        ? { MetricDataResults: [result([[from, 600], [from + MINUTE_MS, 1200]], 'PartialData')], NextToken: 't1' }
        : { MetricDataResults: [result([[from + 5 * MINUTE_MS, 60]])] },
    );
    const s = await source(api).history(from, NOW);
    expect(s.startMs).toBe(from);
    expect(s.stepMs).toBe(MINUTE_MS);
    expect(Array.from(s.values)).toEqual([10, 20, NaN, NaN, NaN, 1, NaN, NaN, NaN, NaN]);
    expect(api.requests).toHaveLength(2);
    expect(api.requests[1].NextToken).toBe('t1');
    const q = api.requests[0];
    expect(q.StartTime?.getTime()).toBe(from);
    expect(q.EndTime?.getTime()).toBe(NOW); // exclusive end: no datapoint for NOW itself
    expect(q.MaxDatapoints).toBe(100_800);
    expect(q.MetricDataQueries?.[0].MetricStat).toMatchObject({
      Period: 60,
      Stat: 'Sum',
      Metric: { Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'checkout' }, { Name: 'Resource', Value: 'checkout:live' }] },
    });
  });

  it('spreads an older 300 s datapoint over its five minutes as the mean rate', async () => {
    const from = NOW - 16 * DAY_MS;
    const api = new FakeMetricData((input) => (input.MetricDataQueries?.[0].MetricStat?.Period === 300 ? { MetricDataResults: [result([[from, 3000]])] } : { MetricDataResults: [] }));
    const s = await source(api).history(from, NOW);
    expect(api.requests.map((r) => r.MetricDataQueries?.[0].MetricStat?.Period)).toEqual([300, 60]);
    expect(Array.from(s.values.slice(0, 6))).toEqual([10, 10, 10, 10, 10, NaN]);
  });

  it('takes Average as already a rate', async () => {
    const api = new FakeMetricData(() => ({ MetricDataResults: [result([[NOW - MINUTE_MS, 42]])] }));
    const s = await source(api, { statistic: 'Average' }).history(NOW - MINUTE_MS, NOW);
    expect(Array.from(s.values)).toEqual([42]);
  });

  it.each([
    ['an AWS error', () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), /cloudwatch AWS\/Lambda Invocations .*GetMetricData failed: ThrottlingException: Rate exceeded/],
    ['a result status InternalError', () => ({ MetricDataResults: [result([], 'InternalError')] }), /Invocations .*status InternalError/],
    ['a token that repeats', () => ({ MetricDataResults: [], NextToken: 'same' }), /same NextToken twice/],
  ])('rejects naming the metric on %s', async (_name, answer, want) => {
    const api = new FakeMetricData(answer as () => Partial<GetMetricDataCommandOutput> | Error);
    await expect(source(api).history(NOW - HOUR, NOW)).rejects.toThrow(want);
  });

  it('gives up when its time budget runs out', async () => {
    const api = new FakeMetricData(() => 'hang');
    await expect(source(api, { timeoutMs: 50 }).history(NOW - HOUR, NOW)).rejects.toThrow(/Invocations .*timed out or aborted/);
  });

  it('stops when the caller aborts', async () => {
    const api = new FakeMetricData(() => 'hang');
    const ac = new AbortController();
    const p = source(api).history(NOW - HOUR, NOW, ac.signal);
    ac.abort(new Error('cycle over'));
    await expect(p).rejects.toThrow(/cycle over/);
  });

  it('refuses a period that is not a multiple of 60', () => {
    expect(() => source(new FakeMetricData(() => ({})), { periodSeconds: 90 })).toThrow(InputError);
    expect(() => source(new FakeMetricData(() => ({})), { periodSeconds: 90 })).toThrow(/periodSeconds must be a positive multiple of 60, 90 given/);
  });

  it('describes itself with namespace, metric, dimensions and statistic', () => {
    expect(source(new FakeMetricData(() => ({}))).description).toBe('cloudwatch AWS/Lambda Invocations {FunctionName=checkout,Resource=checkout:live} Sum');
  });
});

describe('cloudWatchSourceFromConfig', () => {
  it('maps the history entry onto the source', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    const { cloudWatchSourceFromConfig } = await import('../../src/sources/cloudwatch.js');
    const cfg = parseConfig(
      `
targets:
  - name: checkout
    history: { source: cloudwatch, namespace: AWS/ApplicationELB, metric: RequestCount, dimensions: { LoadBalancer: app/shop/1 }, periodSeconds: 300 }
    actuators:
      - { kind: cloneset, namespace: shop, name: web, qpsPerReplica: 100, min: 1, max: 10 }
`,
      '/tmp/c.yaml',
    );
    const h = cfg.targets[0].history;
    if (h.source !== 'cloudwatch') throw new Error('wrong source');
    const api = new FakeMetricData(() => ({ MetricDataResults: [result([[NOW - 300_000, 600]])] }));
    const s = cloudWatchSourceFromConfig(h, { api, clock: new ManualClock(NOW) });
    expect(s.description).toBe('cloudwatch AWS/ApplicationELB RequestCount {LoadBalancer=app/shop/1} Sum');
    expect(Array.from((await s.history(NOW - 300_000, NOW)).values)).toEqual([2]);
  });
});
