import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Decision } from '../service/service.js';
import { InputError, errorMessage } from '../util/errors.js';

/**
 * The audit log: one JSON line per decision (per target, per actuator, per cycle), carrying the inputs the
 * planner saw (forecast over the lead window, observed load, bounds, lead time, current capacity), what it
 * chose and why, and what the actuator then did. `jq` over the file answers "why did it scale at 09:40?".
 */
export interface AuditLine {
  /** ISO-8601 time of the decision (the service clock, so a replay logs replay time). */
  readonly time: string;
  readonly atMs: number;
  readonly target: string;
  readonly actuator: string;
  readonly observedQps: number | null;
  /** Max of each forecast quantile (p50, p90, p99) over [now, now + lead]; null without a usable forecast. */
  readonly forecastWindowMax: Record<string, number | null> | null;
  readonly bounds: { readonly min: number; readonly max: number };
  readonly leadMinutes: number;
  readonly currentCapacity: number | null;
  readonly plannedQps: number | null;
  readonly plannedCapacity: number | null;
  /** The constraint that set the planned value (planner's PlanReason). */
  readonly reason: string;
  /** Why the forecast was not used, when it was not. */
  readonly fallback: string | null;
  /** Present when the promo calendar lifted the forecast (event, tag, largest p50/p90 ratios applied). */
  readonly calendarUplift?: { readonly event: string; readonly tag: string; readonly peakP50: number; readonly peakP90: number };
  readonly actions: readonly {
    readonly action: string;
    readonly result: string;
    readonly detail: string;
    readonly data?: Record<string, unknown>;
  }[];
}

export interface AuditLog {
  write(d: Decision): void;
  /** Waits until every line written so far is handed to the OS, then releases the file. */
  close(): Promise<void>;
}

function finite(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function auditLineOf(d: Decision): AuditLine {
  return {
    time: new Date(d.atMs).toISOString(),
    atMs: d.atMs,
    target: d.target,
    actuator: d.actuator,
    observedQps: finite(d.observedQps),
    forecastWindowMax: d.forecastWindowMax
      ? Object.fromEntries(Object.entries(d.forecastWindowMax).map(([k, v]) => [k, finite(v)]))
      : null,
    bounds: d.bounds,
    leadMinutes: d.leadMinutes,
    currentCapacity: finite(d.currentCapacity),
    plannedQps: finite(d.plannedQps),
    plannedCapacity: finite(d.plannedCapacity),
    reason: d.reason,
    fallback: d.fallback,
    ...(d.calendarUplift ? { calendarUplift: { event: d.calendarUplift.event, tag: d.calendarUplift.tag, peakP50: d.calendarUplift.peakP50, peakP90: d.calendarUplift.peakP90 } } : {}),
    actions: d.actions.map((a) => ({ action: a.action, result: a.result, detail: a.detail, ...(a.data ? { data: a.data } : {}) })),
  };
}

/** Keeps lines in memory; for tests and for `serve --once --json`. */
export class MemoryAuditLog implements AuditLog {
  readonly lines: AuditLine[] = [];
  write(d: Decision): void {
    this.lines.push(auditLineOf(d));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Appends JSON lines to a stream: a file (see openAuditLog) or stdout. */
export class StreamAuditLog implements AuditLog {
  private failure: Error | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly owned: boolean,
  ) {
    // A write error (disk full, file removed) must not crash the service; the next close() reports it.
    out.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(d: Decision): void {
    if (this.failure) return;
    this.out.write(`${JSON.stringify(auditLineOf(d))}\n`);
  }

  async close(): Promise<void> {
    if (this.owned) {
      const out = this.out as WriteStream;
      // A file stream closes after it finished or failed; the error itself is caught by the handler above.
      if (!out.closed) {
        const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
        out.end();
        await closed;
      }
    }
    if (this.failure) throw new Error(`audit log write failed: ${errorMessage(this.failure)}`, { cause: this.failure });
  }
}

/**
 * The audit log at `target`: `-` is stdout, anything else a file opened for appending (its directories are
 * created). A path that cannot be created is an InputError naming it.
 */
export function openAuditLog(target: string): AuditLog {
  if (target === '-') return new StreamAuditLog(process.stdout, false);
  try {
    mkdirSync(dirname(target), { recursive: true });
  } catch (err: unknown) {
    throw new InputError(`audit log: cannot create the directory of ${target}: ${errorMessage(err)}`);
  }
  return new StreamAuditLog(createWriteStream(target, { flags: 'a' }), true);
}
