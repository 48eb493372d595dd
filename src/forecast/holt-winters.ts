import { endMs, type Series } from '../series/series.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { assertFitted, assertTrainLength, QUANTILES, sanitizeForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import { assertSomeValues } from './naive.js';
import { seasonSteps } from './seasonal-naive.js';

/**
 * Additive Holt-Winters with a damped trend and a daily season, on z = log1p(per-minute rate): on the log
 * scale a daily pattern that scales with the level becomes additive, and log1p keeps zeros finite. The
 * per-minute rate (not the per-second one) is what protocol v1's peers transform, so the two are comparable.
 *
 *   forecast  ẑ(t+h|t) = l_t + (φ + … + φ^h)·b_t + s_(t+h−m)
 *   level     l_t = α(z_t − s_(t−m)) + (1−α)(l_(t−1) + φ·b_(t−1))
 *   trend     b_t = β(l_t − l_(t−1)) + (1−β)·φ·b_(t−1)
 *   season    s_t = γ(z_t − l_(t−1) − φ·b_(t−1)) + (1−γ)·s_(t−m)
 *
 * A missing z_t (gap) advances the state by its own forecast. Quantiles come from the empirical distribution
 * of the in-sample h-step residuals on the log scale, one distribution per horizon step.
 */

export interface HoltWintersParams {
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly phi: number;
}

/** What `fit` leaves behind; enough to rebuild the model from meta.json plus a context. */
export interface HoltWintersFitted {
  readonly params: HoltWintersParams;
  readonly stepMs: number;
  /** Season length in steps. */
  readonly season: number;
  /** `residualQuantiles[h-1][q]`: quantile QUANTILES[q] of the (h)-step residuals, log scale. */
  readonly residualQuantiles: number[][];
  /** Mean squared one-step (or h-step, per `objective`) error on the log scale at the fitted parameters. */
  readonly mse: number;
  readonly evaluations: number;
}

export interface HoltWintersOptions {
  /** The step the model will see; sets `minTrainLength` before `fit` (which adopts the series' own step). */
  readonly stepMs?: number;
  /**
   * `one-step`: minimise the squared one-step error (as statsmodels does). `horizon`: the squared error of
   * every forecast 1..`objectiveHorizon` steps ahead, which is what a 30-minute forecast is judged on.
   */
  readonly objective?: 'one-step' | 'horizon';
  /** Steps ahead the `horizon` objective scores; default 30 minutes. */
  readonly objectiveHorizon?: number;
  /** Horizon steps with their own residual distribution; longer horizons reuse the last. Default 1 hour. */
  readonly residualHorizon?: number;
  /** Fixed parameters (skips the search), e.g. loaded from meta.json. */
  readonly params?: HoltWintersParams;
}

/** Level, trend and season after `k` points, with `phase0` the season phase of point 0. */
interface State {
  l: number;
  b: number;
  readonly s: Float64Array;
  k: number;
}

interface Cache {
  readonly startMs: number;
  readonly values: Float64Array;
  readonly state: State;
}

const PER_MINUTE = 60;

function toLog(v: Float64Array): Float64Array {
  return Float64Array.from(v, (x) => (Number.isNaN(x) ? NaN : Math.log1p(Math.max(0, x) * PER_MINUTE)));
}

function fromLog(z: number): number {
  return Math.expm1(z) / PER_MINUTE;
}

function phaseOf(startMs: number, stepMs: number, m: number): number {
  return ((Math.floor(startMs / stepMs) % m) + m) % m;
}

function nanMean(z: Float64Array, from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    if (!Number.isNaN(z[i])) {
      sum += z[i];
      n++;
    }
  }
  return n > 0 ? sum / n : NaN;
}

/**
 * A starting state from the first (up to four) whole seasons: level = mean of the first season, trend = the
 * slope between the first and last season means, season = mean deviation from each season's mean.
 */
function initialState(z: Float64Array, m: number, phase0: number): State {
  const ns = Math.max(1, Math.min(4, Math.floor(z.length / m)));
  const means: number[] = [];
  for (let j = 0; j < ns; j++) means.push(nanMean(z, j * m, Math.min(z.length, (j + 1) * m)));
  const all = nanMean(z, 0, Math.min(z.length, ns * m));
  const first = Number.isNaN(means[0]) ? all : means[0];
  const last = Number.isNaN(means[ns - 1]) ? all : means[ns - 1];
  const b = ns > 1 ? (last - first) / ((ns - 1) * m) : 0;
  const s = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let sum = 0;
    let n = 0;
    for (let j = 0; j < ns; j++) {
      const x = z[j * m + i];
      const mean = Number.isNaN(means[j]) ? all : means[j];
      if (x !== undefined && !Number.isNaN(x)) {
        sum += x - mean;
        n++;
      }
    }
    // Season indices are phases of the day, so point i sits at phase (phase0 + i) mod m.
    s[(phase0 + i) % m] = n > 0 ? sum / n : 0;
  }
  return { l: first, b, s, k: 0 };
}

