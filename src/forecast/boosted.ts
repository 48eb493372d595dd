import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { endMs, fillGaps, timeAt, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError, errorMessage } from '../util/errors.js';
import { assertFitted, assertTrainLength, QUANTILES, sanitizeForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import { boost, fromForest, predictForest, toForest, type BoostedModel, type BoostOptions, type Forest } from './gbdt.js';
import { isRecord, ownKind, readJsonFile, type LoadSource, type ModelKind } from './model-kind.js';
import { assertSomeValues } from './naive.js';
import { quantileSorted } from '../util/stats.js';
import { fromLog, toLog } from './log-scale.js';
import { seasonSteps } from './seasonal-naive.js';

/**
 * `gbdt`: gradient-boosted trees, direct multi-step — one boosted model per horizon step h, on lags and
 * calendar, the method of the LightGBM peer in docs/benchmark-protocol.md. Everything is on the log scale
 * (log1p of the per-minute rate) and standardised on the training series. The target of step h is the change
 * z[t+h] − z[t] from the origin, so trees, which cannot extrapolate a level, only learn shapes. Inputs at
 * origin t for step h:
 * - the last `lags` values, each minus z[t], and z[t] itself (the level);
 * - the value at the target's time of day one, two and seven days earlier, and at the origin's, minus z[t];
 * - the mean over the last `profileDays` days at the target's time of day, minus z[t];
 * - the target's time of day (fraction of a UTC day) and day of week.
 * Quantiles: the model of step h is trained on all but the latest `validShare` of origins; those decide when
 * boosting stops and their residuals (log scale) give the p50/p90/p99 offsets of step h.
 */
export interface GbdtOptions {
  readonly stepMs?: number;
  /** Steps forecast (one model each); default 30 minutes of steps. */
  readonly horizon?: number;
  /** Recent values used as inputs. */
  readonly lags?: number;
  /** Most training origins (the latest are kept). */
  readonly maxSamples?: number;
  /** Share of origins, the latest, held out for early stopping and the quantiles. */
  readonly validShare?: number;
  readonly boost?: Partial<BoostOptions>;
}

/** What the inputs depend on: the state without the fitted parts. */
export interface GbdtShape {
  readonly stepMs: number;
  readonly horizon: number;
  readonly seasonLag: number;
  readonly lags: number;
  /** Whole days back at which the target's and the origin's time of day are inputs. */
  readonly dayLags: readonly number[];
  readonly profileDays: number;
  readonly mu: number;
  readonly sd: number;
}

export interface GbdtState extends GbdtShape {
  /** `models[h-1]`: the boosted model of step h. */
  readonly models: readonly BoostedModel[];
  /** `residualQuantiles[h-1][q]`: quantile QUANTILES[q] of step h's validation residuals (standardised log scale). */
  readonly residualQuantiles: readonly (readonly number[])[];
  /** The end of the training series, enough to forecast without a context. */
  readonly tailStartMs: number;
  readonly tail: readonly (number | null)[];
}

const DEFAULTS = { lags: 24, maxSamples: 20000, validShare: 0.15 };
const MIN_ORIGINS = 200;

export function gbdtFeatureNames(st: Pick<GbdtState, 'lags' | 'dayLags' | 'profileDays'>): string[] {
  const names: string[] = [];
  for (let k = st.lags; k >= 1; k--) names.push(`z_lag${k}_minus_last`);
  names.push('z_last');
  for (const d of st.dayLags) names.push(`z_target_${d}d_ago_minus_last`, `z_origin_${d}d_ago_minus_last`);
  names.push(`z_target_profile_${st.profileDays}d_minus_last`, 'target_time_of_day', 'target_day_of_week');
  return names;
}

function contextNeed(st: Pick<GbdtState, 'lags' | 'dayLags' | 'profileDays' | 'seasonLag'>): number {
  return Math.max(st.lags, Math.max(...st.dayLags, st.profileDays) * st.seasonLag) + 1;
}

/** A forecast origin: index t into z, the standardised log series that starts at `startMs`. */
interface Origin {
  readonly z: Float64Array;
  readonly startMs: number;
  readonly t: number;
}

/** Writes the inputs of step h from origin `o` into `out` (its first gbdtFeatureNames(st).length entries). */
function features(st: GbdtShape, o: Origin, h: number, out: Float64Array): void {
  const { z, t } = o;
  const last = z[t];
  const m = st.seasonLag;
  let k = 0;
  for (let lag = st.lags; lag >= 1; lag--) out[k++] = z[t - lag] - last;
  out[k++] = last;
  for (const d of st.dayLags) {
    out[k++] = z[t + h - d * m] - last;
    out[k++] = z[t - d * m] - last;
  }
  let sum = 0;
  for (let d = 1; d <= st.profileDays; d++) sum += z[t + h - d * m];
  out[k++] = sum / st.profileDays - last;
  const ms = o.startMs + (t + h) * st.stepMs;
  out[k++] = (((ms % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
  out[k] = (Math.floor(ms / DAY_MS) + 4) % 7; // 1970-01-01 was a Thursday: 0 = Sunday
}

/** Standardised z of a gap-free series. */
function toZ(values: Float64Array, mu: number, sd: number): Float64Array {
  return toLog(values).map((l) => (l - mu) / sd);
}

/** What a fitted forecaster holds: the state with each step's model packed as a `Forest`. */
type Fitted = Omit<GbdtState, 'models'> & { readonly forests: readonly Forest[] };

export class GbdtForecaster implements Forecaster {
  readonly name = 'gbdt';
  readonly probabilistic = true;
  private st: Fitted | undefined;
  private stepMs: number;

  constructor(private readonly o: GbdtOptions = {}) {
    this.stepMs = o.stepMs ?? 5 * MINUTE_MS;
  }

  /** Rebuilds a fitted forecaster from its saved state; throws naming `models[i]` when a tree is malformed. */
  static fromState(st: GbdtState): GbdtForecaster {
    const f = new GbdtForecaster({ stepMs: st.stepMs, horizon: st.horizon, lags: st.lags });
    const { models, ...rest } = st;
    const forests = models.map((m, i) => {
      try {
        return toForest(m);
      } catch (err: unknown) {
        throw new Error(`models[${i}]: ${errorMessage(err)}`, { cause: err });
      }
    });
    f.st = { ...rest, forests };
    return f;
  }

  private get horizon(): number {
    return this.o.horizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / this.stepMs));
  }

  /** Two days, and at least a day of lags plus the horizon plus 200 training origins (coarse steps). */
  get minTrainLength(): number {
    const day = Math.round(DAY_MS / this.stepMs);
    return Math.max(2 * day, day + 1 + this.horizon + MIN_ORIGINS);
  }

  /** The fitted state as trees.json holds it (each model unpacked from its forest on every call). */
  get state(): GbdtState | undefined {
    if (!this.st) return undefined;
    const { forests, ...rest } = this.st;
    return { ...rest, models: forests.map(fromForest) };
  }

  async fit(series: Series): Promise<void> {
    this.stepMs = series.stepMs;
    assertTrainLength(this, series);
    assertSomeValues(this.name, series);
    const m = seasonSteps(DAY_MS, series.stepMs);
    const horizon = this.horizon;
    if (horizon > m) throw new InputError(`gbdt: the horizon (${horizon} steps) must not exceed a day (${m} steps)`);
    const n = series.values.length;
    const lags = this.o.lags ?? DEFAULTS.lags;
    // A day lag is used when it leaves enough origins to learn from.
    const usable = (d: number): boolean => n - d * m - horizon >= Math.max(MIN_ORIGINS, m);
    const dayLags = [1, 2, 7].filter((d, i) => i === 0 || usable(d));
    const profileDays = dayLags[dayLags.length - 1];
    const logs = toLog(fillGaps(series).values);
    const mu = logs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mu) ** 2, 0) / n) || 1;
    const shape: GbdtShape = { stepMs: series.stepMs, horizon, seasonLag: m, lags, dayLags, profileDays, mu, sd };
    const z = logs.map((l) => (l - mu) / sd);
    const raw = series.values;
    const first = Math.max(contextNeed(shape) - 1, n - horizon - (this.o.maxSamples ?? DEFAULTS.maxSamples));
    const F = gbdtFeatureNames(shape).length;
    const models: BoostedModel[] = [];
    const residualQuantiles: number[][] = [];
    for (let h = 1; h <= horizon; h++) {
      // Origins whose target was observed (a gap is never a target).
      const origins: number[] = [];
      for (let t = first; t + h < n; t++) if (!Number.isNaN(raw[t + h])) origins.push(t);
      if (origins.length < MIN_ORIGINS) throw new InputError(`gbdt: ${origins.length} usable training origins for step ${h}, at least ${MIN_ORIGINS} needed (more history)`);
      const data = new Float64Array(origins.length * F);
      const y = new Float64Array(origins.length);
      origins.forEach((t, r) => {
        features(shape, { z, startMs: series.startMs, t }, h, data.subarray(r * F, (r + 1) * F));
        y[r] = z[t + h] - z[t];
      });
      const valid = Math.max(1, Math.floor(origins.length * (this.o.validShare ?? DEFAULTS.validShare)));
      const res = boost({ rows: origins.length, features: F, data }, y, valid, this.o.boost);
      models.push(res.model);
      const resid = Float64Array.from(res.validPredictions, (p, v) => y[origins.length - valid + v] - p).sort();
      residualQuantiles.push(QUANTILES.map((q) => quantileSorted(resid, q, 0)));
      await new Promise<void>((resolve) => setImmediate(resolve)); // a long fit must not starve the event loop
    }
    const from = Math.max(0, n - contextNeed(shape));
    this.st = {
      ...shape,
      forests: models.map(toForest),
      residualQuantiles,
      tailStartMs: timeAt(series, from),
      tail: Array.from(series.values.subarray(from), (v) => (Number.isNaN(v) ? null : v)),
    };
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.st !== undefined);
    const st = this.st as Fitted;
    if (!(horizon >= 1 && horizon <= st.horizon)) throw new InputError(`gbdt: this model forecasts at most ${st.horizon} steps, ${horizon} asked`);
    if (context && context.stepMs !== st.stepMs) throw new InputError(`gbdt: fitted at step ${st.stepMs} ms, context has ${context.stepMs} ms`);
    const ctx = context ?? { startMs: st.tailStartMs, stepMs: st.stepMs, values: Float64Array.from(st.tail, (v) => v ?? NaN) };
    const need = contextNeed(st);
    if (ctx.values.length < need) throw new InputError(`gbdt: the context has ${ctx.values.length} points, this model needs the last ${need}`);
    const from = ctx.values.length - need;
    const tail = fillGaps({ startMs: timeAt(ctx, from), stepMs: ctx.stepMs, values: ctx.values.subarray(from) });
    const z = toZ(tail.values, st.mu, st.sd);
    const t = z.length - 1;
    const x = new Float64Array(gbdtFeatureNames(st).length);
    const values = QUANTILES.map(() => new Float64Array(horizon));
    for (let h = 1; h <= horizon; h++) {
      features(st, { z, startMs: tail.startMs, t }, h, x);
      const centre = z[t] + predictForest(st.forests[h - 1], x);
      QUANTILES.forEach((_, q) => {
        values[q][h - 1] = fromLog((centre + st.residualQuantiles[h - 1][q]) * st.sd + st.mu);
      });
    }
    return sanitizeForecast({ startMs: endMs(ctx), stepMs: st.stepMs, horizon, probabilistic: true, values });
  }
}

