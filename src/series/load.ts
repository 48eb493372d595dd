import path from 'node:path';
import type { Series } from './series.js';
import { InputError, errorMessage } from '../util/errors.js';
import { parseCsvSeries, readText, type RateUnit } from './csv.js';
import { looksLikeCloudWatch, looksLikePrometheus, parseCloudWatchJson, parsePrometheusJson } from './metric-json.js';

export type SeriesFormat = 'csv' | 'cloudwatch' | 'prometheus';

export interface LoadSeriesOptions {
  /**
   * Which values to read: the CSV column, the CloudWatch query `Id`, or Prometheus label matchers
   * (`name=value[,name=value]`). Default: the first value column / the only query / the sum of all series.
   */
  readonly valueColumn?: string;
  /**
   * What the values mean. Default: `count-per-interval` for CSV and CloudWatch (a `Sum`), `per-second` for
   * Prometheus (a `rate()`).
   */
  readonly unit?: RateUnit;
  /** Time that `minute_offset` 0 stands for in a CSV; default 1970-01-01T00:00Z. */
  readonly originMs?: number;
}

export interface LoadedSeries {
  readonly series: Series;
  readonly format: SeriesFormat;
  readonly unit: RateUnit;
}

/** The format of a file: by its content when it is JSON, else CSV. */
export function detectFormat(file: string, text: string): SeriesFormat {
  const head = text.replace(/^\uFEFF/, '').trimStart();
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.json' && !head.startsWith('{') && !head.startsWith('[')) return 'csv';
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new InputError(`${file}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
  if (looksLikeCloudWatch(doc)) return 'cloudwatch';
  if (looksLikePrometheus(doc)) return 'prometheus';
  throw new InputError(`${file}: JSON that is neither CloudWatch GetMetricData output (MetricDataResults) nor a Prometheus query_range response (status, data)`);
}

/**
 * Reads a trace file into a series of requests per second at the file's native step. This is what every
 * command reading `--trace FILE [--value-col NAME] [--unit …]` uses.
 */
export function loadSeriesFile(file: string, o: LoadSeriesOptions = {}): LoadedSeries {
  const text = readText(file);
  const format = detectFormat(file, text);
  switch (format) {
    case 'csv': {
      const unit = o.unit ?? 'count-per-interval';
      return { format, unit, series: parseCsvSeries(text, { unit, valueColumn: o.valueColumn, originMs: o.originMs, source: file }) };
    }
    case 'cloudwatch': {
      const unit = o.unit ?? 'count-per-interval';
      return { format, unit, series: parseCloudWatchJson(JSON.parse(text), { unit, id: o.valueColumn, source: file }) };
    }
    case 'prometheus': {
      const unit = o.unit ?? 'per-second';
      return { format, unit, series: parsePrometheusJson(JSON.parse(text), { unit, select: o.valueColumn, source: file }) };
    }
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}
