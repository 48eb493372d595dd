import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { endMs, type Series } from '../series/series.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { unwrap, type Forecaster } from './forecaster.js';
import type { MethodScores } from './evaluate.js';
import type { EnsembleMemberMeta } from './ensemble.js';
import { BandForecaster, type BandCalibration } from './band.js';
import type { GbdtMeta } from './boosted.js';
import type { HoltWintersMeta } from './holt-winters.js';
import type { LstmState } from './lstm.js';
import { KIND_NAMES, KINDS, kindNamed, type KindName } from './kinds.js';
import { isRecord, readJsonFile, type ModelKind } from './model-kind.js';
import { initTf } from './tf-backend.js';

export type { EnsembleMemberMeta, GbdtMeta, HoltWintersMeta };

export const ARTEFACT_FORMAT = 1;

/** What the caller knows about a model beyond the forecaster itself (all optional, recorded as given). */
export interface ModelInfo {
  /** How the kind was picked: `auto` (holdout scores) or `forced` (--model). */
  readonly chosenBy?: 'auto' | 'forced';
  /** Holdout scores of every candidate (protocol v1 scoring on the end of the training data). */
  readonly scores?: Readonly<Record<string, MethodScores>>;
  /**
   * auto only: what it chose, the candidate with the lowest holdout MASE and, when that one was tested against
   * the ensemble, the Diebold-Mariano statistic (the ensemble is kept unless t ≤ −1.645; `decide` in
   * src/forecast/select.ts).
   */
  readonly selection?: { readonly chosen: string; readonly lowest: string; readonly dm?: { readonly t: number; readonly windows: number; readonly lag: number } };
  readonly trace?: string;
  readonly valueColumn?: string;
  readonly unit?: string;
  readonly seed?: number;
  /** The exact command line that trained the model. */
  readonly command?: string;
}

/** meta.json: everything besides the weights. Times are epoch milliseconds with ISO copies for people. */
export interface ModelMeta extends ModelInfo {
  readonly format: number;
  readonly kind: KindName;
  readonly stepMs: number;
  readonly horizon: number;
  readonly dataRange: { readonly startMs: number; readonly endMs: number; readonly start: string; readonly end: string; readonly points: number };
  /** The LSTM's window, features, normalisation (log1p mean/sd on the training series) and training summary. */
  readonly lstm?: LstmState;
  readonly holtWinters?: HoltWintersMeta;
  readonly gbdt?: GbdtMeta;
  /** An ensemble's members (forecasts averaged quantile by quantile). */
  readonly ensemble?: { readonly members: readonly EnsembleMemberMeta[] };
  /** The upper band's calibration on auto's holdout (src/forecast/band.ts); applied to every forecast. */
  readonly band?: BandCalibration;
  readonly backend: string;
  readonly codeVersion: string;
  readonly createdAt: string;
}

export interface SavedModel {
  readonly forecaster: Forecaster;
  readonly meta: ModelMeta;
}

