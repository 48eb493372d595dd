import type { Series } from '../series/series.js';

/**
 * Where request-rate history comes from (CloudWatch, Prometheus, a CSV file). One narrow interface so the
 * live service, the backtest and tests read history the same way.
 */
export interface MetricSource {
  /** For logs and errors, e.g. `cloudwatch AWS/Lambda Invocations`. */
  readonly description: string;
  /**
   * Request rate (requests per second) over [fromMs, toMs) at the source's step; intervals without data are
   * gaps (NaN). Rejects with an error naming the source when it cannot be read.
   */
  history(fromMs: number, toMs: number, signal?: AbortSignal): Promise<Series>;
  /**
   * A replayed recording only: the recorded load at any time, past or future, in requests per second. The
   * simulated world of a `simulated: true` config runs on it; a live source has no such thing.
   */
  loadAt?(tMs: number): number;
}
