import type { GetMetricDataCommandInput, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { awsErrorText, type MetricDataApi } from '../aws/clients.js';
import type { HistoryConfig } from '../config/schema.js';
import type { Series } from '../series/series.js';
import { DAY_MS, systemClock, type Clock } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { MetricSource } from './source.js';

export type CloudWatchStatistic = 'Sum' | 'SampleCount' | 'Average' | 'Maximum';

export interface CloudWatchSourceOptions {
  readonly api: MetricDataApi;
  readonly namespace: string;
  readonly metric: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /**
   * `Sum` and `SampleCount` are counts per period and become a rate by ÷ period; `Average` and `Maximum` are
   * taken as already being a per-second rate (e.g. a metric published in requests/second).
   */
  readonly statistic: CloudWatchStatistic;
  /** Period of the returned Series (a multiple of 60). Older ranges are read coarser and spread over it. */
  readonly periodSeconds: number;
  /** "Now", which decides the period CloudWatch accepts for each part of the range. */
  readonly clock?: Clock;
  /** Budget for one `history` call (all pages). Default 30 s. */
  readonly timeoutMs?: number;
}

/** CloudWatch's limit of datapoints per GetMetricData call. */
export const MAX_DATAPOINTS_PER_CALL = 100_800;
/** Pages read for one range before concluding that the token loops. */
const MAX_PAGES = 1_000;

/**
 * CloudWatch keeps 60 s data for 15 days, 300 s data for 63 days and 3600 s data for 455 days, and a query
 * whose period is finer than the age of its StartTime allows returns nothing. Ages of the boundaries and the
 * smallest period allowed beyond each.
 */
const RETENTION = [
  { olderThanMs: 63 * DAY_MS, minPeriodS: 3600 },
  { olderThanMs: 15 * DAY_MS, minPeriodS: 300 },
] as const;

interface Chunk {
  readonly fromMs: number;
  readonly toMs: number;
  readonly periodS: number;
}

/** Request-rate history from CloudWatch `GetMetricData`, as requests per second with NaN for missing periods. */
export class CloudWatchSource implements MetricSource {
  readonly description: string;
  private readonly clock: Clock;

  constructor(private readonly o: CloudWatchSourceOptions) {
    if (!Number.isInteger(o.periodSeconds) || o.periodSeconds <= 0 || o.periodSeconds % 60 !== 0) {
      throw new InputError(`cloudwatch source ${o.namespace} ${o.metric}: periodSeconds must be a positive multiple of 60, ${o.periodSeconds} given`);
    }
    const dims = Object.entries(o.dimensions)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    this.description = `cloudwatch ${o.namespace} ${o.metric}${dims ? ` {${dims}}` : ''} ${o.statistic}`;
    this.clock = o.clock ?? systemClock;
  }

  async history(fromMs: number, toMs: number, signal?: AbortSignal): Promise<Series> {
    const stepMs = this.o.periodSeconds * 1000;
    const startMs = Math.floor(fromMs / stepMs) * stepMs;
    const n = Math.max(0, Math.ceil((toMs - startMs) / stepMs));
    const values = new Float64Array(n).fill(NaN);
    const series: Series = { startMs, stepMs, values };
    if (n === 0) return series;
    const budget = AbortSignal.timeout(this.o.timeoutMs ?? 30_000);
    const sig = signal ? AbortSignal.any([signal, budget]) : budget;
    for (const chunk of splitByAge({ fromMs: startMs, toMs, periodS: this.o.periodSeconds, nowMs: this.clock.now() })) {
      for (const part of splitByDatapoints(chunk)) await this.readInto(series, part, sig);
    }
    return series;
  }

  private async readInto(series: Series, part: Chunk, signal: AbortSignal): Promise<void> {
    let token: string | undefined;
    const tokens = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const input: GetMetricDataCommandInput = {
        StartTime: new Date(part.fromMs),
        EndTime: new Date(part.toMs),
        ScanBy: 'TimestampAscending',
        MaxDatapoints: MAX_DATAPOINTS_PER_CALL,
        MetricDataQueries: [
          {
            Id: 'm0',
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: this.o.namespace,
                MetricName: this.o.metric,
                Dimensions: Object.entries(this.o.dimensions).map(([Name, Value]) => ({ Name, Value })),
              },
              Period: part.periodS,
              Stat: this.o.statistic,
            },
          },
        ],
        ...(token ? { NextToken: token } : {}),
      };
      let out;
      try {
        out = await this.o.api.getMetricData(input, signal);
      } catch (err: unknown) {
        const why = signal.aborted ? `timed out or aborted (${awsErrorText(signal.reason)})` : awsErrorText(err);
        throw new Error(`${this.description}: GetMetricData failed: ${why}`, { cause: err });
      }
      for (const r of out.MetricDataResults ?? []) if (r.Id === 'm0') this.fill(series, r, part.periodS);
      token = out.NextToken;
      // PartialData comes with a NextToken: the loop keeps paging until the token runs out.
      if (!token) return;
      if (tokens.has(token)) throw new Error(`${this.description}: GetMetricData returned the same NextToken twice`);
      tokens.add(token);
    }
    throw new Error(`${this.description}: GetMetricData still paging after ${MAX_PAGES} pages`);
  }

  private fill(series: Series, r: MetricDataResult, periodS: number): void {
    if (r.StatusCode === 'InternalError' || r.StatusCode === 'Forbidden') {
      const why = (r.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
      throw new Error(`${this.description}: GetMetricData status ${r.StatusCode}${why ? `: ${why}` : ''}`);
    }
    const ts = r.Timestamps ?? [];
    const vs = r.Values ?? [];
    const periodMs = periodS * 1000;
    for (let i = 0; i < Math.min(ts.length, vs.length); i++) {
      const rate = this.toRate(vs[i], periodS);
      if (!Number.isFinite(rate)) continue;
      const t0 = ts[i].getTime();
      // A coarse (older) datapoint covers several steps of the Series: each gets the period's mean rate.
      for (let t = t0; t < t0 + periodMs; t += series.stepMs) {
        const idx = Math.round((t - series.startMs) / series.stepMs);
        if (idx >= 0 && idx < series.values.length) series.values[idx] = rate;
      }
    }
  }

  private toRate(value: number, periodS: number): number {
    const s = this.o.statistic;
    switch (s) {
      case 'Sum':
      case 'SampleCount':
        return value / periodS;
      case 'Average':
      case 'Maximum':
        return value;
      default: {
        const never: never = s;
        throw new Error(`unknown statistic ${String(never)}`);
      }
    }
  }
}

