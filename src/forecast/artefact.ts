import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfTypes from '@tensorflow/tfjs';
import { endMs, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError, errorMessage } from '../util/errors.js';
import { unwrap, type Forecaster } from './forecaster.js';
import type { MethodScores } from './evaluate.js';
import { EnsembleForecaster } from './ensemble.js';
import { BandForecaster, type BandCalibration } from './band.js';
import { GbdtForecaster, gbdtFeatureNames, type GbdtState } from './boosted.js';
import { HoltWintersForecaster, type HoltWintersParams, type HoltWintersSaved } from './holt-winters.js';
import { LstmForecaster, type LstmState } from './lstm.js';
import { NaiveForecaster } from './naive.js';
import { SeasonalNaiveForecaster } from './seasonal-naive.js';
import { initTf } from './tf-backend.js';

export const ARTEFACT_FORMAT = 1;
export type ModelKind = 'lstm' | 'holt-winters' | 'gbdt' | 'ensemble' | 'seasonal-naive' | 'seasonal-naive-weekly' | 'naive';
const KINDS: readonly ModelKind[] = ['lstm', 'holt-winters', 'gbdt', 'ensemble', 'seasonal-naive', 'seasonal-naive-weekly', 'naive'];

/** One member of an ensemble: its kind and sections as in meta.json, its files in `dir` (beside meta.json). */
export interface EnsembleMemberMeta {
  readonly kind: Exclude<ModelKind, 'ensemble'>;
  readonly dir: string;
  readonly lstm?: LstmState;
  readonly holtWinters?: HoltWintersMeta;
  readonly gbdt?: GbdtMeta;
}

/**
 * A Holt-Winters model in meta.json: its parameters and, since 2026-11-27, the start state, residual quantiles
 * and mse the fit found, so loading does not estimate them again (older files without them still load).
 */
export interface HoltWintersMeta {
  readonly params: HoltWintersParams;
  readonly start?: { readonly level: number; readonly trend: number; readonly season: readonly number[] };
  readonly residualQuantiles?: readonly (readonly number[])[];
  readonly mse?: number;
}

/** A gbdt model's summary in meta.json; the trees, normalisation and residual quantiles are in `trees.json`. */
export interface GbdtMeta {
  readonly features: readonly string[];
  /** Trees kept per horizon step (early stopping). */
  readonly rounds: readonly number[];
}

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
  readonly kind: ModelKind;
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

function kindOf(f: Forecaster): ModelKind {
  if (!(KINDS as readonly string[]).includes(f.name)) throw new Error(`cannot save a forecaster of kind ${f.name}`);
  return f.name as ModelKind;
}

function toJsonValues(v: Float64Array): (number | null)[] {
  return Array.from(v, (x) => (Number.isNaN(x) ? null : x));
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
    const extra = await writeKindFiles(tmp, f, a.training);
    const tr = a.training;
    const meta: ModelMeta = {
      format: ARTEFACT_FORMAT,
      kind,
      ...a.info,
      stepMs: tr.stepMs,
      horizon: extra.horizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / tr.stepMs)),
      dataRange: { startMs: tr.startMs, endMs: endMs(tr), start: new Date(tr.startMs).toISOString(), end: new Date(endMs(tr)).toISOString(), points: tr.values.length },
      ...kindSections(extra),
      ...(extra.ensemble ? { ensemble: extra.ensemble } : {}),
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

interface KindExtra {
  readonly horizon?: number;
  readonly lstm?: LstmState;
  readonly holtWinters?: HoltWintersMeta;
  readonly gbdt?: GbdtMeta;
  readonly ensemble?: { readonly members: readonly EnsembleMemberMeta[] };
}

/** The kind-specific sections of meta.json that are present. */
function kindSections(extra: KindExtra): Pick<KindExtra, 'lstm' | 'holtWinters' | 'gbdt'> {
  return { ...(extra.lstm ? { lstm: extra.lstm } : {}), ...(extra.holtWinters ? { holtWinters: extra.holtWinters } : {}), ...(extra.gbdt ? { gbdt: extra.gbdt } : {}) };
}

