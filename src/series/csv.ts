import { readFileSync } from 'node:fs';
import type { Series } from './series.js';
import { InputError, errorMessage } from '../util/errors.js';
import { readCsvTable, type CsvRow } from './csv-table.js';

/**
 * What the numbers in a file mean, as stated by the user: a count of requests per interval of the file's own
 * step (a CloudWatch `Sum`, a log aggregated per minute), or a rate per second or per minute. Every loader
 * returns requests per second.
 */
export type RateUnit = 'count-per-interval' | 'per-second' | 'per-minute';
export const RATE_UNITS: readonly RateUnit[] = ['count-per-interval', 'per-second', 'per-minute'];

/** One observation before it is put on the step grid: a time, and a value in the file's unit (NaN = gap). */
export interface TimedValue {
  readonly timeMs: number;
  readonly value: number;
  /** Where it came from, for errors ("line 12", "result cpu, point 3"). */
  readonly where: string;
}

export function parseRateUnit(text: string, where: string): RateUnit {
  const u = RATE_UNITS.find((x) => x === text);
  if (!u) throw new InputError(`${where}: unit must be one of ${RATE_UNITS.join(', ')}, "${text}" given`);
  return u;
}

/** Requests per second from a value in `unit`, for an interval of `stepMs`. */
export function toPerSecond(value: number, unit: RateUnit, stepMs: number): number {
  switch (unit) {
    case 'count-per-interval':
      return value / (stepMs / 1000);
    case 'per-second':
      return value;
    case 'per-minute':
      return value / 60;
    default: {
      const never: never = unit;
      throw new Error(`unknown unit ${String(never)}`);
    }
  }
}

/** The most common difference between consecutive times (the native step); ties go to the smaller one. */
export function modalStep(times: readonly number[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < times.length; i++) {
    const d = times[i] - times[i - 1];
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = NaN;
  let bestCount = 0;
  for (const [d, c] of counts) {
    if (c > bestCount || (c === bestCount && d < best)) {
      best = d;
      bestCount = c;
    }
  }
  return best;
}

export interface GridOptions {
  readonly unit: RateUnit;
  /** The file (or other source) named in errors. */
  readonly source: string;
  /** The step; when absent, the most common difference between consecutive times. */
  readonly stepMs?: number;
}

/**
 * Puts sorted observations on a regular grid that starts at the first time: each observation goes to the
 * nearest grid point, so timestamps with jitter (NAB's 5-minute data) land where they belong. Intervals with
 * no observation are gaps. When jitter puts two observations on one grid point, counts add up and rates are
 * averaged. Values are converted to requests per second.
 */
export function pointsToSeries(points: readonly TimedValue[], o: GridOptions): Series {
  if (points.length === 0) throw new InputError(`${o.source}: no data points`);
  assertIncreasing(points, o.source);
  const stepMs = gridStep(points, o);
  const t0 = points[0].timeMs;
  const n = Math.round((points[points.length - 1].timeMs - t0) / stepMs) + 1;
  const sum = new Float64Array(n);
  const cnt = new Float64Array(n);
  for (const p of points) {
    if (Number.isNaN(p.value)) continue;
    const b = Math.round((p.timeMs - t0) / stepMs);
    sum[b] += p.value;
    cnt[b]++;
  }
  const values = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    if (cnt[b] === 0) {
      values[b] = NaN;
      continue;
    }
    const v = o.unit === 'count-per-interval' ? sum[b] : sum[b] / cnt[b];
    values[b] = toPerSecond(v, o.unit, stepMs);
  }
  return { startMs: t0, stepMs, values };
}

function assertIncreasing(points: readonly TimedValue[], source: string): void {
  for (let i = 1; i < points.length; i++) {
    const p = points[i];
    const prev = points[i - 1];
    if (p.timeMs === prev.timeMs) {
      throw new InputError(`${source}: ${p.where}: duplicate timestamp ${new Date(p.timeMs).toISOString()} (also at ${prev.where})`);
    }
    if (p.timeMs < prev.timeMs) {
      throw new InputError(
        `${source}: ${p.where}: timestamps must increase, ${new Date(p.timeMs).toISOString()} comes after ${new Date(prev.timeMs).toISOString()} (${prev.where})`,
      );
    }
  }
}

function gridStep(points: readonly TimedValue[], o: GridOptions): number {
  const found = o.stepMs ?? (points.length > 1 ? modalStep(points.map((p) => p.timeMs)) : NaN);
  if (!Number.isFinite(found)) {
    throw new InputError(`${o.source}: needs at least two data points to find the step, ${points.length} given`);
  }
  const stepMs = Math.round(found);
  if (stepMs <= 0) throw new InputError(`${o.source}: the step must be at least 1 ms, ${stepMs} ms found`);
  return stepMs;
}

// ISO 8601 (date, T or space, time with optional seconds and fraction, optional zone).
const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Milliseconds since the epoch for `YYYY-MM-DD[ HH:MM[:SS[.fff]]][zone]` (T or space); no zone means UTC.
 * NaN when the text is not such a time or names an impossible date (2021-02-30).
 */
