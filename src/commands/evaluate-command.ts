import { Option, type Command } from 'commander';
import { evaluateSeries, type EvaluationReport, type MethodResult } from '../forecast/evaluate.js';
import { availableMethods, parseMethodList, type MethodName } from '../forecast/registry.js';
import { RATE_UNITS, parseTimestamp, type RateUnit } from '../series/csv.js';
import { loadSeriesFile } from '../series/load.js';
import { InputError } from '../util/errors.js';

interface EvaluateFlags {
  trace: string;
  valueCol?: string;
  unit?: RateUnit;
  origin?: string;
  methods?: string;
  json?: boolean;
}

/** The methods `evaluate` runs without --methods: issue 2's list, less what this build lacks. */
export const DEFAULT_EVALUATE_METHODS: readonly MethodName[] = ['auto', 'lstm', 'holt-winters', 'seasonal-naive', 'naive'];

/** One method's line of `--json` output: the keys issue 2 names, NaN as null. */
export interface MethodJson {
  chosen?: string;
  /** auto's band exponent (1 = the chosen model's own p90/p99). */
  bandExponent?: number;
  mase: number | null;
  ufr: number | null;
  peakRatio: number | null;
  coverageP90: number | null;
  /** Protocol v2: window-peak pinball loss at τ = 0.9 of the p90's (the point's) window peak. */
  wpl90: number | null;
  /** Protocol v2: share of complete windows whose actual peak is at or below the forecast peak. */
  windowPeakCoverage: number | null;
  fitSeconds: number;
}

export interface EvaluateJson {
  trace: string;
  resolutionMinutes: number;
  horizonSteps: number;
  points: number;
  methods: Record<string, MethodJson>;
}

const round = (v: number | null, digits = 4): number | null => (v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));

export function toEvaluateJson(trace: string, r: EvaluationReport): EvaluateJson {
  const methods: Record<string, MethodJson> = {};
  for (const [name, m] of Object.entries(r.methods) as [string, MethodResult][]) {
    methods[name] = {
      ...(m.chosen !== undefined ? { chosen: m.chosen } : {}),
      ...(m.bandExponent !== undefined ? { bandExponent: m.bandExponent } : {}),
      mase: round(m.mase),
      ufr: round(m.ufr),
      peakRatio: round(m.peakRatio),
      coverageP90: round(m.coverageP90),
      wpl90: round(m.wpl90 ?? NaN),
      windowPeakCoverage: round(m.windowPeakCoverage ?? NaN),
      fitSeconds: round(m.fitSeconds, 3) ?? 0,
    };
  }
  return { trace, resolutionMinutes: r.resolutionMinutes, horizonSteps: r.horizonSteps, points: r.points, methods };
}

/** ` (chosen, band ×k)` after auto's name: what it picked and how it widened the band; empty for other methods. */
export function choiceLabel(m: { readonly chosen?: string; readonly bandExponent?: number }): string {
  if (!m.chosen) return '';
  return ` (${m.chosen}${m.bandExponent !== undefined && m.bandExponent !== 1 ? `, band ×${m.bandExponent}` : ''})`;
}

/** The readable table printed without --json. */
export function formatEvaluateTable(j: EvaluateJson, r: EvaluationReport): string {
  const cell = (v: number | null, d = 3): string => (v === null ? '—' : v.toFixed(d));
  const rows = Object.entries(j.methods).map(([name, m]) => [
    name + choiceLabel(m),
    cell(m.mase),
    cell(m.ufr),
    cell(m.peakRatio),
    cell(m.coverageP90),
    cell(m.wpl90, 4),
    cell(m.windowPeakCoverage),
    cell(m.fitSeconds, 2),
  ]);
  const head = ['method', 'MASE', 'UFR', 'peak ratio', 'coverage p90', 'WPL90', 'peak coverage', 'fit s'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const fmt = (row: string[]): string => row.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  return [
    `${j.trace}: ${j.points} points at ${j.resolutionMinutes} min (train ${r.trainPoints}, test ${j.points - r.trainPoints}), horizon ${j.horizonSteps} steps, protocols v1 and v2`,
    fmt(head),
    ...rows.map(fmt),
    'UFR, peak ratio, WPL90 and peak coverage use the p90 of probabilistic methods (the point otherwise); coverage p90 is — for point forecasts.',
    'WPL90: window-peak pinball loss at τ = 0.9 ÷ mean window peak (lower is better); peak coverage: share of windows whose peak is at or below the forecast peak (≈ 0.9 when calibrated).',
  ].join('\n');
}

function methodsFrom(flag: string | undefined): MethodName[] {
  if (flag !== undefined) return parseMethodList(flag);
  const have = availableMethods();
  const missing = DEFAULT_EVALUATE_METHODS.filter((m) => !have.includes(m));
  if (missing.length > 0) process.stderr.write(`evaluate: ${missing.join(', ')} not available in this build, skipped\n`);
  return DEFAULT_EVALUATE_METHODS.filter((m) => have.includes(m));
}

function originFrom(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const ms = parseTimestamp(flag);
  if (Number.isNaN(ms)) throw new InputError(`--origin must be an ISO 8601 time such as 2021-08-01T00:00:00Z, "${flag}" given`);
  return ms;
}

export async function evaluateCommand(flags: EvaluateFlags): Promise<void> {
  const methods = methodsFrom(flags.methods);
  const { series } = loadSeriesFile(flags.trace, { valueColumn: flags.valueCol, unit: flags.unit, originMs: originFrom(flags.origin) });
  const err = process.stderr;
  const report = await evaluateSeries(series, {
    methods,
    onMethodStart: (name) => err.write(`evaluate: ${name} …`),
    onProgress: (name, done, total) => {
      // A carriage-return counter on a terminal; a log file gets only the start and end of each method.
      if (err.isTTY && (done % 50 === 0 || done === total)) err.write(`\revaluate: ${name} ${done}/${total} origins`);
    },
    onMethodDone: (name, r) => err.write(`${err.isTTY ? `\revaluate: ${name}` : ''} done (fit ${r.fitSeconds.toFixed(2)} s, ${r.windows} windows)\n`),
  });
  const json = toEvaluateJson(flags.trace, report);
  process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : `${formatEvaluateTable(json, report)}\n`);
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('score forecasting methods on a trace with protocol v1 (30 minutes ahead, rolling origins over the last 30 %)')
    .requiredOption('--trace <file>', 'trace: CSV, CloudWatch GetMetricData JSON or Prometheus query_range JSON')
    .option('--value-col <name>', 'value column (CSV), query Id (CloudWatch) or label matchers name=value (Prometheus)')
    .addOption(new Option('--unit <unit>', 'what the values mean (default: count-per-interval; per-second for Prometheus)').choices(RATE_UNITS))
    .option('--origin <iso>', 'time of minute_offset 0 in a CSV (default 1970-01-01T00:00:00Z)')
    .option('--methods <list>', `comma-separated methods (default ${DEFAULT_EVALUATE_METHODS.join(',')}); any of ${availableMethods().join(', ')}`)
    .option('--json', 'print one JSON object on stdout')
    .action(async (flags: EvaluateFlags) => {
      await evaluateCommand(flags);
    });
}
