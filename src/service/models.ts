import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { TargetConfig } from '../config/schema.js';
import { loadModel, saveModel, type ModelInfo as ArtefactInfo, type ModelMeta } from '../forecast/artefact.js';
import type { BandCalibration } from '../forecast/band.js';
import { scoreRollingOrigins, seasonalScale, type MethodScores, type ProtocolData } from '../forecast/evaluate.js';
import type { Forecaster } from '../forecast/forecaster.js';
import { createForecaster } from '../forecast/registry.js';
import { AutoForecaster } from '../forecast/select.js';
import { initTf } from '../forecast/tf-backend.js';
import { modelInput, resampleMean, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS, type Clock } from '../util/clock.js';
import type { LoadedModel, ModelProvider, TrainOptions } from './model-provider.js';
import type { ModelInfo } from './state.js';
import { eventsCsv, type CalendarEvent } from '../events/events.js';

/** Scores as plain numbers (NaN → null) for the API and dashboard. */
function flatScores(scores: Readonly<Record<string, MethodScores>> | undefined): ModelInfo['scores'] {
  const out: Record<string, Record<string, number | null>> = {};
  for (const [name, s] of Object.entries(scores ?? {})) {
    out[name] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' && Number.isFinite(v) ? v : null]));
  }
  return out;
}

/** What the dashboard shows of a band check. */
function bandInfo(b: BandCalibration | undefined): Pick<ModelInfo, 'band'> {
  return b ? { band: { exponent: b.exponent, holdoutUfrBefore: b.holdout.before.ufr, holdoutUfrAfter: b.holdout.after.ufr } } : {};
}

function infoOf(meta: ModelMeta): ModelInfo {
  return { kind: meta.kind, trainedAtMs: Date.parse(meta.createdAt), backend: meta.backend, scores: flatScores(meta.scores), ...bandInfo(meta.band) };
}

/**
 * Models on disk under `modelsDir/<target>` (what retraining writes), else the target's `modelPath` (a
 * model shipped or trained offline with `prescale train`). Training uses the target's configured method on
 * history resampled to its step.
 */
export class DiskModelProvider implements ModelProvider {
  /** The series each trained model saw and what auto recorded (holdout scores, its decision), for saving it in meta.json. */
  private readonly training = new WeakMap<Forecaster, { readonly series: Series; readonly auto: Pick<ArtefactInfo, 'scores' | 'selection'> }>();

  /** `extra`: method options for in-process training (tests and tiny models: epochs, units…). */
  constructor(private readonly o: { modelsDir: string; clock: Clock; seed?: number; inProcess?: boolean; extra?: Readonly<Record<string, unknown>> }) {}

  private ownDir(t: TargetConfig): string {
    return path.join(this.o.modelsDir, t.name);
  }

  async load(t: TargetConfig): Promise<LoadedModel | undefined> {
    const dir = [this.ownDir(t), t.forecast.modelPath].find((d): d is string => d !== undefined && existsSync(path.join(d, 'meta.json')));
    if (!dir) return undefined;
    const { forecaster, meta } = await loadModel(dir);
    return { forecaster, stepMs: meta.stepMs, info: infoOf(meta) };
  }

