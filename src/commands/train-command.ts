import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { neutralise } from '../events/event-forecaster.js';
import { loadEventsFile, type CalendarEvent } from '../events/events.js';
import { CALENDAR_MODES, calendarModeFlag, defaultCalendarMode } from '../events/calendar-model.js';
import { loadModel, saveModel, type ModelInfo } from '../forecast/artefact.js';
import type { BandCalibration } from '../forecast/band.js';
import { QUANTILES, type Forecaster, type QuantileForecast } from '../forecast/forecaster.js';
import type { EpochInfo, LstmOptions } from '../forecast/lstm.js';
import { AutoForecaster, CANDIDATES, createCandidate, type AutoDecision, type CandidateName } from '../forecast/select.js';
import { RATE_UNITS, parseTimestamp, type RateUnit } from '../series/csv.js';
import { loadSeriesFile } from '../series/load.js';
import { endMs, fillGaps, resampleMean, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';

interface TraceFlags {
  trace: string;
  valueCol?: string;
  unit?: RateUnit;
  origin?: string;
}

interface TrainFlags extends TraceFlags {
  model: string;
  stepMinutes: string;
  horizonMinutes: string;
  seed: string;
  epochs?: string;
  /** A promo calendar: its event windows are replaced by the load a day earlier before fitting. */
  events?: string;
  /** With `events`: `uplift` (fit on the neutralised trace) or `inputs` (the LSTM takes the calendar as inputs, fitted on the raw trace). */
  calendarMode?: string;
  out: string;
  progress?: boolean;
}

interface ForecastFlags extends TraceFlags {
  model: string;
  json?: boolean;
}

const TRAIN_MODELS = ['auto', ...CANDIDATES] as const;
type TrainModel = (typeof TRAIN_MODELS)[number];

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`${flag} must be a positive whole number, "${text}" given`);
  return n;
}

function originFrom(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const ms = parseTimestamp(flag);
  if (Number.isNaN(ms)) throw new InputError(`--origin must be an ISO 8601 time such as 2021-08-01T00:00:00Z, "${flag}" given`);
  return ms;
}

/** The trace as requests per second at `stepMs` (mean of the rate per bucket; empty buckets stay gaps). */
export function loadAtStep(flags: TraceFlags, stepMs: number): Series {
  const { series } = loadSeriesFile(flags.trace, { valueColumn: flags.valueCol, unit: flags.unit, originMs: originFrom(flags.origin) });
  if (series.stepMs > stepMs) {
    throw new InputError(`${flags.trace}: the trace's step (${series.stepMs / MINUTE_MS} min) is coarser than the model's ${stepMs / MINUTE_MS}-min step`);
  }
  return resampleMean(series, stepMs);
}