export function parseTimestamp(text: string): number {
  const m = TIME_RE.exec(text.trim());
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  const t = Date.UTC(y, mo - 1, d, h, mi, s) + Math.round(frac);
  // Date.UTC rolls 2021-02-30 over into March; a date that does not survive the round trip does not exist.
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return t - zoneOffsetMs(m[8]);
}

/** Milliseconds east of UTC for `Z`, `+02:00`, `-0500`; 0 when absent (naive times are UTC). */
function zoneOffsetMs(zone: string | undefined): number {
  if (!zone || zone.toUpperCase() === 'Z') return 0;
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone) as RegExpExecArray;
  const off = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  return z[1] === '+' ? off : -off;
}

/** A strict decimal number (no hex, no "1e", no "Infinity"). */
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface CsvOptions {
  /** The value column by header name; default: the first column after the time column. */
  readonly valueColumn?: string;
  readonly unit: RateUnit;
  /** Time that `minute_offset` 0 stands for; default 1970-01-01T00:00Z. */
  readonly originMs?: number;
  /** Name of the file in errors. */
  readonly source?: string;
}

interface Header {
  readonly timeIsOffset: boolean;
  readonly valueIdx: number;
  readonly width: number;
}

function parseHeader(row: CsvRow, o: CsvOptions, source: string): Header {
  // The header is the first line: a blank first line is an empty header, not one to skip.
  const cols = row.line === 1 ? row.cells : [''];
  if (cols.length < 2) {
    throw new InputError(`${source}: line 1: the header needs a time column and a value column, found "${cols.join(',').slice(0, 80)}"`);
  }
  if (!Number.isNaN(parseTimestamp(cols[0])) || NUMBER_RE.test(cols[0])) {
    throw new InputError(`${source}: line 1 is data ("${cols[0]}"), but the first line must be a header naming the columns`);
  }
  const timeIsOffset = cols[0].toLowerCase() === 'minute_offset';
  let valueIdx = 1;
  if (o.valueColumn !== undefined) {
    valueIdx = cols.indexOf(o.valueColumn);
    if (valueIdx < 1) {
      throw new InputError(`${source}: no value column "${o.valueColumn}"; the columns are ${cols.map((c) => `"${c}"`).join(', ')}`);
    }
  }
  return { timeIsOffset, valueIdx, width: cols.length };
}

function parseRow(cells: string[], h: Header, o: CsvOptions, lineNo: number): TimedValue {
  const source = o.source ?? 'CSV';
  const where = `line ${lineNo}`;
  if (cells.length <= h.valueIdx) {
    throw new InputError(`${source}: ${where}: has ${cells.length} cells, the header has ${h.width}`);
  }
  const tCell = cells[0];
  let timeMs: number;
  if (h.timeIsOffset) {
    if (!NUMBER_RE.test(tCell)) throw new InputError(`${source}: ${where}: minute_offset must be a number, "${tCell}" given`);
    timeMs = (o.originMs ?? 0) + Math.round(Number(tCell) * 60_000);
  } else {
    timeMs = parseTimestamp(tCell);
    if (Number.isNaN(timeMs)) {
      throw new InputError(`${source}: ${where}: "${tCell}" is not a timestamp (expected ISO 8601 or YYYY-MM-DD HH:MM:SS)`);
    }
  }
  const vCell = cells[h.valueIdx];
  let value = NaN;
  if (vCell !== '' && vCell.toLowerCase() !== 'nan') {
    if (!NUMBER_RE.test(vCell)) throw new InputError(`${source}: ${where}: value "${vCell}" is not a number`);
    value = Number(vCell);
    if (!Number.isFinite(value)) throw new InputError(`${source}: ${where}: value "${vCell}" is not a finite number`);
    if (value < 0) throw new InputError(`${source}: ${where}: value ${vCell} is negative; request counts and rates cannot be`);
  }
  return { timeMs, value, where };
}

/**
 * Parses CSV text whose first column is a timestamp or `minute_offset` into a series of requests per second
 * at the file's native step. Empty cells (and `NaN`) are gaps; so are intervals with no row. Cells may be
 * quoted as RFC 4180 has it (src/series/csv-table.ts); blank lines after the header are skipped.
 */
export function parseCsvSeries(text: string, o: CsvOptions): Series {
  const source = o.source ?? 'CSV';
  const rows = readCsvTable(text, { source, where: (line) => `${source}: line ${line}` });
  if (rows.length === 0) throw new InputError(`${source}: the file is empty`);
  const header = parseHeader(rows[0], o, source);
  const points: TimedValue[] = [];
  for (let i = 1; i < rows.length; i++) points.push(parseRow(rows[i].cells, header, o, rows[i].line));
  if (points.length === 0) throw new InputError(`${source}: has a header but no data rows`);
  return pointsToSeries(points, { unit: o.unit, source });
}

export function loadCsvSeries(file: string, o: Omit<CsvOptions, 'source'>): Series {
  return parseCsvSeries(readText(file), { ...o, source: file });
}

/** Reads a file as UTF-8, turning "no such file" and friends into an InputError that names it. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}