/** A gbdt model's summary in meta.json; the trees, normalisation and residual quantiles are in `trees.json`. */
export interface GbdtMeta {
  readonly features: readonly string[];
  /** Trees kept per horizon step (early stopping). */
  readonly rounds: readonly number[];
}

const GBDT_FILE = 'trees.json';

/** The `gbdt` kind: trees.json (the whole fitted state) beside meta.json's `gbdt` summary (features, trees per step). */
export const gbdtKind: ModelKind<'gbdt'> = {
  name: 'gbdt',
  section: 'gbdt',
  create: (o) => new GbdtForecaster({ stepMs: o.stepMs, horizon: o.horizon }),
  async save(f, { dir }) {
    const state = ownKind('gbdt', f, GbdtForecaster).state;
    if (!state) throw new Error('gbdt: save called before fit');
    writeFileSync(path.join(dir, GBDT_FILE), JSON.stringify(state));
    const section: GbdtMeta = { features: gbdtFeatureNames(state), rounds: state.models.map((m) => m.trees.length) };
    return { horizon: state.horizon, section };
  },
  validate(section, where) {
    if (!(isRecord(section) && Array.isArray(section.rounds))) throw new InputError(`${where}: a gbdt model needs the "gbdt" section (features, rounds)`);
  },
  async load(from) {
    const file = path.join(from.dir, GBDT_FILE);
    const state = readGbdtState(file, from);
    try {
      return GbdtForecaster.fromState(state);
    } catch (err: unknown) {
      throw new InputError(`${file}: ${errorMessage(err)}`, { cause: err });
    }
  },
};