async function writeKindFiles(dir: string, f: Forecaster, training: Series): Promise<KindExtra> {
  if (f instanceof EnsembleForecaster) {
    const members: EnsembleMemberMeta[] = [];
    let horizon: number | undefined;
    for (const [i, m] of f.members.entries()) {
      const kind = kindOf(m);
      if (kind === 'ensemble') throw new Error('cannot save an ensemble inside an ensemble');
      const sub = `member-${i}`;
      mkdirSync(path.join(dir, sub));
      const extra = await writeKindFiles(path.join(dir, sub), m, training);
      horizon ??= extra.horizon;
      members.push({ kind, dir: sub, ...kindSections(extra) });
    }
    return { horizon, ensemble: { members } };
  }
  if (f instanceof LstmForecaster) {
    const model = f.layersModel;
    const state = f.state;
    if (!model || !state) throw new Error('lstm: save called before fit');
    const { tf } = await initTf();
    await model.save(
      tf.io.withSaveHandler((art: tfTypes.io.ModelArtifacts) => {
        const weights = art.weightData === undefined ? new Uint8Array(0) : new Uint8Array(tf.io.concatenateArrayBuffers(Array.isArray(art.weightData) ? art.weightData : [art.weightData]));
        writeFileSync(path.join(dir, 'weights.bin'), weights);
        const modelJson = {
          format: art.format,
          generatedBy: art.generatedBy,
          convertedBy: art.convertedBy,
          modelTopology: art.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs ?? [] }],
        };
        writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
        return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } });
      }),
    );
    return { horizon: state.horizon, lstm: state };
  }
  if (f instanceof GbdtForecaster) {
    const state = f.state;
    if (!state) throw new Error('gbdt: save called before fit');
    writeFileSync(path.join(dir, GBDT_FILE), JSON.stringify(state));
    return { horizon: state.horizon, gbdt: { features: gbdtFeatureNames(state), rounds: state.models.map((m) => m.trees.length) } };
  }
  writeFileSync(path.join(dir, 'history.json'), JSON.stringify({ startMs: training.startMs, stepMs: training.stepMs, values: toJsonValues(training.values) }));
  if (f instanceof HoltWintersForecaster) {
    const fitted = f.fitted;
    if (!fitted) throw new Error('holt-winters: save called before fit');
    const { level, trend, season } = fitted.start;
    return { holtWinters: { params: fitted.params, start: { level, trend, season: Array.from(season) }, residualQuantiles: fitted.residualQuantiles, mse: fitted.mse } };
  }
  return {};
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`${file}: cannot read the model file (${errorMessage(err)})`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new InputError(`${file}: not valid JSON, the model is corrupt or truncated (${errorMessage(err)})`, { cause: err });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMeta(file: string, doc: unknown): ModelMeta {
  if (!isRecord(doc)) throw new InputError(`${file}: must be a JSON object`);
  if (doc.format !== ARTEFACT_FORMAT) throw new InputError(`${file}: format must be ${ARTEFACT_FORMAT}, ${JSON.stringify(doc.format)} given (saved by another prescale version?)`);
  if (typeof doc.kind !== 'string' || !(KINDS as readonly string[]).includes(doc.kind)) {
    throw new InputError(`${file}: kind must be one of ${KINDS.join(', ')}, ${JSON.stringify(doc.kind)} given`);
  }
  for (const key of ['stepMs', 'horizon'] as const) {
    const v = doc[key];
    if (typeof v !== 'number' || !(v > 0)) throw new InputError(`${file}: ${key} must be a positive number, ${JSON.stringify(v)} given`);
  }
  checkKindSection(file, doc);
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

function checkEnsembleMembers(file: string, doc: Record<string, unknown>): void {
  const members = isRecord(doc.ensemble) ? doc.ensemble.members : undefined;
  if (!Array.isArray(members) || members.length < 2) throw new InputError(`${file}: an ensemble model needs ensemble.members, at least two`);
  members.forEach((m: unknown, i) => {
    const where = `${file}: ensemble.members[${i}]`;
    if (!isRecord(m) || typeof m.dir !== 'string' || !/^member-\d+$/.test(m.dir)) throw new InputError(`${where} needs dir "member-<n>"`);
    if (typeof m.kind !== 'string' || m.kind === 'ensemble' || !(KINDS as readonly string[]).includes(m.kind)) {
      throw new InputError(`${where}.kind must be one of ${KINDS.filter((k) => k !== 'ensemble').join(', ')}, ${JSON.stringify(m.kind)} given`);
    }
    checkKindSection(where, m);
  });
}

function checkKindSection(file: string, doc: Record<string, unknown>): void {
  if (doc.kind === 'ensemble') checkEnsembleMembers(file, doc);
  if (doc.kind === 'gbdt' && !(isRecord(doc.gbdt) && Array.isArray(doc.gbdt.rounds))) throw new InputError(`${file}: a gbdt model needs the "gbdt" section (features, rounds)`);
  if (doc.kind === 'lstm' && !isRecord(doc.lstm)) throw new InputError(`${file}: an lstm model needs the "lstm" section (normalisation, window, features)`);
  if (doc.kind === 'holt-winters' && !(isRecord(doc.holtWinters) && isRecord(doc.holtWinters.params))) {
    throw new InputError(`${file}: a holt-winters model needs holtWinters.params`);
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

async function rebuild(dir: string, meta: ModelMeta): Promise<Forecaster> {
  const kind = meta.kind;
  switch (kind) {
    case 'lstm':
      return LstmForecaster.fromParts(await loadLayers(dir), meta.lstm as LstmState);
    case 'ensemble': {
      const members: Forecaster[] = [];
      for (const m of meta.ensemble?.members ?? []) members.push(await rebuild(path.join(dir, m.dir), { ...meta, kind: m.kind, lstm: m.lstm, holtWinters: m.holtWinters, gbdt: m.gbdt }));
      return new EnsembleForecaster(members, { fitted: true });
    }
    case 'gbdt':
      return loadGbdt(path.join(dir, GBDT_FILE), meta);
    case 'holt-winters':
      return refit(new HoltWintersForecaster({ stepMs: meta.stepMs, objective: 'horizon', objectiveHorizon: meta.horizon, params: meta.holtWinters?.params, saved: savedHoltWinters(dir, meta.holtWinters, meta.stepMs) }), dir);
    case 'seasonal-naive':
      return refit(new SeasonalNaiveForecaster({ season: 'daily', stepMs: meta.stepMs }), dir);
    case 'seasonal-naive-weekly':
      return refit(new SeasonalNaiveForecaster({ season: 'weekly', stepMs: meta.stepMs }), dir);
    case 'naive':
      return refit(new NaiveForecaster(), dir);
    default: {
      const never: never = kind;
      throw new Error(`unknown model kind ${String(never)}`);
    }
  }
}

const GBDT_FILE = 'trees.json';

/** A gbdt model from its trees.json; a malformed tree is an InputError naming the file and the tree. */
function loadGbdt(file: string, meta: ModelMeta): GbdtForecaster {
  const state = readGbdtState(file, meta);
  try {
    return GbdtForecaster.fromState(state);
  } catch (err: unknown) {
    throw new InputError(`${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/** trees.json: the whole fitted state; checked against meta.json so a file from another model is caught. */
function readGbdtState(file: string, meta: ModelMeta): GbdtState {
  const doc = readJsonFile(file);
  if (!isRecord(doc) || !Array.isArray(doc.models) || !Array.isArray(doc.residualQuantiles) || !Array.isArray(doc.tail) || !Array.isArray(doc.dayLags)) {
    throw new InputError(`${file}: must hold models, residualQuantiles, dayLags and tail (a gbdt model's state)`);
  }
  if (doc.stepMs !== meta.stepMs || doc.horizon !== meta.horizon || doc.models.length !== meta.horizon || doc.residualQuantiles.length !== meta.horizon) {
    throw new InputError(`${file}: does not match meta.json (step ${String(doc.stepMs)} ms, horizon ${String(doc.horizon)}, ${doc.models.length} models; meta.json says step ${meta.stepMs} ms, horizon ${meta.horizon})`);
  }
  const rounds = meta.gbdt?.rounds ?? [];
  doc.models.forEach((m: unknown, i) => {
    if (!isRecord(m) || !Array.isArray(m.trees) || typeof m.base !== 'number' || m.trees.length !== rounds[i]) {
      throw new InputError(`${file}: models[${i}] must hold base and ${String(rounds[i])} trees (meta.json gbdt.rounds); the file is truncated or from another model`);
    }
  });
  return doc as unknown as GbdtState;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isStartState(v: unknown): v is NonNullable<HoltWintersMeta['start']> {
  return isRecord(v) && finite(v.level) && finite(v.trend) && Array.isArray(v.season) && v.season.every(finite);
}

/** The start state and residual quantiles a Holt-Winters fit saved, checked; none in files written before they were. */
function savedHoltWinters(dir: string, hw: HoltWintersMeta | undefined, stepMs: number): HoltWintersSaved | undefined {
  if (hw?.start === undefined) return undefined;
  const where = `${path.join(dir, 'meta.json')}: holtWinters`;
  const { start, residualQuantiles: rq, mse } = hw as Record<string, unknown> & HoltWintersMeta;
  if (!isStartState(start)) throw new InputError(`${where}.start must hold numbers level and trend and an array of numbers season`);
  const day = Math.round(DAY_MS / stepMs);
  if (start.season.length !== day) throw new InputError(`${where}.start.season has ${start.season.length} slots, a day has ${day} steps of ${stepMs / MINUTE_MS} min`);
  if (!Array.isArray(rq) || rq.length === 0 || !rq.every((r: unknown) => Array.isArray(r) && r.length === rq[0].length && r.every(finite))) {
    throw new InputError(`${where}.residualQuantiles must be a non-empty array of equally long arrays of numbers`);
  }
  if (!finite(mse)) throw new InputError(`${where}.mse must be a number, ${JSON.stringify(mse)} given`);
  return { start, residualQuantiles: rq, mse };
}

/** Baselines come back by refitting on the saved training series with the saved parameters: same state, same forecasts. */
async function refit(f: Forecaster, dir: string): Promise<Forecaster> {
  const file = path.join(dir, 'history.json');
  const doc = readJsonFile(file);
  if (!isRecord(doc) || typeof doc.startMs !== 'number' || typeof doc.stepMs !== 'number' || !Array.isArray(doc.values)) {
    throw new InputError(`${file}: must hold startMs, stepMs and values`);
  }
  const values = Float64Array.from(doc.values as unknown[], (v, i) => {
    if (v === null) return NaN;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${file}: values[${i}] must be a number or null, ${JSON.stringify(v)} given`);
    return v;
  });
  await f.fit({ startMs: doc.startMs, stepMs: doc.stepMs, values });
  return f;
}

async function loadLayers(dir: string): Promise<tfTypes.LayersModel> {
  const { tf } = await initTf();
  const file = path.join(dir, 'model.json');
  const doc = readJsonFile(file);
  if (!isRecord(doc) || !isRecord(doc.modelTopology) || !Array.isArray(doc.weightsManifest)) {
    throw new InputError(`${file}: must hold modelTopology and weightsManifest (TensorFlow.js layers format)`);
  }
  const specs = (doc.weightsManifest as { weights?: tfTypes.io.WeightsManifestEntry[] }[]).flatMap((g) => g.weights ?? []);
  const weightsFile = path.join(dir, 'weights.bin');
  let buf: Buffer;
  try {
    buf = readFileSync(weightsFile);
  } catch (err: unknown) {
    throw new InputError(`${weightsFile}: cannot read the weights (${errorMessage(err)})`, { cause: err });
  }
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (buf.byteLength !== expected) {
    throw new InputError(`${weightsFile}: ${buf.byteLength} bytes where model.json describes ${expected}; the file is truncated or does not belong to this model.json`);
  }
  const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: doc.modelTopology, weightSpecs: specs, weightData }));
  } catch (err: unknown) {
    throw new InputError(`${file}: TensorFlow.js cannot build the model (${errorMessage(err)})`, { cause: err });
  }
}