/** The version in package.json (src/forecast → ../..; dist/src/forecast → ../../..). */
export function codeVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(path.resolve(here, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'prescale' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
}

/** The kind a forecaster is saved as: its own name's. */
function kindOf(f: Forecaster): ModelKind {
  const kind = kindNamed(f.name);
  if (!kind) throw new Error(`cannot save a forecaster of kind ${f.name}`);
  return kind;
}

/**
 * Saves a fitted forecaster under `dir` (e.g. models/demo): meta.json, plus model.json + weights.bin for the
 * LSTM (TensorFlow.js layers format) or history.json (the training series) for baselines, which are rebuilt
 * by refitting on it with the saved parameters. The write is atomic: everything goes to a temp directory
 * beside `dir`, the current `dir` becomes `dir.previous` (replacing an older one), then the temp directory
 * is renamed to `dir`.
 */
export async function saveModel(dir: string, a: { forecaster: Forecaster; training: Series; info?: ModelInfo }): Promise<ModelMeta> {
  // A forecaster auto or a band wraps is saved as the model inside, with the band in meta.json.
  const { model: f, band } = unwrap(a.forecaster);
  const kind = kindOf(f);
  const { backend } = await initTf();
  const parent = path.dirname(path.resolve(dir));
  mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const saved = await kind.save(f, { dir: tmp, training: a.training }, KINDS);
    const tr = a.training;
    const meta: ModelMeta = {
      format: ARTEFACT_FORMAT,
      kind: kind.name as KindName,
      ...a.info,
      stepMs: tr.stepMs,
      horizon: saved.horizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / tr.stepMs)),
      dataRange: { startMs: tr.startMs, endMs: endMs(tr), start: new Date(tr.startMs).toISOString(), end: new Date(endMs(tr)).toISOString(), points: tr.values.length },
      ...(kind.section !== undefined && saved.section !== undefined ? { [kind.section]: saved.section } : {}),
      ...(band ? { band } : {}),
      backend,
      codeVersion: codeVersion(),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    const previous = `${path.resolve(dir)}.previous`;
    if (existsSync(dir)) {
      rmSync(previous, { recursive: true, force: true });
      renameSync(dir, previous);
    }
    renameSync(tmp, dir);
    return meta;
  } catch (err: unknown) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function checkMeta(file: string, doc: unknown): ModelMeta {
  if (!isRecord(doc)) throw new InputError(`${file}: must be a JSON object`);
  if (doc.format !== ARTEFACT_FORMAT) throw new InputError(`${file}: format must be ${ARTEFACT_FORMAT}, ${JSON.stringify(doc.format)} given (saved by another prescale version?)`);
  const kind = typeof doc.kind === 'string' ? kindNamed(doc.kind) : undefined;
  if (kind === undefined) throw new InputError(`${file}: kind must be one of ${KIND_NAMES.join(', ')}, ${JSON.stringify(doc.kind)} given`);
  for (const key of ['stepMs', 'horizon'] as const) {
    const v = doc[key];
    if (typeof v !== 'number' || !(v > 0)) throw new InputError(`${file}: ${key} must be a positive number, ${JSON.stringify(v)} given`);
  }
  kind.validate?.(kind.section === undefined ? undefined : doc[kind.section], file, KINDS);
  checkBand(file, doc.band);
  return doc as unknown as ModelMeta;
}

function checkBand(file: string, band: unknown): void {
  if (band === undefined) return;
  const exponent = isRecord(band) ? band.exponent : undefined;
  if (typeof exponent !== 'number' || !Number.isFinite(exponent) || exponent < 1) {
    throw new InputError(`${file}: band.exponent must be a number of at least 1 (1 = the model's own band), ${JSON.stringify(exponent)} given`);
  }
}

/** Loads what `saveModel` wrote; a missing, corrupt or truncated file is an InputError naming it. */
export async function loadModel(dir: string): Promise<SavedModel> {
  const metaFile = path.join(dir, 'meta.json');
  if (!existsSync(dir)) throw new InputError(`${dir}: no such model directory`);
  const meta = checkMeta(metaFile, readJsonFile(metaFile));
  await initTf();
  const forecaster = await rebuild(dir, meta);
  return { meta, forecaster: meta.band ? new BandForecaster(forecaster, meta.band) : forecaster };
}

/** The model `meta` describes, loaded by its kind from the files in `dir`. */
async function rebuild(dir: string, meta: ModelMeta): Promise<Forecaster> {
  const kind = kindNamed(meta.kind) as ModelKind;
  const section = kind.section === undefined ? undefined : (meta as unknown as Record<string, unknown>)[kind.section];
  const metaFile = path.join(dir, 'meta.json');
  const where = kind.section === undefined ? metaFile : `${metaFile}: ${kind.section}`;
  return kind.load({ dir, where, stepMs: meta.stepMs, horizon: meta.horizon, section }, KINDS);
}
