import { assertFitted, assertTrainLength, disposeForecaster, QUANTILES, sanitizeForecast, type Forecaster, type QuantileForecast } from '../forecast/forecaster.js';
import { endMs, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { CalendarEvent } from './events.js';
import { eventMask, learnUplift, upliftAt, type Uplift, type UpliftOptions, type UpliftProfile } from './uplift.js';

/**
 * A forecaster that knows the promo calendar. The inner model (a baseline, the LSTM) learns and forecasts the
 * normal load: event windows are replaced by the load a day earlier before it sees them, in training and in
 * every context. The forecast is then multiplied, step by step inside known events, by the uplift learned from
 * past events of the same tag: p50 by the p50 ratio, p90 and p99 by the upper ratios. The expected multiplier
 * of a coming event is never needed; the calendar (name, times, tag) is.
 */
export interface EventForecasterOptions {
  readonly events: readonly CalendarEvent[];
  /** Learned profiles by tag; when absent, `fit` learns them from its training series. */
  readonly profiles?: ReadonlyMap<string, UpliftProfile>;
  readonly uplift?: UpliftOptions;
  /**
   * Once an event has run for a while, scale its learned uplift by how far this event is above normal so far
   * against what the profile expected (one promo draws more than another). Default true.
   */
  readonly adapt?: boolean;
  /**
   * The inner model is fitted already (loaded from disk, or trained by the service on neutralised history):
   * `predict` works without `fit`, given a context. Needs `profiles`.
   */
  readonly innerFitted?: boolean;
}

/** What the calendar did to one forecast: the event that lifted it most and the largest ratios it applied. */
export interface AppliedUplift {
  readonly event: string;
  readonly tag: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Largest p50 and p90 ratios applied over the horizon (learned, scaled by the running event's adaptation). */
  readonly peakP50: number;
  readonly peakP90: number;
}

/** The uplift of one forecast step and the event that set it. */
type StepUplift = Uplift & { readonly event: CalendarEvent };

/**
 * The last 15 minutes of a running event are compared with the profile to adapt (a longer window lets the
 * profile's step-to-step wiggles, which come from the past events' own time of day, drag the correction; 15
 * min was better than 30 or 50 on seeds 1–8 of bench:events), and the bounds of the correction.
 */
const ADAPT_WINDOW_MS = 15 * MINUTE_MS;
const ADAPT_MIN_EXPECTED = 0.5;
const ADAPT_RANGE = [0.25, 4] as const;

/**
 * Replaces every point inside an event window (widened by the uplift margins) by the neutralised value a day
 * earlier, in time order so that back-to-back event days chain to the last normal day. Points with no day
 * before them, and gaps, stay as they are.
 */
export function neutralise(s: Series, events: readonly CalendarEvent[], o: UpliftOptions = {}): Series {
  const mask = eventMask(s, events, o);
  const day = Math.round(DAY_MS / s.stepMs);
  const v = Float64Array.from(s.values);
  for (let i = day; i < v.length; i++) if (mask[i] === 1 && Number.isFinite(v[i - day])) v[i] = v[i - day];
  return { startMs: s.startMs, stepMs: s.stepMs, values: v };
}

class EventForecaster implements Forecaster {
  readonly name: string;
  readonly minTrainLength: number;
  readonly probabilistic: boolean;
  private profiles: ReadonlyMap<string, UpliftProfile> | undefined;
  private train: Series | undefined;

  constructor(
    private readonly inner: Forecaster,
    private readonly o: EventForecasterOptions,
  ) {
    this.name = `${inner.name}+calendar`;
    this.minTrainLength = inner.minTrainLength;
    this.probabilistic = inner.probabilistic;
    this.profiles = o.profiles;
    if (o.innerFitted && !o.profiles) throw new Error(`${this.name}: innerFitted needs the learned profiles`);
  }

  /** Frees the inner model when this forecaster fitted it; one fitted elsewhere (`innerFitted`) belongs to its owner. */
  dispose(): void {
    if (!this.o.innerFitted) disposeForecaster(this.inner);
  }

  /** Profiles in use (learned by `fit` unless given). */
  get learned(): ReadonlyMap<string, UpliftProfile> {
    return this.profiles ?? new Map();
  }

  async fit(series: Series): Promise<void> {
    assertTrainLength(this, series);
    if (!this.o.profiles) this.profiles = learnUplift(series, this.o.events, this.o.uplift);
    this.train = series;
    await this.inner.fit(neutralise(series, this.o.events, this.o.uplift));
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    const ctx = this.contextOf(context);
    const normalCtx = neutralise(ctx, this.o.events, this.o.uplift);
    const f = this.inner.predict(horizon, normalCtx);
    const steps = this.stepUplifts(f, ctx, normalCtx);
    if (!steps) return f;
    const values = f.values.map((row) => Float64Array.from(row));
    steps.forEach((u, h) => {
      if (!u) return;
      const ratios = [u.p50, u.p90, u.p99];
      for (let q = 0; q < QUANTILES.length; q++) values[q][h] *= Math.max(0, ratios[q]);
    });
    return sanitizeForecast({ ...f, probabilistic: true, values });
  }

  /**
   * What `predict(horizon, context)` does to the inner forecast `f` (same start, step and horizon): the event
   * that lifts it most and the largest ratios applied; undefined when no step is inside a learned profile's reach.
   */
  upliftOf(f: Pick<QuantileForecast, 'startMs' | 'stepMs' | 'horizon'>, context?: Series): AppliedUplift | undefined {
    const ctx = this.contextOf(context);
    const steps = this.stepUplifts(f, ctx, neutralise(ctx, this.o.events, this.o.uplift));
    const peaks = new Map<CalendarEvent, { p50: number; p90: number }>();
    for (const u of steps ?? []) {
      if (!u) continue;
      const p = peaks.get(u.event);
      peaks.set(u.event, { p50: Math.max(u.p50, p?.p50 ?? -Infinity), p90: Math.max(u.p90, p?.p90 ?? -Infinity) });
    }
    let top: AppliedUplift | undefined;
    for (const [e, p] of peaks) {
      if (!top || p.p50 > top.peakP50) top = { event: e.name, tag: e.tag, startMs: e.startMs, endMs: e.endMs, peakP50: p.p50, peakP90: p.p90 };
    }
    return top;
  }

  private contextOf(context: Series | undefined): Series {
    assertFitted(this.name, this.train !== undefined || this.o.innerFitted === true);
    const ctx = context ?? this.train;
    if (!ctx) throw new InputError(`${this.name}: predict needs a context when the inner model was fitted elsewhere`);
    return ctx;
  }

  /** Per forecast step, the uplift to apply (undefined: none); undefined when no known event is near the horizon. */
  private stepUplifts(f: Pick<QuantileForecast, 'startMs' | 'stepMs' | 'horizon'>, ctx: Series, normalCtx: Series): (StepUplift | undefined)[] | undefined {
    const profiles = this.profiles ?? new Map<string, UpliftProfile>();
    const relevant = this.o.events.filter((e) => profiles.has(e.tag) && e.endMs > f.startMs - DAY_MS && e.startMs < f.startMs + f.horizon * f.stepMs + DAY_MS);
    if (relevant.length === 0) return undefined;
    const scale = new Map<CalendarEvent, number>();
    if (this.o.adapt !== false) for (const e of relevant) scale.set(e, adaptScale(profiles.get(e.tag) as UpliftProfile, e, { ctx, normalCtx }));
    return Array.from({ length: f.horizon }, (_, h) => strongestUplift({ profiles, events: relevant, scale }, f.startMs + h * f.stepMs));
  }
}

/** The uplift at `t`, each event's scaled by its adaptation; overlapping events: the strongest one sets the step (their uplifts are not known to compound). */
function strongestUplift(c: { profiles: ReadonlyMap<string, UpliftProfile>; events: readonly CalendarEvent[]; scale: ReadonlyMap<CalendarEvent, number> }, t: number): StepUplift | undefined {
  let best: StepUplift | undefined;
  for (const e of c.events) {
    const u = upliftAt(c.profiles.get(e.tag) as UpliftProfile, e, t);
    if (!u) continue;
    const k = c.scale.get(e) ?? 1;
    const s: StepUplift = { event: e, p50: 1 + (u.p50 - 1) * k, p90: 1 + (u.p90 - 1) * k, p99: 1 + (u.p99 - 1) * k };
    if (!best || s.p50 > best.p50) best = s;
  }
  return best;
}

/**
 * How much more (or less) than the profile's p50 the running event `e` has lifted the load over its last
 * observed steps: Σ(observed ratio − 1) ÷ Σ(expected ratio − 1), bounded. 1 before the event has shown
 * enough (the profile expects less than +50 % on average over those steps) or when it is not running.
 */
function adaptScale(p: UpliftProfile, e: CalendarEvent, c: { ctx: Series; normalCtx: Series }): number {
  const now = endMs(c.ctx);
  if (now <= e.startMs || now - DAY_MS > e.endMs) return 1;
  let obs = 0;
  let exp = 0;
  let n = 0;
  const last = c.ctx.values.length - 1;
  const steps = Math.max(1, Math.round(ADAPT_WINDOW_MS / c.ctx.stepMs));
  for (let i = last; i >= 0 && n < steps; i--) {
    const t = c.ctx.startMs + i * c.ctx.stepMs;
    if (t < e.startMs) break;
    if (t >= e.endMs) continue;
    const u = upliftAt(p, e, t);
    const r = c.ctx.values[i] / c.normalCtx.values[i];
    if (!u || !Number.isFinite(r)) continue;
    obs += r - 1;
    exp += u.p50 - 1;
    n++;
  }
  if (n === 0 || exp < ADAPT_MIN_EXPECTED * n) return 1;
  return Math.min(ADAPT_RANGE[1], Math.max(ADAPT_RANGE[0], obs / exp));
}

/** A forecaster that knows the calendar: the learned profiles and what the calendar does to a forecast. */
export interface CalendarForecaster extends Forecaster {
  readonly learned: ReadonlyMap<string, UpliftProfile>;
  upliftOf(f: Pick<QuantileForecast, 'startMs' | 'stepMs' | 'horizon'>, context?: Series): AppliedUplift | undefined;
}

/** Wraps `inner` with the promo calendar (see EventForecasterOptions). */
export function withEvents(inner: Forecaster, o: EventForecasterOptions): CalendarForecaster {
  return new EventForecaster(inner, o);
}