/**
 * Splits [fromMs, toMs) into parts whose period suits the age of their start: `periodS` for the last 15 days,
 * a multiple of 300 s back to 63 days, of 3600 s beyond. A boundary moves later to the coarser period's grid
 * (a coarse period is valid for younger data too), so each part starts on its own period's grid.
 */
export function splitByAge(o: { fromMs: number; toMs: number; periodS: number; nowMs: number }): Chunk[] {
  const chunks: Chunk[] = [];
  let from = o.fromMs;
  for (const r of RETENTION) {
    const periodS = lcm(o.periodS, r.minPeriodS);
    const periodMs = periodS * 1000;
    const boundary = Math.ceil((o.nowMs - r.olderThanMs) / periodMs) * periodMs;
    if (from < boundary && from < o.toMs) {
      const to = Math.min(boundary, o.toMs);
      chunks.push({ fromMs: Math.floor(from / periodMs) * periodMs, toMs: to, periodS });
      from = to;
    }
  }
  if (from < o.toMs) chunks.push({ fromMs: from, toMs: o.toMs, periodS: o.periodS });
  return chunks;
}

/** Splits a part so that no call asks for more than MAX_DATAPOINTS_PER_CALL datapoints. */
export function splitByDatapoints(c: Chunk, maxPoints: number = MAX_DATAPOINTS_PER_CALL): Chunk[] {
  const span = maxPoints * c.periodS * 1000;
  const out: Chunk[] = [];
  for (let f = c.fromMs; f < c.toMs; f += span) out.push({ fromMs: f, toMs: Math.min(c.toMs, f + span), periodS: c.periodS });
  return out;
}

/** Smallest period that is a multiple of both: valid for the age, and a whole number of Series steps. */
function lcm(a: number, b: number): number {
  let [x, y] = [a, b];
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

/** The source from a target's `history` entry (`source: cloudwatch`), for the service wiring. */
export function cloudWatchSourceFromConfig(cfg: Extract<HistoryConfig, { source: 'cloudwatch' }>, deps: { api: MetricDataApi; clock?: Clock }): CloudWatchSource {
  return new CloudWatchSource({
    api: deps.api,
    namespace: cfg.namespace,
    metric: cfg.metric,
    dimensions: cfg.dimensions,
    statistic: cfg.statistic,
    periodSeconds: cfg.periodSeconds,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
}
