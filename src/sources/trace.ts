import { fillGaps, type Series } from '../series/series.js';
import type { Clock } from '../util/clock.js';
import type { MetricSource } from './source.js';

/** A fault of the history source over [startMs, endMs). */
export interface SourceFault {
  /** `source-outage`: every read fails. `stale-history`: reads succeed, but nothing after `startMs` arrives until `endMs`. */
  readonly kind: 'source-outage' | 'stale-history';
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * A recorded trace as the history source of a replay on a simulated clock: trace time is clock time, and only
 * the intervals that ended by now are revealed (the interval still running is not, as a live source would not
 * have it complete). Scenario faults make it fail or go stale for a while; the recorded load itself (`loadAt`,
 * what the simulated world runs on) is not affected by them.
 */
export class TraceSource implements MetricSource {
  readonly description: string;
  /** The recorded load at a time, gaps interpolated; faults do not touch it. */
  readonly loadAt: (tMs: number) => number;

  constructor(
    private readonly o: { readonly trace: Series; readonly clock: Clock; readonly description?: string; readonly faults?: readonly SourceFault[] },
  ) {
    this.description = o.description ?? 'recorded trace';
    this.loadAt = recordedLoad(o.trace);
  }

  history(fromMs: number, toMs: number): Promise<Series> {
    const now = this.o.clock.now();
    const fault = this.o.faults?.find((f) => now >= f.startMs && now < f.endMs);
    if (fault?.kind === 'source-outage') return Promise.reject(new Error(`${this.description}: source outage (scenario fault until ${new Date(fault.endMs).toISOString()})`));
    const { trace } = this.o;
    const step = trace.stepMs;
    const revealed = fault?.kind === 'stale-history' ? fault.startMs : now;
    const end = Math.min(toMs, Math.floor(revealed / step) * step);
    // Nothing before the recording began, as a real source has no datapoints from before it existed.
    const start = Math.max(Math.ceil(fromMs / step) * step, trace.startMs);
    const n = Math.max(0, Math.round((end - start) / step));
    const values = new Float64Array(n);
    const first = Math.round((start - trace.startMs) / step);
    for (let i = 0; i < n; i++) {
      const idx = first + i;
      values[i] = idx >= 0 && idx < trace.values.length ? trace.values[idx] : NaN;
    }
    return Promise.resolve({ startMs: start, stepMs: step, values });
  }

}

/** The load of a recording at any time: gaps interpolated, the first value held before it and the last after it. */
export function recordedLoad(trace: Series): (tMs: number) => number {
  const f = fillGaps(trace);
  return (tMs) => f.values[Math.min(f.values.length - 1, Math.max(0, Math.floor((tMs - f.startMs) / f.stepMs)))];
}