/** A progress bar on stderr when it is a terminal (or when asked), else nothing: logs stay clean. */
function progressBar(show: boolean): { onEpoch: (e: EpochInfo) => void; stop: () => void } {
  if (!show) return { onEpoch: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    // Without a terminal (--progress), print a line per update instead of redrawing one.
    { stream: process.stderr, format: 'lstm [{bar}] epoch {value}/{total} loss {loss} val {val} best@{best}', hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 0 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onEpoch: (e) => {
      const payload = { loss: e.loss.toFixed(4), val: e.valLoss.toFixed(4), best: e.bestEpoch };
      if (!started) {
        bar.start(e.epochs, 0, payload);
        started = true;
      }
      bar.update(e.epoch, payload);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** The command line that reproduces a training run, every default spelled out (recorded in meta.json). */
export function trainCommandLine(f: TrainFlags): string {
  const opt = (name: string, v: string | undefined): string[] => (v === undefined ? [] : [name, /[\s"']/.test(v) ? JSON.stringify(v) : v]);
  return [
    'prescale train',
    ...opt('--trace', f.trace),
    ...opt('--value-col', f.valueCol),
    ...opt('--unit', f.unit),
    ...opt('--origin', f.origin),
    ...opt('--model', f.model),
    ...opt('--step-minutes', f.stepMinutes),
    ...opt('--horizon-minutes', f.horizonMinutes),
    ...opt('--seed', f.seed),
    ...opt('--epochs', f.epochs),
    ...opt('--events', f.events),
    ...opt('--calendar-mode', f.calendarMode),
    ...opt('--out', f.out),
  ].join(' ');
}

/**
 * The trace with the calendar's events replaced by the load a day earlier, as withEvents fits its inner model:
 * a model trained on it forecasts normal load, which the service (withEvents) lifts for known events.
 */
function neutraliseFor(s: Series, file: string): Series {
  const events = loadEventsFile(file);
  process.stderr.write(`train: fitting on the trace with the ${events.length} events of ${file} replaced by the load a day earlier\n`);
  return neutralise(s, events);
}

/**
 * The series to fit and, for `--calendar-mode inputs`, the calendar the LSTM takes as inputs. With a calendar in
 * the default mode the trace is neutralised (the model fits the normal load); with inputs the LSTM learns the
 * uplift from the raw trace.
 */
function withCalendar(flags: TrainFlags, model: TrainModel, raw: Series): { training: Series; events?: CalendarEvent[] } {
  const requested = calendarModeFlag(flags);
  if (flags.events === undefined) return { training: fillGaps(raw) };
  const mode = requested ?? defaultCalendarMode(model);
  if (mode === 'uplift') return { training: fillGaps(neutraliseFor(raw, flags.events)) };
  if (model !== 'lstm') throw new InputError(`--calendar-mode inputs: only the lstm takes the calendar as inputs, --model ${model} given`);
  const events = loadEventsFile(flags.events);
  process.stderr.write(`train: the lstm takes the ${events.length} events of ${flags.events} as inputs, fitted on the raw trace\n`);
  return { training: fillGaps(raw), events };
}

export async function trainCommand(flags: TrainFlags): Promise<void> {
  if (!(TRAIN_MODELS as readonly string[]).includes(flags.model)) {
    throw new InputError(`--model must be one of ${TRAIN_MODELS.join(', ')}, "${flags.model}" given`);
  }
  const model = flags.model as TrainModel;
  const stepMs = positiveInt(flags.stepMinutes, '--step-minutes') * MINUTE_MS;
  if (DAY_MS % stepMs !== 0) throw new InputError(`--step-minutes must divide a day (1440 minutes), ${flags.stepMinutes} given`);
  const horizon = Math.max(1, Math.round((positiveInt(flags.horizonMinutes, '--horizon-minutes') * MINUTE_MS) / stepMs));
  const seed = Number(flags.seed);
  if (!Number.isInteger(seed)) throw new InputError(`--seed must be a whole number, "${flags.seed}" given`);
  const { training, events } = withCalendar(flags, model, loadAtStep(flags, stepMs));
  const bar = progressBar(flags.progress ?? process.stderr.isTTY);
  const lstm: LstmOptions = { seed, onEpoch: bar.onEpoch, ...(flags.epochs !== undefined ? { epochs: positiveInt(flags.epochs, '--epochs') } : {}), ...(events ? { events } : {}) };
  const err = process.stderr;
  let forecaster: Forecaster;
  let info: ModelInfo;
  const t0 = performance.now();
  try {
    if (model === 'auto') {
      const auto = new AutoForecaster({
        stepMs,
        horizon,
        seed,
        lstm,
        onStage: (s) => {
          bar.stop();
          err.write(`train: ${s.phase === 'holdout' ? 'fitting' : 'refitting the winner'} ${s.candidate}${s.phase === 'holdout' ? ' on the first part, scoring it on the holdout' : ' on all the data'}\n`);
        },
      });
      await auto.fit(training);
      forecaster = auto;
      info = { chosenBy: 'auto', scores: auto.scores as ModelInfo['scores'], selection: auto.decision };
    } else {
      forecaster = createCandidate(model satisfies CandidateName, { stepMs, horizon, seed, lstm });
      await forecaster.fit(training);
      info = { chosenBy: 'forced' };
    }
  } finally {
    bar.stop();
  }
  const meta = await saveModel(flags.out, {
    forecaster,
    training,
    info: { ...info, trace: flags.trace, valueColumn: flags.valueCol, unit: flags.unit, seed, command: trainCommandLine(flags) },
  });
  const chosen = forecaster instanceof AutoForecaster ? ` (auto chose ${forecaster.chosen ?? '?'}${decisionNote(forecaster.decision)}${bandNote(forecaster.band)})` : '';
  err.write(`train: saved ${meta.kind}${chosen} to ${flags.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** Why auto kept the ensemble over the lowest holdout MASE, for the last line of `train`. */
export function decisionNote(d: AutoDecision | undefined): string {
  if (!d?.dm || d.chosen === d.lowest) return '';
  return ` over ${d.lowest}, whose lower holdout MASE is no significant lead (Diebold-Mariano t = ${d.dm.t.toFixed(2)} on ${d.dm.windows} windows)`;
}

/** How auto set the band, for the last line of `train`. */
function bandNote(b: BandCalibration | undefined): string {
  if (!b) return '';
  const f = (v: number): string => v.toFixed(3);
  const { before, after } = b.holdout;
  return b.exponent === 1
    ? `; its band kept as fitted, holdout UFR ${f(before.ufr)}`
    : `; band widened ×${b.exponent} on the holdout: UFR ${f(before.ufr)} → ${f(after.ufr)}, peak ratio ${f(before.peakRatio)} → ${f(after.peakRatio)}`;
}

/** Forecast as JSON: one entry per step with its time and the three quantiles (requests per second). */
export interface ForecastJson {
  model: string;
  kind: string;
  asOf: string;
  stepMinutes: number;
  unit: 'requests per second';
  steps: { time: string; p50: number; p90: number; p99: number }[];
}

export function toForecastJson(model: string, kind: string, fc: QuantileForecast): ForecastJson {
  const r = (v: number): number => Number(v.toFixed(4));
  return {
    model,
    kind,
    asOf: new Date(fc.startMs).toISOString(),
    stepMinutes: fc.stepMs / MINUTE_MS,
    unit: 'requests per second',
    steps: Array.from({ length: fc.horizon }, (_, h) => ({
      time: new Date(fc.startMs + h * fc.stepMs).toISOString(),
      p50: r(fc.values[0][h]),
      p90: r(fc.values[1][h]),
      p99: r(fc.values[2][h]),
    })),
  };
}

export async function forecastCommand(flags: ForecastFlags): Promise<void> {
  const { forecaster, meta } = await loadModel(flags.model);
  const ctx = loadAtStep(flags, meta.stepMs);
  if (ctx.values.length === 0) throw new InputError(`${flags.trace}: no data to forecast from`);
  // 30 minutes ahead, or the model's whole horizon when that is shorter.
  const horizon = Math.min(meta.horizon, Math.max(1, Math.round((30 * MINUTE_MS) / meta.stepMs)));
  const fc = forecaster.predict(horizon, fillGaps(ctx));
  const json = toForecastJson(flags.model, meta.kind, fc);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  const lines = [
    `${meta.kind} forecast from ${new Date(endMs(ctx)).toISOString()} (requests per second; quantiles ${QUANTILES.map((q) => `p${q * 100}`).join('/')})`,
    'time                      p50         p90         p99',
    ...json.steps.map((s) => `${s.time}  ${s.p50.toFixed(2).padStart(10)}  ${s.p90.toFixed(2).padStart(10)}  ${s.p99.toFixed(2).padStart(10)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function traceOptions(c: Command): Command {
  return c
    .requiredOption('--trace <file>', 'trace: CSV, CloudWatch GetMetricData JSON or Prometheus query_range JSON')
    .option('--value-col <name>', 'value column (CSV), query Id (CloudWatch) or label matchers name=value (Prometheus)')
    .addOption(new Option('--unit <unit>', 'what the values mean (default: count-per-interval; per-second for Prometheus)').choices(RATE_UNITS))
    .option('--origin <iso>', 'time of minute_offset 0 in a CSV (default 1970-01-01T00:00:00Z)');
}

export function registerTrainCommands(program: Command): void {
  traceOptions(program.command('train').description('train a forecaster on a trace and save it under models/NAME (meta.json, plus model.json + weights.bin for an LSTM, trees.json for gbdt)'))
    .option('--model <name>', `method: ${TRAIN_MODELS.join(', ')} (auto scores all on a holdout and keeps the best)`, 'auto')
    .option('--step-minutes <n>', 'model step in minutes (the trace is resampled by the mean rate)', '5')
    .option('--horizon-minutes <n>', 'how far the model forecasts', '30')
    .option('--seed <n>', 'seed for reproducible LSTM training', '42')
    .option('--epochs <n>', 'most LSTM epochs (early stopping usually ends sooner; default 30)')
    .option('--progress', 'show the training progress bar even when stderr is not a terminal')
    .option('--events <file>', 'promo calendar (CSV name,start,end,tag or synth JSON): fit on the trace with its events replaced by the day before, for a target with a calendar')
    .option('--calendar-mode <mode>', `with --events: ${CALENDAR_MODES.join(' (fit the normal load; the service lifts known events; the default except for lstm) or ')} (--model lstm, its default: the calendar as inputs, fitted on the raw trace; saved with the model)`)
    .requiredOption('--out <dir>', 'model directory, e.g. models/demo (the previous version is kept as DIR.previous)')
    .action(async (flags: TrainFlags) => {
      await trainCommand(flags);
    });
  traceOptions(program.command('forecast').description('forecast the next 30 minutes after the end of a trace with a saved model'))
    .requiredOption('--model <dir>', 'model directory written by prescale train, e.g. models/demo')
    .option('--json', 'print one JSON object on stdout')
    .action(async (flags: ForecastFlags) => {
      await forecastCommand(flags);
    });
}
