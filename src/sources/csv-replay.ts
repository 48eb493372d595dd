import type { Series } from '../series/series.js';
import { recordedLoad } from './trace.js';
import type { Clock } from '../util/clock.js';
import { DAY_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { MetricSource } from './source.js';

const WEEK_MS = 7 * DAY_MS;

export interface CsvReplayOptions {
  /** The recorded trace, already loaded as QPS. */
  readonly trace: Series;
  readonly description: string;
  readonly clock: Clock;
  /** `week`: wall time and trace time share weekday and time of day. `anchor`: `anchorMs` maps to `startedAtMs`. */
  readonly align: 'week' | 'anchor';
  readonly anchorMs?: number;
  readonly startedAtMs?: number;
  readonly multiplier?: number;
}

/**
 * A recorded trace played back as if it were live: the value for wall time w is the trace value at a trace
 * time tau(w), and only wall times before now are revealed, so each minute one more point appears. The
 * mapping repeats with a period of the whole weeks the trace holds, so a replay never runs out and (with
 * `week` alignment) the calendar inputs of the models stay true.
 */
export class CsvReplaySource implements MetricSource {
  readonly description: string;
  private readonly period: number;
  private readonly shift: number;
  private readonly recorded: (traceMs: number) => number;

  constructor(private readonly o: CsvReplayOptions) {
    this.description = o.description;
    const span = o.trace.values.length * o.trace.stepMs;
    const weeks = Math.floor(span / WEEK_MS);
    if (weeks < 1) {
      throw new InputError(`${o.description}: a replayed trace must hold at least one whole week, it holds ${(span / DAY_MS).toFixed(1)} days`);
    }
    this.period = weeks * WEEK_MS;
    this.recorded = recordedLoad(o.trace);
    if (o.align === 'anchor') {
      if (o.anchorMs === undefined || o.startedAtMs === undefined) throw new InputError(`${o.description}: replay.align anchor needs an anchor time`);
      // tau(startedAt) = anchor; keep minute alignment so steps line up.
      this.shift = Math.round((o.anchorMs - o.startedAtMs) / o.trace.stepMs) * o.trace.stepMs;
    } else {
      this.shift = 0;
    }
  }

  /** Trace time for a wall time. */
  traceTime(wallMs: number): number {
    const t0 = this.o.trace.startMs;
    const rel = wallMs + this.shift - t0;
    return t0 + (((rel % this.period) + this.period) % this.period);
  }

  /** The recorded load at wall time `wallMs` (gaps interpolated), scaled by the multiplier. */
  loadAt(wallMs: number): number {
    return this.recorded(this.traceTime(wallMs)) * (this.o.multiplier ?? 1);
  }

  history(fromMs: number, toMs: number): Promise<Series> {
    const { trace } = this.o;
    const step = trace.stepMs;
    const end = Math.min(toMs, Math.floor(this.o.clock.now() / step) * step);
    const start = Math.ceil(fromMs / step) * step;
    const n = Math.max(0, Math.round((end - start) / step));
    const mult = this.o.multiplier ?? 1;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const idx = Math.floor((this.traceTime(start + i * step) - trace.startMs) / step);
      values[i] = idx >= 0 && idx < trace.values.length ? trace.values[idx] * mult : NaN;
    }
    return Promise.resolve({ startMs: start, stepMs: step, values });
  }
}
