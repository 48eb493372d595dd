import type { CalendarEvent } from '../events/events.js';
import { margins } from '../events/uplift.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';

/**
 * Known-future calendar inputs of the LSTM (issue 8): for a step starting at `ms`, whether an event of the
 * calendar is running and where the step sits relative to the nearest events, plus a one-hot of that event's tag
 * over the tags seen in the training calendar. The calendar is known ahead, so these are filled for the target
 * steps as well as the origin.
 */

/** Distances are clipped at this many minutes and scaled to 0..1 (1: that far or farther, or no such event). */
export const EVENT_CLIP_MINUTES = 240;
/** Most tags one-hot encoded; the most frequent in the training calendar are kept. */
export const MAX_EVENT_TAGS = 8;

/** Numeric calendar inputs per step, before the tag one-hot. */
const EVENT_NUMERIC = ['active', 'to_start', 'since_start', 'to_end', 'since_end'] as const;

/** Names of the calendar inputs of one step, e.g. `ev_h3_active`, `ev_h3_tag_promo`. */
export function eventFeatureNames(step: string, tags: readonly string[]): string[] {
  return [...EVENT_NUMERIC.map((n) => `ev_${step}_${n}`), ...tags.map((t) => `ev_${step}_tag_${t}`)];
}

/** Per-step input count: the numeric ones and one per tag. */
export function eventFeatureCount(tags: readonly string[]): number {
  return EVENT_NUMERIC.length + tags.length;
}

/**
 * Checks a calendar handed to the LSTM: times finite, end after start, a non-empty tag. The file loaders check
 * the same for files; this catches calendars built in code (the service, scripts).
 */
export function checkCalendar(events: readonly CalendarEvent[], who = 'lstm'): readonly CalendarEvent[] {
  if (!Array.isArray(events)) throw new InputError(`${who}: events must be an array of calendar events, ${typeof events} given`);
  events.forEach((e, i) => checkEvent(e, `${who}: event ${typeof e?.name === 'string' ? `"${e.name}"` : `#${i}`}`));
  return events;
}

function checkEvent(e: CalendarEvent, where: string): void {
  if (typeof e !== 'object' || e === null) throw new InputError(`${where} is not an object: ${JSON.stringify(e)}`);
  if (!Number.isFinite(e.startMs) || !Number.isFinite(e.endMs)) throw new InputError(`${where} needs finite startMs and endMs, ${e.startMs} and ${e.endMs} given`);
  if (!(e.endMs > e.startMs)) throw new InputError(`${where} ends (${new Date(e.endMs).toISOString()}) before or when it starts (${new Date(e.startMs).toISOString()})`);
  if (typeof e.tag !== 'string' || e.tag.trim() === '') throw new InputError(`${where} needs a non-empty tag, ${JSON.stringify(e.tag ?? null)} given`);
}

/** The tags of the events that started before `untilMs` (the training calendar), most frequent first, at most MAX_EVENT_TAGS. */
export function trainingTags(events: readonly CalendarEvent[], untilMs: number): string[] {
  const count = new Map<string, number>();
  for (const e of events) if (e.startMs < untilMs) count.set(e.tag, (count.get(e.tag) ?? 0) + 1);
  return [...count.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_EVENT_TAGS)
    .map(([t]) => t);
}

/** Events sorted by start, for the lookups below. */
export interface EventIndex {
  readonly events: readonly CalendarEvent[];
  readonly tags: readonly string[];
}

export function eventIndex(events: readonly CalendarEvent[], tags: readonly string[]): EventIndex {
  return { events: [...events].sort((a, b) => a.startMs - b.startMs), tags };
}

const clip = (ms: number): number => Math.min(1, Math.max(0, ms / (EVENT_CLIP_MINUTES * MINUTE_MS)));

/** The events around a step [ms, ms + stepMs): running (latest started), next to start after ms, latest start and end before it. */
interface Around {
  running?: CalendarEvent;
  next?: CalendarEvent;
  lastStart: number;
  lastEnded?: CalendarEvent;
}

function around(ix: EventIndex, ms: number, stepMs: number): Around {
  const a: Around = { lastStart: -Infinity };
  for (const e of ix.events) {
    if (e.startMs > ms) {
      a.next ??= e;
      if (e.startMs >= ms + stepMs) break; // sorted by start: no later event is running or ended
    } else a.lastStart = e.startMs;
    if (e.endMs > ms) {
      if (!a.running || e.startMs >= a.running.startMs) a.running = e;
    } else if (!a.lastEnded || e.endMs > a.lastEnded.endMs) a.lastEnded = e;
  }
  return a;
}

/** The event whose tag is one-hot encoded: the running one, else the next within the clip, else the latest ended within it. */
function tagged(a: Around, ms: number): CalendarEvent | undefined {
  if (a.running) return a.running;
  if (a.next && clip(a.next.startMs - ms) < 1) return a.next;
  return a.lastEnded && clip(ms - a.lastEnded.endMs) < 1 ? a.lastEnded : undefined;
}

/**
 * Writes the calendar inputs of the step [ms, ms + stepMs) into `out` at `k`; returns the next index.
 * active: 1 when the step overlaps an event. to_start / since_start: clipped minutes to the next start after
 * `ms` and since the latest start at or before it; to_end: to the end of the running event (1 when none);
 * since_end: since the latest end at or before `ms`. The tag one-hot follows the running event (the latest
 * started), else the next one to start within the clip, else the latest ended within it; an unknown tag sets none.
 */
export function fillEventInputs(ix: EventIndex, o: { ms: number; stepMs: number; out: Float32Array; k: number }): number {
  const { ms, out } = o;
  const a = around(ix, ms, o.stepMs);
  let k = o.k;
  out[k++] = a.running ? 1 : 0;
  out[k++] = a.next ? clip(a.next.startMs - ms) : 1;
  out[k++] = clip(ms - a.lastStart);
  out[k++] = a.running ? clip(a.running.endMs - ms) : 1;
  out[k++] = a.lastEnded ? clip(ms - a.lastEnded.endMs) : 1;
  const e = tagged(a, ms);
  const at = e ? ix.tags.indexOf(e.tag) : -1;
  for (let j = 0; j < ix.tags.length; j++) out[k++] = j === at ? 1 : 0;
  return k;
}

/**
 * Training origins to oversample: those whose target span (t+1 … t+horizon) overlaps an event window widened by
 * the uplift margins (60 min either side). Such windows are rare (a few hours a week), and without repeating them
 * the network barely learns the uplift.
 */
export function touchesEvent(ix: EventIndex, o: { startMs: number; stepMs: number; t: number; horizon: number }): boolean {
  const { before, after } = margins();
  const a = o.startMs + (o.t + 1) * o.stepMs;
  const b = o.startMs + (o.t + o.horizon + 1) * o.stepMs;
  return ix.events.some((e) => e.startMs - before < b && e.endMs + after > a);
}
