import type { ActionRecord } from '../actuators/actuator.js';
import type { AppliedUplift } from '../events/event-forecaster.js';
import { disposeForecaster, type Forecaster, type QuantileForecast } from '../forecast/forecaster.js';
import type { PlannerMemory } from '../plan/planner.js';
import { concatSeries, endMs, sliceByTime, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { TargetCalendar, inlineEvents, type TargetEvent } from './calendar.js';
import type { LoadedModel } from './model-provider.js';
import type { TargetRuntime } from './cycle.js';

/** How far back an incremental read starts again, for late-arriving datapoints. */
const REREAD_MS = 15 * MINUTE_MS;

/**
 * What prescale knows and holds for one target between cycles: the history cache, the model, the planner's
 * memory, the forecasts made (for the quality gate), the admin overrides and the calendar.
 *
 * The cycle and the retrain job both touch it, so every read-modify-write runs under `exclusive`: the cycle
 * holds it for its whole turn, a retrain only to read history and to swap the model in (training itself runs
 * outside, on a copy), so a retrain never waits for minutes of training with the lock held and never swaps the
 * model in the middle of a cycle.
 */
export class TargetState {
  /** The target's config, source and actuators; replaced only by `reconfigure`. */
  runtime: TargetRuntime;
  history?: Series;
  model?: LoadedModel;
  readonly memory = new Map<string, PlannerMemory>();
  /** p50/p90 of the first forecast made for each step start (the forecast made furthest ahead). */
  readonly past = new Map<number, { readonly atMs: number; readonly p50: number; readonly p90: number }>();
  /** Override from the admin API: no actuation until this time. */
  pausedUntilMs?: number;
  /** Pinned minimum capacity until a time. */
  pin?: { minCapacity: number; untilMs: number };
  lastActions: ActionRecord[] = [];
  /** Set when the target was removed (its PredictiveScaler deleted): a cycle already queued for it publishes nothing. */
  retired = false;
  /** The last forecast, the forecaster and context it came from: reused while they are unchanged. */
  lastForecast?: {
    readonly by: Forecaster;
    readonly horizon: number;
    readonly context: Series;
    readonly result: { readonly forecast: QuantileForecast; readonly uplift?: AppliedUplift };
  };
  /** Known events: planner floors, and the calendar the forecast is wrapped with. */
  readonly events: readonly TargetEvent[];
  readonly calendar: TargetCalendar;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(runtime: TargetRuntime) {
    this.runtime = runtime;
    this.events = runtime.events ?? inlineEvents(runtime.config);
    this.calendar = new TargetCalendar(runtime.config.name, this.events);
  }

  get name(): string {
    return this.runtime.config.name;
  }

  /** Runs `fn` when no other holder runs; holders run one at a time, in the order they asked. */
  /**
   * Takes a changed config whose history, forecast and events are the same (new actuators, bounds, pause): the
   * model, history cache, planner memory and past forecasts stay. Call under the lock.
   */
  reconfigure(runtime: TargetRuntime): void {
    this.runtime = runtime;
  }

  /** Retires the target under its lock (a cycle in flight finishes first) and frees its model. */
  retire(): Promise<void> {
    return this.exclusive(() => {
      this.retired = true;
      if (this.model) disposeForecaster(this.model.forecaster);
      this.model = undefined;
      this.lastForecast = undefined;
      return Promise.resolve();
    });
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Installs a new model: the quality gate judges it on its own forecasts, the calendar learns again. */
  replaceModel(model: LoadedModel): void {
    // A model trained for a target removed meanwhile is dropped, not installed where nothing would free it.
    if (this.retired) return disposeForecaster(model.forecaster);
    const old = this.model;
    this.model = model;
    this.past.clear();
    this.calendar.forget();
    this.lastForecast = undefined;
    // The model dropped holds tensors outside the JS heap (the LSTM's weights): freed here, or each retrain leaks them.
    if (old !== undefined && old.forecaster !== model.forecaster) disposeForecaster(old.forecaster);
  }

  /**
   * The last `history.days` up to `nowMs`, read incrementally: after the first read only the last minutes are read
   * again and joined to what is kept. Call under `exclusive`.
   */
  async readHistory(nowMs: number, signal?: AbortSignal): Promise<Series> {
    const t = this.runtime;
    const from = nowMs - t.config.history.days * DAY_MS;
    const read = async (a: number): Promise<Series> => asRates(await untilAborted(t.source.history(a, nowMs, signal), signal));
    if (!this.history || endMs(this.history) < from) {
      this.history = await read(from);
    } else {
      const keepTo = Math.max(this.history.startMs, endMs(this.history) - REREAD_MS);
      // A source may return more than asked for; only [keepTo, now) joins what is kept.
      const fresh = sliceByTime(await read(keepTo), keepTo, nowMs);
      const kept = sliceByTime(this.history, from, keepTo);
      this.history = kept.values.length > 0 && fresh.stepMs === kept.stepMs ? concatSeries(kept, fresh) : fresh;
    }
    return this.history;
  }
}

/**
 * A source's series with what is not a request rate (negative, ±Infinity) as gaps, as the Prometheus source
 * does: left in, a model fed them forecasts 0 after sanitising, and capacity would drop on garbage.
 */
export function asRates(s: Series): Series {
  if (s.values.every((v) => Number.isNaN(v) || (Number.isFinite(v) && v >= 0))) return s;
  const values = new Float64Array(s.values.length);
  for (let i = 0; i < values.length; i++) values[i] = Number.isFinite(s.values[i]) && s.values[i] >= 0 ? s.values[i] : NaN;
  return { ...s, values };
}

/** Settles with `p`, or rejects when `signal` aborts: a source that ignores the signal cannot hold up its caller. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/** A signal that aborts after `ms` with an error naming `what`; `clear` stops the timer. */
export function deadline(ms: number, what: string): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const after = ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
  const timer = setTimeout(() => ac.abort(new Error(`${what} timed out after ${after}`)), ms);
  return { signal: ac.signal, clear: () => clearTimeout(timer) };
}
