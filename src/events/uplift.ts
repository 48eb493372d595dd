import type { Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { CalendarEvent } from './events.js';
import { quantileSorted } from '../util/stats.js';

/**
 * Learns what events of one tag do to the load: at each time relative to an event, the ratio of the actual
 * load to the normal load (the same time a day earlier, or a week earlier when the day before had an event
 * too), across the past events of that tag. Pure: history and calendar in, profiles out.
 *
 * Relative time has four parts, so that events of different lengths line up where they behave alike:
 * `before` (minutes before the start: the ramp-in), `sinceStart` (minutes after the start, over the first half
 * of the event: the ramp and the hold), `untilEnd` (minutes before the end, over the second half: the hold and
 * the decay) and `after` (minutes after the end). A flash sale ramps up a fixed time after it starts and decays
 * over a fixed time before it ends whatever its length, which stretching every event to [0, 1] would blur.
 */

/** Ratio quantiles across past events at each relative step; NaN where no past event had that step. */
export interface UpliftBand {
  readonly p50: Float64Array;
  readonly p90: Float64Array;
  readonly p99: Float64Array;
  /** Past events that had each step. */
  readonly n: Uint16Array;
}

export interface UpliftProfile {
  readonly tag: string;
  /** Past events the profile was learned from. */
  readonly events: number;
  /** Width of one relative step (the history's step). */
  readonly stepMs: number;
  readonly before: UpliftBand;
  readonly sinceStart: UpliftBand;
  readonly untilEnd: UpliftBand;
  readonly after: UpliftBand;
}

export interface UpliftOptions {
  /** How far before the start an event can move the load. Default 60 min. */
  readonly beforeMinutes?: number;
  /** How far after the end. Default 60 min. */
  readonly afterMinutes?: number;
}

export interface Uplift {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

const DEFAULT_MARGIN_MIN = 60;

export function margins(o: UpliftOptions = {}): { before: number; after: number } {
  const before = (o.beforeMinutes ?? DEFAULT_MARGIN_MIN) * MINUTE_MS;
  const after = (o.afterMinutes ?? DEFAULT_MARGIN_MIN) * MINUTE_MS;
  if (!(before >= 0 && after >= 0)) throw new InputError(`uplift: beforeMinutes and afterMinutes must be >= 0, ${o.beforeMinutes} and ${o.afterMinutes} given`);
  return { before, after };
}

/** For each point of `s`: true when it lies in some event's window widened by the margins. */
export function eventMask(s: Series, events: readonly CalendarEvent[], o: UpliftOptions = {}): Uint8Array {
  const { before, after } = margins(o);
  const mask = new Uint8Array(s.values.length);
  for (const e of events) {
    const a = Math.max(0, Math.floor((e.startMs - before - s.startMs) / s.stepMs));
    const b = Math.min(s.values.length, Math.ceil((e.endMs + after - s.startMs) / s.stepMs));
    for (let i = a; i < b; i++) mask[i] = 1;
  }
  return mask;
}

/**
 * The normal load at each point: the value a day earlier when that point is present and outside every event
 * window, else a week earlier on the same condition, else NaN. Reads only earlier points.
 */
export function normalLevels(s: Series, mask: Uint8Array): Float64Array {
  const day = Math.round(DAY_MS / s.stepMs);
  const out = new Float64Array(s.values.length).fill(NaN);
  const usable = (j: number): boolean => j >= 0 && mask[j] === 0 && Number.isFinite(s.values[j]) && s.values[j] > 0;
  for (let i = 0; i < s.values.length; i++) {
    if (usable(i - day)) out[i] = s.values[i - day];
    else if (usable(i - 7 * day)) out[i] = s.values[i - 7 * day];
  }
  return out;
}

function band(samples: readonly number[][]): UpliftBand {
  const b = { p50: new Float64Array(samples.length), p90: new Float64Array(samples.length), p99: new Float64Array(samples.length), n: new Uint16Array(samples.length) };
  samples.forEach((xs, k) => {
    b.n[k] = xs.length;
    const v = [...xs].sort((x, y) => x - y);
    b.p50[k] = quantileSorted(v, 0.5);
    b.p90[k] = quantileSorted(v, 0.9);
    b.p99[k] = quantileSorted(v, 0.99);
  });
  return b;
}

/** Adds `x` to the samples of relative step `k`, growing the list as needed. */
function push(samples: number[][], k: number, x: number): void {
  while (samples.length <= k) samples.push([]);
  samples[k].push(x);
}

/**
 * Learns one profile per tag from the events that ended (with their after-margin) inside `history`. A
 * relative step of one event contributes one ratio (actual ÷ normal); steps without a normal level are
 * skipped. Tags whose events have no usable ratio at all get no profile.
 */
export function learnUplift(history: Series, events: readonly CalendarEvent[], o: UpliftOptions = {}): Map<string, UpliftProfile> {
  const { before, after } = margins(o);
  const step = history.stepMs;
  const mask = eventMask(history, events, o);
  const normal = normalLevels(history, mask);
  const histEnd = history.startMs + history.values.length * step;
  const byTag = new Map<string, { n: number; before: number[][]; since: number[][]; until: number[][]; after: number[][] }>();
  for (const e of events) {
    if (e.endMs + after > histEnd || e.startMs - before < history.startMs) continue;
    const acc = byTag.get(e.tag) ?? { n: 0, before: [], since: [], until: [], after: [] };
    let used = false;
    const a = Math.ceil((e.startMs - before - history.startMs) / step);
    const b = Math.ceil((e.endMs + after - history.startMs) / step);
    for (let i = a; i < b; i++) {
      const r = history.values[i] / normal[i];
      if (!Number.isFinite(r)) continue;
      const t = history.startMs + i * step;
      const rel = relativeStep(e, t, step);
      push(acc[rel.part], rel.k, r);
      used = true;
    }
    if (used) {
      acc.n++;
      byTag.set(e.tag, acc);
    }
  }
  const out = new Map<string, UpliftProfile>();
  for (const [tag, acc] of byTag) {
    out.set(tag, { tag, events: acc.n, stepMs: step, before: band(acc.before), sinceStart: band(acc.since), untilEnd: band(acc.until), after: band(acc.after) });
  }
  return out;
}

type Part = 'before' | 'since' | 'until' | 'after';

/**
 * Where time `t` (the start of a step) falls relative to event `e`: the part and the index in it. `before`
 * counts back from the start (k = 0 is the step just before it), `until` counts back from the end.
 */
function relativeStep(e: CalendarEvent, t: number, step: number): { part: Part; k: number } {
  if (t < e.startMs) return { part: 'before', k: Math.ceil((e.startMs - t) / step) - 1 };
  if (t >= e.endMs) return { part: 'after', k: Math.floor((t - e.endMs) / step) };
  if (t - e.startMs < (e.endMs - e.startMs) / 2) return { part: 'since', k: Math.floor((t - e.startMs) / step) };
  return { part: 'until', k: Math.ceil((e.endMs - t) / step) - 1 };
}

/**
 * The nearest trusted value at or below index k: a step that at least half of the past events had (deep into
 * a long event only the longest past ones reach, and one event's ratio is no estimate of the tag's), so a
 * longer event than the past ones holds the level of the last step most of them shared.
 */
function lookup(b: UpliftBand, k: number, events: number): Uplift | undefined {
  const need = Math.max(1, Math.ceil(events / 2));
  for (let j = Math.min(k, b.p50.length - 1); j >= 0; j--) {
    if (b.n[j] >= need && Number.isFinite(b.p50[j])) return { p50: b.p50[j], p90: b.p90[j], p99: b.p99[j] };
  }
  return undefined;
}

/**
 * The learned uplift at time `t` for event `e`, or undefined outside the profile's reach (ratio 1). Before
 * and after the event only the learned margins apply; inside, a longer event than any past one holds the
 * level of the longest learned offset.
 */
export function upliftAt(p: UpliftProfile, e: CalendarEvent, t: number): Uplift | undefined {
  const rel = relativeStep(e, t, p.stepMs);
  switch (rel.part) {
    case 'before':
      return rel.k < p.before.p50.length ? lookup(p.before, rel.k, p.events) : undefined;
    case 'after':
      return rel.k < p.after.p50.length ? lookup(p.after, rel.k, p.events) : undefined;
    case 'since':
      return lookup(p.sinceStart, rel.k, p.events) ?? lookup(p.untilEnd, rel.k, p.events);
    case 'until':
      return lookup(p.untilEnd, rel.k, p.events) ?? lookup(p.sinceStart, rel.k, p.events);
    default: {
      const never: never = rel.part;
      throw new Error(`unknown relative part ${String(never)}`);
    }
  }
}

/** The peak of a band's p50 over the event itself: a one-number summary for logs and docs. */
export function peakMultiplier(p: UpliftProfile): number {
  let m = 1;
  for (const b of [p.sinceStart, p.untilEnd]) for (const x of b.p50) if (Number.isFinite(x)) m = Math.max(m, x);
  return m;
}