function cloneState(st: State): State {
  return { l: st.l, b: st.b, s: Float64Array.from(st.s), k: st.k };
}

/** Sum φ + φ² + … + φ^h for h = 1..H. */
function dampSums(phi: number, H: number): Float64Array {
  const out = new Float64Array(H);
  let acc = 0;
  let p = 1;
  for (let h = 0; h < H; h++) {
    p *= phi;
    acc += p;
    out[h] = acc;
  }
  return out;
}

interface RunOptions {
  /** Score forecasts 1..H steps ahead (1 = one-step error only). */
  readonly H: number;
  /** Points before this index are not scored (the initial state is rough). */
  readonly burnIn: number;
  /** When given, receives the h-step residuals: `collect[h-1]` grows by one per scored point. */
  readonly collect?: number[][];
}

/**
 * Runs the filter over z[st.k..z.length), updating `st` in place, and returns the sum of squared errors of
 * the forecasts it was asked to score (and how many there were).
 */
// The inner loop of every fit and predict: kept in one function on purpose, branches and all.
// eslint-disable-next-line complexity
function runFilter(p: HoltWintersParams, z: Float64Array, st: State, ro: RunOptions & { phase0: number }): { sse: number; count: number } {
  const m = st.s.length;
  const { alpha, beta, gamma, phi } = p;
  const damp = ro.H > 1 ? dampSums(phi, ro.H) : undefined;
  let { l, b } = st;
  const s = st.s;
  let sse = 0;
  let count = 0;
  let ph = (ro.phase0 + st.k) % m;
  for (let i = st.k; i < z.length; i++) {
    if (i >= ro.burnIn && damp) {
      // Forecasts made at the end of point i-1 for points i .. i+H-1 (h <= m, so seasons are not yet updated).
      for (let h = 1; h <= ro.H && i - 1 + h < z.length; h++) {
        const y = z[i - 1 + h];
        if (Number.isNaN(y)) continue;
        const e = y - (l + damp[h - 1] * b + s[(ph + h - 1) % m]);
        sse += e * e;
        count++;
        ro.collect?.[h - 1].push(e);
      }
    }
    const y = z[i];
    const lb = l + phi * b;
    if (Number.isNaN(y)) {
      l = lb;
      b = phi * b;
    } else {
      const sp = s[ph];
      if (i >= ro.burnIn && !damp) {
        const e = y - lb - sp;
        sse += e * e;
        count++;
        ro.collect?.[0].push(e);
      }
      const nl = alpha * (y - sp) + (1 - alpha) * lb;
      b = beta * (nl - l) + (1 - beta) * phi * b;
      s[ph] = gamma * (y - lb) + (1 - gamma) * sp;
      l = nl;
    }
    ph = ph + 1 === m ? 0 : ph + 1;
  }
  st.l = l;
  st.b = b;
  st.k = z.length;
  return { sse, count };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const logit = (p: number): number => Math.log(p / (1 - p));
const PHI_MIN = 0.8;
const PHI_SPAN = 0.195;

/** Unconstrained search space → parameters within their bounds (γ ≤ 1 − α keeps the model stable). */
function toParams(x: readonly number[]): HoltWintersParams {
  const alpha = 0.001 + 0.998 * sigmoid(x[0]);
  return { alpha, beta: 0.999 * sigmoid(x[1]), gamma: (1 - alpha) * 0.999 * sigmoid(x[2]), phi: PHI_MIN + PHI_SPAN * sigmoid(x[3]) };
}

function fromParams(p: HoltWintersParams): number[] {
  const clamp = (v: number): number => Math.min(0.995, Math.max(0.005, v));
  return [
    logit(clamp((p.alpha - 0.001) / 0.998)),
    logit(clamp(p.beta / 0.999)),
    logit(clamp(p.gamma / ((1 - p.alpha) * 0.999))),
    logit(clamp((p.phi - PHI_MIN) / PHI_SPAN)),
  ];
}

/** Nelder-Mead simplex minimisation (standard coefficients) from `x0`, at most `maxEval` evaluations. */
// The textbook algorithm reads best as one piece (reflect, expand, contract, shrink).
// eslint-disable-next-line complexity
export function nelderMead(f: (x: number[]) => number, x0: readonly number[], o: { step?: number; maxEval?: number; tol?: number } = {}): { x: number[]; fx: number; evals: number } {
  const d = x0.length;
  const step = o.step ?? 1;
  const maxEval = o.maxEval ?? 300;
  const tol = o.tol ?? 1e-7;
  let evals = 0;
  const ev = (x: number[]): number => {
    evals++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  let pts: { x: number[]; fx: number }[] = [{ x: [...x0], fx: ev([...x0]) }];
  for (let i = 0; i < d; i++) {
    const x = [...x0];
    x[i] += step;
    pts.push({ x, fx: ev(x) });
  }
  const comb = (a: number[], b: number[], t: number): number[] => a.map((ai, i) => ai + t * (b[i] - ai));
  while (evals < maxEval) {
    pts.sort((a, b) => a.fx - b.fx);
    const best = pts[0];
    const worst = pts[d];
    if (Math.abs(worst.fx - best.fx) <= tol * (Math.abs(best.fx) + 1e-12)) break;
    const centroid = new Array<number>(d).fill(0);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) centroid[j] += pts[i].x[j] / d;
    const xr = comb(centroid, worst.x, -1);
    const fr = ev(xr);
    if (fr < best.fx) {
      const xe = comb(centroid, worst.x, -2);
      const fe = ev(xe);
      pts[d] = fe < fr ? { x: xe, fx: fe } : { x: xr, fx: fr };
    } else if (fr < pts[d - 1].fx) {
      pts[d] = { x: xr, fx: fr };
    } else {
      const xc = fr < worst.fx ? comb(centroid, xr, 0.5) : comb(centroid, worst.x, 0.5);
      const fc = ev(xc);
      if (fc < Math.min(fr, worst.fx)) {
        pts[d] = { x: xc, fx: fc };
      } else {
        pts = pts.map((p, i) => (i === 0 ? p : { x: comb(best.x, p.x, 0.5), fx: NaN }));
        for (let i = 1; i <= d; i++) pts[i].fx = ev(pts[i].x);
      }
    }
  }
  pts.sort((a, b) => a.fx - b.fx);
  return { x: pts[0].x, fx: pts[0].fx, evals };
}

/** Linear-interpolated empirical quantile of a sorted array. */
function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export class HoltWintersForecaster implements Forecaster {
  readonly name = 'holt-winters';
  readonly probabilistic = true;
  private stepMs: number;
  private fittedModel: HoltWintersFitted | undefined;
  private trained: Cache | undefined;
  private latest: Cache | undefined;

  constructor(private readonly o: HoltWintersOptions = {}) {
    this.stepMs = o.stepMs ?? 5 * MINUTE_MS;
  }

  /** Two whole days: one to set the season up, one to learn from. */
  get minTrainLength(): number {
    return 2 * seasonSteps(DAY_MS, this.stepMs);
  }

  /** The fitted parameters and residual quantiles (undefined before `fit`). */
  get fitted(): HoltWintersFitted | undefined {
    return this.fittedModel;
  }

  async fit(series: Series): Promise<void> {
    this.stepMs = series.stepMs;
    assertTrainLength(this, series);
    assertSomeValues(this.name, series);
    const m = seasonSteps(DAY_MS, series.stepMs);
    const z = toLog(series.values);
    const phase0 = phaseOf(series.startMs, series.stepMs, m);
    const init = initialState(z, m, phase0);
    // The first season only sets the state up; its errors say little about the parameters.
    const burnIn = Math.min(m, Math.floor(z.length / 2));
    const H = this.o.objective === 'horizon' ? (this.o.objectiveHorizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / series.stepMs))) : 1;
    let evaluations = 0;
    const objective = (p: HoltWintersParams): number => {
      evaluations++;
      const r = runFilter(p, z, cloneState(init), { H, burnIn, phase0 });
      return r.count > 0 ? r.sse / r.count : Infinity;
    };
    const params = this.o.params ?? this.search(objective);
    const residualH = Math.max(1, this.o.residualHorizon ?? Math.ceil(HOUR_MS / series.stepMs));
    const collect = Array.from({ length: Math.min(residualH, m) }, (): number[] => []);
    const st = cloneState(init);
    const r = runFilter(params, z, st, { H: collect.length, burnIn, phase0, collect });
    const residualQuantiles = collect.map((list) => {
      const sorted = Float64Array.from(list).sort();
      return QUANTILES.map((q) => quantileSorted(sorted, q));
    });
    this.fittedModel = { params, stepMs: series.stepMs, season: m, residualQuantiles, mse: r.count > 0 ? r.sse / r.count : NaN, evaluations };
    this.trained = { startMs: series.startMs, values: Float64Array.from(series.values), state: st };
    this.latest = undefined;
  }

  /** A coarse grid, then Nelder-Mead from the best grid point. */
  private search(objective: (p: HoltWintersParams) => number): HoltWintersParams {
    let best: HoltWintersParams = { alpha: 0.5, beta: 0.01, gamma: 0.1, phi: 0.95 };
    let bestF = Infinity;
    for (const alpha of [0.05, 0.2, 0.5, 0.8]) {
      for (const beta of [0.001, 0.05]) {
        for (const g of [0.05, 0.3, 0.7]) {
          for (const phi of [0.85, 0.97]) {
            const p = { alpha, beta, gamma: g * (1 - alpha), phi };
            const f = objective(p);
            if (f < bestF) {
              bestF = f;
              best = p;
            }
          }
        }
      }
    }
    const nm = nelderMead((x) => objective(toParams(x)), fromParams(best), { step: 0.7, maxEval: 250 });
    return nm.fx < bestF ? toParams(nm.x) : best;
  }

  /**
   * Forecasts `horizon` steps after `context` (default: the training series). The parameters stay as fitted;
   * the state runs over the new points only when `context` extends the training series or the previous
   * context (same start, same values so far), so rolling-origin evaluation costs O(new points) per origin.
   */
  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.fittedModel !== undefined);
    const fm = this.fittedModel as HoltWintersFitted;
    const trained = this.trained as Cache;
    const ctx = context ?? { startMs: trained.startMs, stepMs: fm.stepMs, values: trained.values };
    if (ctx.stepMs !== fm.stepMs) throw new InputError(`${this.name}: fitted at step ${fm.stepMs} ms, context has ${ctx.stepMs} ms`);
    const m = fm.season;
    const phase0 = phaseOf(ctx.startMs, ctx.stepMs, m);
    const base = [this.latest, trained].find((c) => c !== undefined && extendsCache(c, ctx));
    let st: State;
    if (base) {
      st = cloneState(base.state);
    } else {
      if (ctx.values.length < m) throw new InputError(`${this.name}: a context that does not extend the training series needs at least one day (${m} points), ${ctx.values.length} given`);
      st = initialState(toLog(ctx.values), m, phase0);
    }
    if (st.k < ctx.values.length) {
      // Only the new points are read, so only they are transformed.
      const z = new Float64Array(ctx.values.length);
      z.set(toLog(ctx.values.subarray(st.k)), st.k);
      runFilter(fm.params, z, st, { H: 1, burnIn: Infinity, phase0 });
    }
    this.latest = { startMs: ctx.startMs, values: Float64Array.from(ctx.values), state: cloneState(st) };
    return this.forecastFrom(st, { horizon, ctx, phase0 });
  }

  private forecastFrom(st: State, a: { horizon: number; ctx: Series; phase0: number }): QuantileForecast {
    const fm = this.fittedModel as HoltWintersFitted;
    const m = fm.season;
    const damp = dampSums(fm.params.phi, a.horizon);
    const rq = fm.residualQuantiles;
    const values = QUANTILES.map(() => new Float64Array(a.horizon));
    for (let h = 1; h <= a.horizon; h++) {
      const zh = st.l + damp[h - 1] * st.b + st.s[(a.phase0 + st.k + h - 1) % m];
      const qs = rq[Math.min(h, rq.length) - 1];
      for (let q = 0; q < QUANTILES.length; q++) values[q][h - 1] = fromLog(zh + qs[q]);
    }
    return sanitizeForecast({ startMs: endMs(a.ctx), stepMs: a.ctx.stepMs, horizon: a.horizon, probabilistic: true, values });
  }
}

/** True when `ctx` starts where the cache starts and holds the cached values as its prefix. */
function extendsCache(c: Cache, ctx: Series): boolean {
  if (c.startMs !== ctx.startMs || ctx.values.length < c.values.length) return false;
  const a = c.values;
  const b = ctx.values;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}
