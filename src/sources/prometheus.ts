import { z } from 'zod';
import { makeSeries, type Series } from '../series/series.js';
import { errorMessage, InputError } from '../util/errors.js';
import type { MetricSource } from './source.js';

/** Prometheus refuses a range query with more than this many points per series ("exceeded maximum resolution"). */
export const PROMETHEUS_MAX_POINTS = 11_000;

export interface PrometheusSourceOptions {
  /** Base URL, e.g. http://prometheus:9090 (a path prefix such as /prometheus is kept). */
  readonly url: string;
  /** A PromQL expression giving ONE series of requests per second, e.g. `sum(rate(http_requests_total[5m]))`. */
  readonly query: string;
  readonly stepSeconds: number;
  /** Per-request limit; also sent to Prometheus as the query timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** Points per request; at most PROMETHEUS_MAX_POINTS. Smaller values only in tests. */
  readonly maxPointsPerRequest?: number;
  /** Sent as `Authorization: Bearer …` (read from a file by the caller; never logged). */
  readonly bearerToken?: string;
  readonly fetch?: typeof fetch;
}

interface PromResponse {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

const matrixSchema = z.array(
  z.object({
    metric: z.record(z.string(), z.string()).optional(),
    values: z.array(z.tuple([z.number(), z.string()])).default([]),
  }),
);

/** NaN, ±Inf (division by zero in PromQL) and negatives are not request rates: gaps. */
function toRate(v: string): number {
  const x = Number(v);
  return Number.isFinite(x) && x >= 0 ? x : NaN;
}

/**
 * History from `GET /api/v1/query_range`. Points are evaluated at multiples of the step (so the same instant
 * always gets the same value), the range is split into requests under Prometheus's per-series point limit,
 * and instants without a value are gaps (NaN). Errors name the query and carry Prometheus's own message.
 */
export class PrometheusSource implements MetricSource {
  readonly description: string;
  private readonly stepMs: number;
  private readonly maxPoints: number;
  private readonly timeoutMs: number;
  private readonly base: string;

  constructor(private readonly o: PrometheusSourceOptions) {
    this.description = `prometheus ${JSON.stringify(o.query)}`;
    if (!Number.isInteger(o.stepSeconds) || o.stepSeconds <= 0) {
      throw new InputError(`${this.description}: stepSeconds must be a positive whole number, ${o.stepSeconds} given`);
    }
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new InputError(`${this.description}: url ${JSON.stringify(o.url)} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`${this.description}: url must be http or https, ${JSON.stringify(o.url)} given`);
    this.base = o.url.replace(/\/+$/, '');
    this.stepMs = o.stepSeconds * 1000;
    this.maxPoints = Math.min(PROMETHEUS_MAX_POINTS, o.maxPointsPerRequest ?? PROMETHEUS_MAX_POINTS);
    if (!(this.maxPoints >= 1)) throw new InputError(`${this.description}: maxPointsPerRequest must be >= 1`);
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** Values at step-aligned instants t in [fromMs, toMs); each value is the rate Prometheus computes at t. */
  async history(fromMs: number, toMs: number, signal?: AbortSignal): Promise<Series> {
    const first = Math.ceil(fromMs / this.stepMs) * this.stepMs;
    const n = Math.max(0, Math.ceil((toMs - first) / this.stepMs));
    const values = new Float64Array(n).fill(NaN);
    for (let i = 0; i < n; i += this.maxPoints) {
      const count = Math.min(this.maxPoints, n - i);
      const startMs = first + i * this.stepMs;
      const endMsIncl = startMs + (count - 1) * this.stepMs;
      const pts = await this.queryRange(startMs, endMsIncl, signal);
      for (const [t, v] of pts) {
        const k = Math.round((t * 1000 - first) / this.stepMs);
        if (k >= i && k < i + count) values[k] = v;
      }
    }
    return makeSeries(first, this.stepMs, values);
  }

  private async queryRange(startMs: number, endMs: number, signal?: AbortSignal): Promise<[number, number][]> {
    const params = new URLSearchParams({
      query: this.o.query,
      start: (startMs / 1000).toString(),
      end: (endMs / 1000).toString(),
      step: `${this.o.stepSeconds}s`,
      timeout: `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s`,
    });
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const range = `${new Date(startMs).toISOString()}..${new Date(endMs).toISOString()}`;
    let res: Response;
    let text: string;
    try {
      res = await (this.o.fetch ?? fetch)(`${this.base}/api/v1/query_range?${params.toString()}`, {
        headers: this.o.bearerToken ? { authorization: `Bearer ${this.o.bearerToken}` } : {},
        signal: s,
      });
      text = await res.text();
    } catch (err) {
      if (timeout.aborted) throw new Error(`${this.description}: query_range ${range} timed out after ${this.timeoutMs} ms`, { cause: err });
      throw new Error(`${this.description}: query_range ${range} failed: ${errorMessage(err)}`, { cause: err });
    }
    return this.parse(res.status, text);
  }

  /** The single series of a query_range answer as [seconds, QPS] pairs; non-rates become NaN. */
  private parse(status: number, text: string): [number, number][] {
    const body = this.jsonObject(status, text) as PromResponse;
    if (body.status !== 'success') {
      throw new Error(`${this.description}: Prometheus error (HTTP ${status}) ${body.errorType ?? 'unknown'}: ${body.error ?? text.slice(0, 200)}`);
    }
    if (body.data?.resultType !== 'matrix') throw new InputError(`${this.description}: expected a range vector (matrix), got ${String(body.data?.resultType)}`);
    const parsed = matrixSchema.safeParse(body.data.result ?? []);
    if (!parsed.success) throw new Error(`${this.description}: malformed matrix in the answer: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const result = parsed.data;
    if (result.length > 1) {
      const labels = result.slice(0, 3).map((r) => JSON.stringify(r.metric ?? {}));
      throw new InputError(`${this.description}: returned ${result.length} series (${labels.join(', ')}…); the query must give one series, e.g. wrap it in sum(...)`);
    }
    return result.length === 0 ? [] : result[0].values.map(([t, v]) => [t, toRate(v)]);
  }

  private jsonObject(status: number, text: string): object {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      v = undefined;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      throw new Error(`${this.description}: query_range answered HTTP ${status} with a body that is not a JSON object: ${text.slice(0, 200)}`);
    }
    return v;
  }
}
