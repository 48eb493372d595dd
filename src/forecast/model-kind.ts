import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Series } from '../series/series.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { Forecaster } from './forecaster.js';
import type { LstmOptions } from './lstm.js';

/**
 * A model kind: everything the rest of the code knows about one kind of model, beside its forecaster class
 * (as in darts, each model saves and loads itself). The kinds are listed once, in src/forecast/kinds.ts; the
 * registry's method names, auto's candidates and the artefact reader all come from that list.
 *
 * meta.json keeps a kind's own state under one key (`section`, e.g. `lstm`), and its files beside meta.json
 * (or in its member directory inside an ensemble).
 */
export interface ModelKind<N extends string = string> {
  /** The method name: on the CLI, in `kind` of meta.json, and the forecaster's `name`. */
  readonly name: N;
  /** The key of its section in meta.json; none for a kind that keeps nothing there. */
  readonly section?: string;
  /** An unfitted model (what the registry and auto build). */
  create(o: KindOptions, kinds: Kinds): Forecaster;
  /** Writes a fitted model's files into `dir` and returns its meta.json section and horizon. */
  save(f: Forecaster, to: SaveTarget, kinds: Kinds): Promise<SavedKind>;
  /** Throws an InputError naming `where` (the file, and the key inside it) when the section is unusable. */
  validate?(section: unknown, where: string, kinds: Kinds): void;
  /** The fitted model from what `save` wrote (the section already validated). */
  load(from: LoadSource, kinds: Kinds): Promise<Forecaster>;
}

/** What every kind's `create` accepts; a kind ignores what it does not use. */
export interface KindOptions {
  readonly stepMs: number;
  /** Steps the model is judged on (the LSTM's and gbdt's output length); default 30 minutes of steps. */
  readonly horizon?: number;
  readonly seed?: number;
  /** Passed on to the LSTM (epochs, progress, a calendar…). */
  readonly lstm?: LstmOptions;
}

export interface SaveTarget {
  /** The directory to write into (exists, empty). */
  readonly dir: string;
  /** The series the model was fitted on (what kinds rebuilt by refitting keep). */
  readonly training: Series;
}

export interface SavedKind {
  /** Steps the model forecasts, when the kind fixes it; else meta.json gets 30 minutes of steps. */
  readonly horizon?: number;
  /** Its meta.json section, under the kind's `section` key. */
  readonly section?: unknown;
}

export interface LoadSource {
  /** The directory `save` wrote into. */
  readonly dir: string;
  /** Where the section is, for messages: meta.json and the key (`…/meta.json: holtWinters`). */
  readonly where: string;
  readonly stepMs: number;
  readonly horizon: number;
  /** Its meta.json section, as `validate` accepted it. */
  readonly section: unknown;
}

/** The table of kinds as a kind sees it (the ensemble builds, saves and loads its members through it). */
export interface Kinds {
  readonly names: readonly string[];
  get(name: string): ModelKind | undefined;
  create(name: string, o: KindOptions): Forecaster;
}

/** The kind `f` belongs to, or an error: what `save` asks before writing anything. */
export function ownKind<F extends Forecaster>(kind: string, f: Forecaster, cls: abstract new (...args: never[]) => F): F {
  if (!(f instanceof cls)) throw new Error(`cannot save a ${f.name} forecaster as kind ${kind}`);
  return f;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A model file as JSON; a missing, unreadable or corrupt one is an InputError naming it. */
export function readJsonFile(file: string): unknown {
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

const HISTORY_FILE = 'history.json';

/** history.json: the training series, for kinds rebuilt by refitting on it (gaps as null). */
export function writeHistory(dir: string, training: Series): void {
  const values = Array.from(training.values, (x) => (Number.isNaN(x) ? null : x));
  writeFileSync(path.join(dir, HISTORY_FILE), JSON.stringify({ startMs: training.startMs, stepMs: training.stepMs, values }));
}

/** Fits `f` on the series in `dir`/history.json: a kind whose state is a function of its parameters and the series comes back exactly. */
export async function refitOnHistory<F extends Forecaster>(f: F, dir: string): Promise<F> {
  const file = path.join(dir, HISTORY_FILE);
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