/** trees.json: the whole fitted state; checked against meta.json so a file from another model is caught. */
function readGbdtState(file: string, meta: LoadSource): GbdtState {
  const doc = readJsonFile(file);
  if (!isRecord(doc) || !Array.isArray(doc.models) || !Array.isArray(doc.residualQuantiles) || !Array.isArray(doc.tail) || !Array.isArray(doc.dayLags)) {
    throw new InputError(`${file}: must hold models, residualQuantiles, dayLags and tail (a gbdt model's state)`);
  }
  if (doc.stepMs !== meta.stepMs || doc.horizon !== meta.horizon || doc.models.length !== meta.horizon || doc.residualQuantiles.length !== meta.horizon) {
    throw new InputError(`${file}: does not match meta.json (step ${String(doc.stepMs)} ms, horizon ${String(doc.horizon)}, ${doc.models.length} models; meta.json says step ${meta.stepMs} ms, horizon ${meta.horizon})`);
  }
  const rounds = (meta.section as GbdtMeta).rounds;
  doc.models.forEach((m: unknown, i) => {
    if (!isRecord(m) || !Array.isArray(m.trees) || typeof m.base !== 'number' || m.trees.length !== rounds[i]) {
      throw new InputError(`${file}: models[${i}] must hold base and ${String(rounds[i])} trees (meta.json gbdt.rounds); the file is truncated or from another model`);
    }
  });
  return doc as unknown as GbdtState;
}