  /**
   * Trains in a child process (`prescale train`), so the minutes of LSTM training never stall the event
   * loop that serves the HPA, the dashboard and the probes; `inProcess` is for tests and tiny models.
   */
  async train(t: TargetConfig, history: Series, o: TrainOptions = {}): Promise<LoadedModel> {
    const series = trainingSeries(history, t.forecast.stepMinutes * MINUTE_MS);
    if (o.calendar && t.forecast.model !== 'lstm') throw new Error(`${t.name}: only the lstm takes the calendar as inputs, the model is ${t.forecast.model}`);
    if (this.o.inProcess) return this.trainHere(t, series, o.calendar);
    const dir = await mkdtemp(path.join(tmpdir(), `prescale-train-${t.name}-`));
    try {
      const trace = path.join(dir, 'history.csv');
      await writeFile(trace, seriesCsv(series));
      const out = path.join(dir, 'model');
      const calendar = path.join(dir, 'calendar.csv');
      if (o.calendar) await writeFile(calendar, eventsCsv(o.calendar));
      await runChild(
        [
          ...['train', '--trace', trace, '--value-col', 'qps', '--unit', 'per-second', '--model', t.forecast.model],
          ...['--step-minutes', String(t.forecast.stepMinutes), '--horizon-minutes', String(t.forecast.horizonMinutes), '--seed', String(this.o.seed ?? 1), '--out', out],
          ...(o.calendar ? ['--events', calendar, '--calendar-mode', 'inputs'] : []),
        ],
        { signal: o.signal, label: `train ${t.name}` },
      );
      const { forecaster, meta } = await loadModel(out);
      this.training.set(forecaster, { series, auto: { scores: meta.scores, selection: meta.selection } });
      return { forecaster, stepMs: meta.stepMs, info: { ...infoOf(meta), trainedAtMs: this.o.clock.now() } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async trainHere(t: TargetConfig, series: Series, calendar: readonly CalendarEvent[] | undefined): Promise<LoadedModel> {
    const stepMs = series.stepMs;
    const horizon = Math.ceil((t.forecast.horizonMinutes * MINUTE_MS) / stepMs);
    const extra = { ...this.o.extra, ...(calendar ? { events: calendar } : {}) };
    const f = createForecaster(t.forecast.model, { stepMs, horizon, seed: this.o.seed ?? 1, extra });
    await f.fit(series);
    const auto = f instanceof AutoForecaster ? f : undefined;
    const scores = auto?.scores as Readonly<Record<string, MethodScores>> | undefined;
    this.training.set(f, { series, auto: { scores, selection: auto?.decision } });
    const { backend } = await initTf();
    return { forecaster: f, stepMs, info: { kind: auto?.chosen ?? f.name, trainedAtMs: this.o.clock.now(), backend, scores: flatScores(scores), ...bandInfo(auto?.band) } };
  }

  /** MASE of the model's rolling forecasts over [recentFromMs, end of history), scaled by the seasonal difference before it. */
  score(m: LoadedModel, history: Series, recentFromMs: number): number {
    const actual = resampleMean(history, m.stepMs);
    const season = Math.round(DAY_MS / m.stepMs);
    const trainEnd = Math.max(season + 1, Math.ceil((recentFromMs - actual.startMs) / m.stepMs));
    const horizon = Math.max(1, Math.round((30 * MINUTE_MS) / m.stepMs));
    const d: ProtocolData = { actual, trainEnd, horizon, season, maseScale: seasonalScale(actual.values, trainEnd, season) };
    return scoreRollingOrigins(m.forecaster, d).mase;
  }

  async forget(t: TargetConfig): Promise<void> {
    const dir = this.ownDir(t);
    await Promise.all([rm(dir, { recursive: true, force: true }), rm(`${dir}.previous`, { recursive: true, force: true })]);
  }

  async save(t: TargetConfig, m: LoadedModel): Promise<void> {
    const trained = this.training.get(m.forecaster);
    if (!trained) return; // loaded from disk: already saved
    await saveModel(this.ownDir(t), { forecaster: m.forecaster, training: trained.series, info: { chosenBy: t.forecast.model === 'auto' ? 'auto' : 'forced', ...trained.auto } });
  }
}

/** What a model is trained on: what it will forecast from (modelInput), up to the end of the history. The backtest trains the same way. */
export function trainingSeries(history: Series, stepMs: number): Series {
  return modelInput(history, stepMs);
}

/** A series as `timestamp,qps` CSV (ISO times, requests per second; gaps as empty cells). */
export function seriesCsv(s: Series): string {
  const lines = ['timestamp,qps'];
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i];
    lines.push(`${new Date(s.startMs + i * s.stepMs).toISOString()},${Number.isFinite(v) ? v : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** The CLI entry beside this module: src/cli.ts under tsx or jest, dist/src/cli.js when built. */
function cliCommand(): string[] {
  const own = fileURLToPath(import.meta.url);
  const ts = own.endsWith('.ts');
  const cli = path.resolve(path.dirname(own), ts ? '../cli.ts' : '../cli.js');
  return ts ? ['--import', 'tsx', cli] : [cli];
}

/** Runs `prescale ARGS` in a child process; rejects with its last stderr lines when it fails. */
function runChild(args: string[], o: { signal?: AbortSignal; label: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliCommand(), ...args], { stdio: ['ignore', 'ignore', 'pipe'], signal: o.signal });
    let tail = '';
    child.stderr.on('data', (b: Buffer) => {
      tail = (tail + b.toString()).slice(-4000);
    });
    child.on('error', (err) => reject(new Error(`${o.label}: ${err.message}`, { cause: err })));
    child.on('close', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`${o.label} exited with ${sig ?? code}: ${tail.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
