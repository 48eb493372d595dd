import { readFileSync } from 'node:fs';
import { readCsvTable } from '../series/csv-table.js';
import { InputError, errorMessage } from '../util/errors.js';

/**
 * The promo calendar: known events (a flash sale, a launch) with a tag that groups events of one kind, so that
 * what past events of a tag did to the load can be learned (src/events/uplift.ts) and applied to future ones.
 * Read from a CSV (`name,start,end,tag[,multiplier][,minCapacity]`) or from the JSON that
 * `prescale synth --events-out` writes.
 */
export interface CalendarEvent {
  readonly name: string;
  readonly startMs: number;
  /** Exclusive. */
  readonly endMs: number;
  readonly tag: string;
  /** Expected load over normal load, if the planner should be told (the forecaster learns its own). */
  readonly multiplier?: number;
  /** Capacity never planned below during the event. */
  readonly minCapacity?: number;
}

const REQUIRED = ['name', 'start', 'end', 'tag'] as const;
const OPTIONAL = ['multiplier', 'minCapacity'] as const;
const COLUMNS: readonly string[] = [...REQUIRED, ...OPTIONAL];
/** Keys `synth --events-out` writes besides the calendar itself: accepted and ignored in JSON. */
const JSON_EXTRA = ['startMs', 'endMs', 'peakQps'];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([zZ]|[+-]\d{2}:?\d{2})?$/;

/** An ISO date-time; without a zone it is UTC, as the trace loaders read times. NaN when not one. */
export function parseIsoTime(text: string): number {
  if (!ISO.test(text)) return NaN;
  return Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`);
}

interface RawEvent {
  name: unknown;
  start: unknown;
  end: unknown;
  tag: unknown;
  multiplier?: unknown;
  minCapacity?: unknown;
}

/** Checks one event's fields; `where` names the file and line (CSV) or index (JSON) in errors. */
function checkEvent(raw: RawEvent, where: string): CalendarEvent {
  const text = (key: keyof RawEvent): string => {
    const v = raw[key];
    if (typeof v !== 'string' || v.trim() === '') throw new InputError(`${where}: ${key} must be a non-empty text, ${JSON.stringify(v ?? null)} given`);
    return v.trim();
  };
  const time = (key: 'start' | 'end'): number => {
    const v = text(key);
    const t = parseIsoTime(v);
    if (!Number.isFinite(t)) throw new InputError(`${where}: ${key} is not an ISO date-time: "${v}" (e.g. 2026-01-18T12:00:00Z; no zone means UTC)`);
    return t;
  };
  const startMs = time('start');
  const endMs = time('end');
  if (endMs <= startMs) throw new InputError(`${where}: end (${new Date(endMs).toISOString()}) must be after start (${new Date(startMs).toISOString()})`);
  const num = (key: 'multiplier' | 'minCapacity'): number | undefined => {
    const v = raw[key];
    if (v === undefined || v === '' || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n)) throw new InputError(`${where}: ${key} must be a number, ${JSON.stringify(v)} given`);
    return n;
  };
  const multiplier = num('multiplier');
  if (multiplier !== undefined && !(multiplier > 0)) throw new InputError(`${where}: multiplier must be > 0, ${multiplier} given`);
  const minCapacity = num('minCapacity');
  if (minCapacity !== undefined && !(Number.isInteger(minCapacity) && minCapacity >= 0)) {
    throw new InputError(`${where}: minCapacity must be a whole number >= 0, ${minCapacity} given`);
  }
  return {
    name: text('name'),
    startMs,
    endMs,
    tag: text('tag'),
    ...(multiplier !== undefined ? { multiplier } : {}),
    ...(minCapacity !== undefined ? { minCapacity } : {}),
  };
}

/**
 * Parses an events CSV; `source` (the file name) prefixes every error together with the line number. Fields
 * may be quoted as RFC 4180 has it (src/series/csv-table.ts), so a name may hold commas, quotes and line
 * breaks; blank lines are skipped.
 */
export function parseEventsCsv(text: string, source = 'events.csv'): CalendarEvent[] {
  const rows = readCsvTable(text, { source });
  if (rows.length === 0) throw new InputError(`${source}: empty, expected a header line ${COLUMNS.join(',')}`);
  const { cells: header, line: headerLine } = rows[0];
  for (const h of header) {
    if (!COLUMNS.includes(h)) throw new InputError(`${source}:${headerLine}: unknown column "${h}"; the columns are ${COLUMNS.join(', ')}`);
  }
  if (new Set(header).size !== header.length) throw new InputError(`${source}:${headerLine}: a column appears twice in "${header.join(',')}"`);
  for (const r of REQUIRED) {
    if (!header.includes(r)) throw new InputError(`${source}:${headerLine}: missing column "${r}"; required: ${REQUIRED.join(', ')}`);
  }
  return rows.slice(1).map(({ cells, line }) => {
    const where = `${source}:${line}`;
    if (cells.length !== header.length) throw new InputError(`${where}: ${cells.length} fields, the header has ${header.length}`);
    const raw: Record<string, string> = {};
    header.forEach((h, k) => (raw[h] = cells[k]));
    return checkEvent(raw as unknown as RawEvent, where);
  });
}

/** Parses the events JSON: an array of objects with ISO `start`/`end` (as `synth --events-out` writes). */
export function parseEventsJson(text: string, source = 'events.json'): CalendarEvent[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err: unknown) {
    throw new InputError(`${source}: not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (!Array.isArray(doc)) throw new InputError(`${source}: expected an array of events, got ${doc === null ? 'null' : typeof doc}`);
  return doc.map((item: unknown, i) => {
    const where = `${source}: [${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new InputError(`${where}: expected an object with ${REQUIRED.join(', ')}`);
    for (const k of Object.keys(item)) {
      if (!COLUMNS.includes(k) && !JSON_EXTRA.includes(k)) throw new InputError(`${where}: unknown key "${k}"; the keys are ${COLUMNS.join(', ')}`);
    }
    return checkEvent(item as RawEvent, where);
  });
}

/** Reads a calendar file: `.json` as JSON, anything else as CSV. */
export function loadEventsFile(file: string): CalendarEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`${file}: cannot read events: ${errorMessage(err)}`, { cause: err });
  }
  return /\.json$/i.test(file) ? parseEventsJson(text, file) : parseEventsCsv(text, file);
}

function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The calendar as CSV, read back by parseEventsCsv; the optional columns appear when any event has them. */
export function eventsCsv(events: readonly CalendarEvent[]): string {
  const withMult = events.some((e) => e.multiplier !== undefined);
  const withMin = events.some((e) => e.minCapacity !== undefined);
  const head = [...REQUIRED, ...(withMult ? ['multiplier'] : []), ...(withMin ? ['minCapacity'] : [])];
  const rows = events.map((e) => [
    csvField(e.name),
    new Date(e.startMs).toISOString(),
    new Date(e.endMs).toISOString(),
    csvField(e.tag),
    ...(withMult ? [e.multiplier === undefined ? '' : String(e.multiplier)] : []),
    ...(withMin ? [e.minCapacity === undefined ? '' : String(e.minCapacity)] : []),
  ]);
  return [head.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
}

/** Events that overlap [fromMs, toMs). */
export function eventsBetween(events: readonly CalendarEvent[], fromMs: number, toMs: number): CalendarEvent[] {
  return events.filter((e) => e.endMs > fromMs && e.startMs < toMs);
}
