import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { runBacktest, summarize, type BacktestOptions, type BacktestProgress, type BacktestResult, STRATEGIES } from '../backtest/backtest.js';
import { writeReport } from '../backtest/report.js';
import { defaultScenario, loadScenarioFile, type Scenario } from '../backtest/scenario.js';
import { SYNTH_PROFILES, synth, synthCsv, type SynthProfile } from '../backtest/synth.js';
import { availableMethods, createForecaster, isMethodName, type MethodName } from '../forecast/registry.js';
import { loadSeriesFile } from '../series/load.js';
import { endMs, type Series } from '../series/series.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { eventsCsv, loadEventsFile, type CalendarEvent } from '../events/events.js';
import { CALENDAR_MODES, calendarModeFlag, calendarModel, defaultCalendarMode, type CalendarMode } from '../events/calendar-model.js';
import { peakMultiplier, type UpliftProfile } from '../events/uplift.js';

interface BacktestFlags {
  trace: string;
  valueCol?: string;
  unit?: Scenario['trace']['unit'];
  scenario?: string;
  from?: string;
  to?: string;
  model?: string;
  json?: boolean;
  report?: string;
  events?: string;
  calendarMode?: string;
}

interface SynthFlags {
  profile: string;
  days: string;
  seed: string;
  out: string;
  eventsOut?: string;
}

const UNITS = ['count-per-interval', 'per-second', 'per-minute'] as const;

export function registerBacktestCommands(program: Command): void {
  program
    .command('backtest')
    .description('replay a recorded trace as reactive, predictive and oracle scaling and score each')
    .requiredOption('--trace <file>', 'trace: CSV, CloudWatch GetMetricData JSON or Prometheus query_range JSON')
    .option('--value-col <name>', 'value column (CSV), query Id (CloudWatch) or label matchers (Prometheus)')
    .addOption(new Option('--unit <unit>', 'what the values mean (default: the scenario trace.unit)').choices(UNITS))
    .option('--scenario <file.yaml>', 'scenario file (docs/backtest.md); default: built-in defaults')
    .option('--from <iso>', 'start of the replay (default: the last 30 % of the trace is replayed)')
    .option('--to <iso>', 'end of the replay, exclusive (default: the end of the trace)')
    .option('--model <name>', 'forecasting method for the predictive strategy (default: auto when available)')
    .option('--json', 'print the scores as JSON on stdout')
    .option('--report <out.html>', 'write a self-contained HTML report')
    .option('--events <file>', 'promo calendar (CSV name,start,end,tag or synth JSON): also replay predictive+calendar')
    .option(
      '--calendar-mode <mode>',
      `with --events, how the model gets the calendar: ${CALENDAR_MODES.join(' (withEvents: learned uplift × a forecast of normal load) or ')} (the LSTM's own calendar inputs; --model lstm only) (default: inputs for lstm, else uplift)`,
    )
    .action(async (flags: BacktestFlags) => {
      await backtestCommand(flags);
    });

  program
    .command('synth')
    .description('write a synthetic per-minute traffic trace (requests per second)')
    .requiredOption('--profile <name>', `traffic profile: ${SYNTH_PROFILES.join(', ')}`)
    .option('--days <n>', 'days of traffic', '14')
    .option('--seed <n>', 'random seed', '1')
    .requiredOption('--out <file.csv>', 'CSV to write (timestamp,qps; read it with unit per-second)')
    .option('--events-out <file>', 'also write the promo events: CSV when the name ends with .csv, else JSON')
    .action((flags: SynthFlags) => {
      synthCommand(flags);
    });
}

