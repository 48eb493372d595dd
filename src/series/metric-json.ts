import type { Series } from './series.js';
import { InputError, errorMessage } from '../util/errors.js';
import { parseTimestamp, pointsToSeries, readText, type RateUnit, type TimedValue } from './csv.js';

/**
 * Loaders for metrics exported from the systems prescale reads live, so that an export trains directly:
 * CloudWatch `GetMetricData` output (`aws cloudwatch get-metric-data … > file.json`) and Prometheus
 * `query_range` output (`curl …/api/v1/query_range?… > file.json`).
 */

export interface CloudWatchOptions {
  /**
   * `count-per-interval` for the `Sum` statistic (Sum ÷ period = rate); `per-second` or `per-minute` when
   * the metric already is a rate (e.g. an `Average` of a per-second metric).
   */
  readonly unit: RateUnit;
  /** The `Id` of the query to read; needed only when the file holds several. */
  readonly id?: string;
  /** The query's period; default: the most common spacing of the timestamps. */
  readonly periodSeconds?: number;
  readonly source?: string;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function looksLikeCloudWatch(doc: unknown): boolean {
  const first = Array.isArray(doc) ? doc[0] : doc;
  return isRecord(first) && Array.isArray(first.MetricDataResults);
}

export function looksLikePrometheus(doc: unknown): boolean {
  return isRecord(doc) && typeof doc.status === 'string' && ('data' in doc || 'error' in doc);
}

function checkValue(v: number, where: string, source: string): number {
  if (Number.isNaN(v)) return v;
  if (!Number.isFinite(v)) throw new InputError(`${source}: ${where}: value ${v} is not finite`);
  if (v < 0) throw new InputError(`${source}: ${where}: value ${v} is negative; request counts and rates cannot be`);
  return v;
}

function cloudWatchTime(t: unknown, where: string, source: string): number {
  // The CLI writes ISO strings; the SDK's JSON protocol writes epoch seconds.
  const ms = typeof t === 'number' ? t * 1000 : typeof t === 'string' ? parseTimestamp(t) : NaN;
  if (!Number.isFinite(ms)) throw new InputError(`${source}: ${where}: timestamp ${JSON.stringify(t)} is neither ISO 8601 nor epoch seconds`);
  return ms;
}

function cloudWatchPoints(pages: unknown[], o: CloudWatchOptions, source: string): TimedValue[] {
  const byId = new Map<string, TimedValue[]>();
  pages.forEach((page, p) => {
    if (!isRecord(page) || !Array.isArray(page.MetricDataResults)) {
      throw new InputError(`${source}: page ${p + 1} has no MetricDataResults array`);
    }
    page.MetricDataResults.forEach((r: unknown, k) => {
      const at = `page ${p + 1}, MetricDataResults[${k}]`;
      if (!isRecord(r) || typeof r.Id !== 'string' || !Array.isArray(r.Timestamps) || !Array.isArray(r.Values)) {
        throw new InputError(`${source}: ${at} needs Id, Timestamps and Values`);
      }
      if (r.Timestamps.length !== r.Values.length) {
        throw new InputError(`${source}: ${at} (Id ${r.Id}) has ${r.Timestamps.length} timestamps but ${r.Values.length} values`);
      }
      if (r.StatusCode === 'Forbidden' || r.StatusCode === 'InternalError') {
        throw new InputError(`${source}: ${at} (Id ${r.Id}) has StatusCode ${r.StatusCode}: the export is not usable`);
      }
      const list = byId.get(r.Id) ?? [];
      byId.set(r.Id, list);
      const values = r.Values;
      r.Timestamps.forEach((t: unknown, i) => {
        const where = `${at} (Id ${r.Id}) point ${i}`;
        const v = values[i];
        if (typeof v !== 'number') throw new InputError(`${source}: ${where}: value ${JSON.stringify(v)} is not a number`);
        list.push({ timeMs: cloudWatchTime(t, where, source), value: checkValue(v, where, source), where });
      });
    });
  });
  const ids = [...byId.keys()];
  if (ids.length === 0) throw new InputError(`${source}: no MetricDataResults`);
  const id = o.id ?? (ids.length === 1 ? ids[0] : undefined);
  if (id === undefined) throw new InputError(`${source}: holds several queries (${ids.join(', ')}); pick one by its Id`);
  const points = byId.get(id);
  if (!points) throw new InputError(`${source}: no query with Id "${id}"; the Ids are ${ids.join(', ')}`);
  // GetMetricData returns newest first by default, and pages split the range.
  return points.sort((a, b) => a.timeMs - b.timeMs);
}

/** A series (requests per second) from one query of a `GetMetricData` response or a list of its pages. */
export function parseCloudWatchJson(doc: unknown, o: CloudWatchOptions): Series {
  const source = o.source ?? 'CloudWatch JSON';
  const pages = Array.isArray(doc) ? doc : [doc];
  const stepMs = o.periodSeconds !== undefined ? o.periodSeconds * 1000 : undefined;
  return pointsToSeries(cloudWatchPoints(pages, o, source), { unit: o.unit, source, stepMs });
}

export interface PrometheusOptions {
  /** Usually `per-second`: `rate()` and `sum(rate())` give requests per second. */
  readonly unit: RateUnit;
  /**
   * Label matchers `name=value[,name=value]` picking the series to use; every series that matches is summed.
   * Without it, all series of the result are summed (as `sum()` would).
   */
  readonly select?: string;
  readonly stepSeconds?: number;
  readonly source?: string;
}

function parseSelector(text: string, source: string): [string, string][] {
  return text.split(',').map((pair) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?([^"]*)"?\s*$/.exec(pair);
    if (!m) throw new InputError(`${source}: series selector "${text}" must be name=value[,name=value]`);
    return [m[1], m[2]];
  });
}

interface PromSeries {
  readonly metric: Record<string, unknown>;
  readonly values: unknown[];
}

function promSeriesList(doc: unknown, source: string): PromSeries[] {
  if (!isRecord(doc)) throw new InputError(`${source}: not a Prometheus query_range response`);
  if (doc.status !== 'success') {
    throw new InputError(`${source}: Prometheus returned status ${String(doc.status)}: ${String(doc.error ?? 'no error text')}`);
  }
  const data = doc.data;
  if (!isRecord(data) || data.resultType !== 'matrix' || !Array.isArray(data.result)) {
    throw new InputError(`${source}: data.resultType must be "matrix" (a query_range response), ${isRecord(data) ? String(data.resultType) : 'no data'} given`);
  }
  return data.result.map((r: unknown, k) => {
    if (!isRecord(r) || !isRecord(r.metric) || !Array.isArray(r.values)) {
      throw new InputError(`${source}: data.result[${k}] needs metric and values`);
    }
    return { metric: r.metric, values: r.values };
  });
}

/** A series (requests per second) from a Prometheus `query_range` response; several series are summed. */
export function parsePrometheusJson(doc: unknown, o: PrometheusOptions): Series {
  const source = o.source ?? 'Prometheus JSON';
  let list = promSeriesList(doc, source);
  if (o.select !== undefined) {
    const want = parseSelector(o.select, source);
    const all = list;
    list = list.filter((s) => want.every(([k, v]) => s.metric[k] === v));
    if (list.length === 0) {
      const have = all.map((s) => JSON.stringify(s.metric)).join(', ');
      throw new InputError(`${source}: no series matches ${o.select}; the series are ${have || 'none'}`);
    }
  }
  if (list.length === 0) throw new InputError(`${source}: the query returned no series`);
  const sums = new Map<number, { sum: number; present: number; where: string }>();
  list.forEach((s, k) => {
    s.values.forEach((pair: unknown, i) => {
      const where = `data.result[${k}].values[${i}]`;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number' || typeof pair[1] !== 'string') {
        throw new InputError(`${source}: ${where} must be [unixSeconds, "value"]`);
      }
      const v = pair[1].toLowerCase() === 'nan' ? NaN : Number(pair[1]);
      if (pair[1].trim() === '' || (Number.isNaN(v) && pair[1].toLowerCase() !== 'nan')) {
        throw new InputError(`${source}: ${where}: value "${pair[1]}" is not a number`);
      }
      checkValue(v, where, source);
      const t = Math.round(pair[0] * 1000);
      const acc = sums.get(t) ?? { sum: 0, present: 0, where };
      if (!Number.isNaN(v)) {
        acc.sum += v;
        acc.present++;
      }
      sums.set(t, acc);
    });
  });
  const points: TimedValue[] = [...sums.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([timeMs, a]) => ({ timeMs, value: a.present > 0 ? a.sum : NaN, where: a.where }));
  const stepMs = o.stepSeconds !== undefined ? o.stepSeconds * 1000 : undefined;
  return pointsToSeries(points, { unit: o.unit, source, stepMs });
}

/** Parses a JSON file, naming the file when it is not JSON. */
export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new InputError(`${file}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
}