function parseTime(flag: string, text: string): number {
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`;
  const t = Date.parse(withZone);
  if (!Number.isFinite(t)) throw new InputError(`${flag}: not an ISO date-time: "${text}" (e.g. 1995-07-13T00:00:00Z; no zone means UTC)`);
  return t;
}

/** Default window: the last 30 % of the trace, on a minute boundary. */
function windowOf(series: Series, flags: BacktestFlags): { fromMs: number; toMs: number } {
  const end = endMs(series);
  const dflt = series.startMs + Math.floor(((end - series.startMs) * 0.7) / MINUTE_MS) * MINUTE_MS;
  const fromMs = flags.from !== undefined ? parseTime('--from', flags.from) : dflt;
  const toMs = flags.to !== undefined ? parseTime('--to', flags.to) : end;
  if (toMs <= fromMs) throw new InputError(`--to (${new Date(toMs).toISOString()}) must be after --from (${new Date(fromMs).toISOString()})`);
  return { fromMs, toMs };
}

function pickModel(name: string | undefined): MethodName {
  if (name !== undefined) {
    if (!isMethodName(name)) throw new InputError(`--model: unknown method "${name}"; available: ${availableMethods().join(', ')}`);
    return name;
  }
  const have = availableMethods();
  // auto picks the best model on held-out data; without it, Holt-Winters is the strongest classical baseline.
  return have.includes('auto') ? 'auto' : 'holt-winters';
}

function progressPrinter(): (p: BacktestProgress) => void {
  const tty = process.stderr.isTTY === true;
  return (p) => {
    if (p.phase === 'fit') {
      process.stderr.write(p.done === 0 ? 'backtest: training the model on data before --from...\n' : 'backtest: model trained\n');
      return;
    }
    const pct = Math.round((100 * p.done) / p.total);
    if (tty) process.stderr.write(`\rbacktest: ${p.phase} ${pct}% (${p.done}/${p.total} min)${p.done === p.total ? '\n' : ''}`);
    else if (p.done === p.total) process.stderr.write(`backtest: ${p.phase} done (${p.total} min)\n`);
  };
}

async function backtestCommand(flags: BacktestFlags): Promise<void> {
  const scenario = flags.scenario ? loadScenarioFile(flags.scenario) : defaultScenario;
  const unit = flags.unit ?? scenario.trace.unit;
  const { series: raw } = loadSeriesFile(flags.trace, { valueColumn: flags.valueCol, unit });
  const series: Series = { ...raw, values: raw.values.map((v) => v * scenario.trace.multiplier) };
  const { fromMs, toMs } = windowOf(series, flags);
  const model = pickModel(flags.model);
  const stepMs = scenario.predictive.stepMinutes * MINUTE_MS;
  const forecaster = createForecaster(model, { stepMs });
  const mode = calendarModeFlag(flags);
  const calendar = flags.events !== undefined ? calendarOf(model, { stepMs, events: loadEventsFile(flags.events), mode }) : undefined;
  const result = await runBacktest({ series, fromMs, toMs, scenario, forecaster, calendar, onProgress: progressPrinter() });
  if (calendar) process.stderr.write(`backtest: ${calendar.mode === 'uplift' ? 'learned uplift' : 'calendar'}: ${calendar.learned(result.strategies['predictive+calendar']?.learned)}\n`);
  if (flags.report) {
    writeReport(result, { file: flags.report, scenario, trace: flags.trace });
    process.stderr.write(`backtest: report written to ${flags.report}\n`);
  }
  process.stdout.write(flags.json ? JSON.stringify(summarize(result), null, 2) + '\n' : table(result));
}

/**
 * The same method again for predictive+calendar, fitted on the same history before --from: in mode `inputs` the
 * LSTM reading the calendar; in mode `uplift` the plain method, which the cycle's calendar wraps as in the service.
 */
function calendarOf(model: MethodName, o: { stepMs: number; events: CalendarEvent[]; mode: CalendarMode | undefined }): NonNullable<BacktestOptions['calendar']> & { learned(p?: ReadonlyMap<string, UpliftProfile>): string } {
  const mode = o.mode ?? defaultCalendarMode(model);
  if (mode === 'inputs') {
    const c = calendarModel(model, { stepMs: o.stepMs, events: o.events, mode });
    return { events: o.events, forecaster: c.forecaster, mode, learned: () => c.learned() };
  }
  const learned = (profiles?: ReadonlyMap<string, UpliftProfile>): string => {
    const lines = [...(profiles?.values() ?? [])].map((p) => `${p.tag} from ${p.events} past events (peak p50 x${peakMultiplier(p).toFixed(2)})`);
    return lines.length > 0 ? lines.join('; ') : 'none (no past event with a day of history before it)';
  };
  return { events: o.events, forecaster: createForecaster(model, { stepMs: o.stepMs }), mode, learned };
}

function table(r: BacktestResult): string {
  const head = ['strategy', 'coldStartShare', 'underProvMin', 'podHours', 'pcHours', 'cost', 'costVsOracle'];
  const rows = STRATEGIES.flatMap((name) => {
    const x = r.strategies[name];
    if (!x) return [];
    return [[name, x.coldStartShare.toFixed(5), String(x.underProvisionedMinutes), x.podHours.toFixed(1), x.pcHours.toFixed(1), x.cost.toFixed(2), x.costVsOracle === null ? '-' : x.costVsOracle.toFixed(3)]];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const window = `${new Date(r.fromMs).toISOString()} .. ${new Date(r.toMs).toISOString()} (${r.minutes} min), model ${r.model ?? '-'}`;
  return [window, line(head), ...rows.map(line)].join('\n') + '\n';
}

function intFlag(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new InputError(`${flag} must be a whole number, "${text}" given`);
  return n;
}

function synthCommand(flags: SynthFlags): void {
  if (!(SYNTH_PROFILES as readonly string[]).includes(flags.profile)) {
    throw new InputError(`--profile: unknown profile "${flags.profile}"; known: ${SYNTH_PROFILES.join(', ')}`);
  }
  const r = synth({ profile: flags.profile as SynthProfile, days: intFlag('--days', flags.days), seed: intFlag('--seed', flags.seed) });
  writeFileSync(flags.out, synthCsv(r.series));
  if (flags.eventsOut) {
    // Every synthetic event is a flash sale: one tag, so the uplift of past ones is learned for the next.
    if (/\.csv$/i.test(flags.eventsOut)) {
      writeFileSync(flags.eventsOut, eventsCsv(r.events.map((e) => ({ name: e.name, startMs: e.startMs, endMs: e.endMs, tag: 'promo', multiplier: e.multiplier }))));
    } else {
      const events = r.events.map((e) => ({ ...e, tag: 'promo', start: new Date(e.startMs).toISOString(), end: new Date(e.endMs).toISOString() }));
      writeFileSync(flags.eventsOut, JSON.stringify(events, null, 2) + '\n');
    }
  }
  process.stderr.write(`synth: ${r.series.values.length} minutes, ${r.events.length} promo events -> ${flags.out}\n`);
}
