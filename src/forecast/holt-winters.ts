import { endMs, type Series } from '../series/series.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { assertFitted, assertTrainLength, QUANTILES, sanitizeForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import { finite, isRecord, ownKind, refitOnHistory, writeHistory, type ModelKind } from './model-kind.js';
import { assertSomeValues } from './naive.js';
import { seasonSteps } from './seasonal-naive.js';
import { fromLog, toLog } from './log-scale.js';
import { quantileSorted } from '../util/stats.js';

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
 * The start state (level, trend and the m season slots before the first point) is estimated by least squares
 * together with α, β, γ, φ, as statsmodels and R's ets do, not guessed from the first days: with a guessed
 * season the search picks a large γ to repair it, and that γ then makes every later forecast noisier. The
 * parameters minimise the chosen objective (`objective`) jointly with a start state; the start state kept is
 * then the one-step least-squares start for those parameters, a function of (parameters, series) alone.
 * A missing z_t (gap) advances the state by its own forecast. Quantiles come from the empirical distribution
 * of h-step residuals on the log scale, one distribution per horizon step, measured on the last part of the
 * training series with a start state that was not fitted to it.
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
  /** Mean squared one-step error on the log scale at the fitted parameters and start state. */
  readonly mse: number;
  /** Objective (and gradient) evaluations the fit took. */
  readonly evaluations: number;
  /** The estimated state before the first training point, log scale; `season[j]` is time-of-day slot j. */
  readonly start: { readonly level: number; readonly trend: number; readonly season: Float64Array };
}

export interface HoltWintersOptions {
  /** The step the model will see; sets `minTrainLength` before `fit` (which adopts the series' own step). */
  readonly stepMs?: number;
  /**
   * What the parameter search minimises: `one-step`, the squared one-step error (as statsmodels does);
   * `horizon`, the squared error of every forecast 1..`objectiveHorizon` steps ahead, which is what a
   * 30-minute forecast is judged on. Either way the start state kept is the one-step least-squares one.
   */
  readonly objective?: 'one-step' | 'horizon';
  /** Steps ahead the `horizon` objective scores; default 30 minutes. */
  readonly objectiveHorizon?: number;
  /** Horizon steps with their own residual distribution; longer horizons reuse the last. Default 1 hour. */
  readonly residualHorizon?: number;
  /**
   * Fixed parameters (skips the search), e.g. loaded from meta.json. The start state and the residual
   * quantiles depend only on the parameters and the series, so a model rebuilt this way forecasts exactly
   * like the one that was saved.
   */
  readonly params?: HoltWintersParams;
  /**
   * With `params`: the start state and residual quantiles a fit found (meta.json keeps them), so a rebuild
   * skips estimating them again — the same numbers, found in ~1 ms instead of ~150 ms on 17,856 points.
   */
  readonly saved?: HoltWintersSaved;
}

/** What a fit found besides its parameters, as meta.json holds it. */
export interface HoltWintersSaved {
  readonly start: { readonly level: number; readonly trend: number; readonly season: ArrayLike<number> };
  readonly residualQuantiles: readonly (readonly number[])[];
  readonly mse: number;
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
 * A first guess of the start state from the first (up to four) whole seasons, where the least-squares
 * searches begin: level = mean of the first season, trend = the slope between the first and last season
 * means, season = mean deviation from each season's mean.
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
const ALPHA_MIN = 0.001;
const ALPHA_SPAN = 0.998;
const BETA_MAX = 0.999;
const GAMMA_SHARE = 0.999;
const PHI_MIN = 0.8;
const PHI_SPAN = 0.195;

/** Unconstrained search space → parameters within their bounds (γ ≤ 1 − α keeps the model stable). */
function toParams(x: ArrayLike<number>): HoltWintersParams {
  const alpha = ALPHA_MIN + ALPHA_SPAN * sigmoid(x[0]);
  return { alpha, beta: BETA_MAX * sigmoid(x[1]), gamma: (1 - alpha) * GAMMA_SHARE * sigmoid(x[2]), phi: PHI_MIN + PHI_SPAN * sigmoid(x[3]) };
}

/** Chain rule through `toParams`: `g` holds ∂f/∂(α, β, γ, φ) in its first four entries, `out` gets ∂f/∂x[0..3]. */
function paramGradient(x: ArrayLike<number>, g: ArrayLike<number>, out: Float64Array): void {
  const [s0, s1, s2, s3] = [sigmoid(x[0]), sigmoid(x[1]), sigmoid(x[2]), sigmoid(x[3])];
  const alpha = ALPHA_MIN + ALPHA_SPAN * s0;
  const dAlpha = ALPHA_SPAN * s0 * (1 - s0);
  out[0] = g[0] * dAlpha - g[2] * GAMMA_SHARE * s2 * dAlpha;
  out[1] = g[1] * BETA_MAX * s1 * (1 - s1);
  out[2] = g[2] * (1 - alpha) * GAMMA_SHARE * s2 * (1 - s2);
  out[3] = g[3] * PHI_SPAN * s3 * (1 - s3);
}

function fromParams(p: HoltWintersParams): number[] {
  const clamp = (v: number): number => Math.min(0.995, Math.max(0.005, v));
  return [
    logit(clamp((p.alpha - ALPHA_MIN) / ALPHA_SPAN)),
    logit(clamp(p.beta / BETA_MAX)),
    logit(clamp(p.gamma / ((1 - p.alpha) * GAMMA_SHARE))),
    logit(clamp((p.phi - PHI_MIN) / PHI_SPAN)),
  ];
}

/** d/dφ of φ + φ² + … + φ^h, for h = 1..H. */
function dampDerivatives(phi: number, H: number): Float64Array {
  const out = new Float64Array(H);
  let acc = 0;
  let p = 1;
  for (let h = 1; h <= H; h++) {
    acc += h * p;
    p *= phi;
    out[h - 1] = acc;
  }
  return out;
}

/** A start state for the filter: level and trend before point 0, season by time-of-day slot. */
export interface StartState {
  readonly l: number;
  readonly b: number;
  readonly s: ArrayLike<number>;
}

/**
 * What the backward pass needs from the forward one: level and trend before each point, the season value
 * each point used, and the parts of the loss gradient that come from the forecasts made at each point
 * (`dl`, `db`: w.r.t. the level and trend before point t; `ds`: w.r.t. the season value point t used).
 */
interface Tape {
  readonly lPrev: Float64Array;
  readonly bPrev: Float64Array;
  readonly sUsed: Float64Array;
  readonly dl: Float64Array;
  readonly db: Float64Array;
  readonly ds: Float64Array;
  dPhi: number;
  sse: number;
  count: number;
}

function newTape(n: number): Tape {
  const a = (): Float64Array => new Float64Array(n);
  return { lPrev: a(), bPrev: a(), sUsed: a(), dl: a(), db: a(), ds: a(), dPhi: 0, sse: 0, count: 0 };
}

/**
 * `runFilter` with every point scored (no burn-in), recording a tape. The season slot that point t+h−1 reads
 * is not written between the end of point t−1 and point t+h−1 (h ≤ m), so its value there is `sUsed[t+h−1]`.
 */
// Same loop as runFilter plus the bookkeeping, kept whole so the two can be compared line by line.
function forwardTape(p: HoltWintersParams, z: Float64Array, start: StartState, o: { H: number; phase0: number }): Tape {
  const n = z.length;
  const m = start.s.length;
  const { alpha, beta, gamma, phi } = p;
  const damp = dampSums(phi, o.H);
  const dDamp = dampDerivatives(phi, o.H);
  const t = newTape(n);
  const s = Float64Array.from(start.s);
  let l = start.l;
  let b = start.b;
  let ph = o.phase0 % m;
  for (let i = 0; i < n; i++) {
    t.lPrev[i] = l;
    t.bPrev[i] = b;
    for (let h = 1; h <= o.H && i + h - 1 < n; h++) {
      const y = z[i + h - 1];
      if (Number.isNaN(y)) continue;
      const e2 = 2 * (y - (l + damp[h - 1] * b + s[(ph + h - 1) % m]));
      t.sse += (e2 * e2) / 4;
      t.count++;
      t.dl[i] -= e2;
      t.db[i] -= e2 * damp[h - 1];
      t.ds[i + h - 1] -= e2;
      t.dPhi -= e2 * b * dDamp[h - 1];
    }
    const y = z[i];
    const sp = s[ph];
    t.sUsed[i] = sp;
    const lb = l + phi * b;
    if (Number.isNaN(y)) {
      l = lb;
      b = phi * b;
    } else {
      const nl = alpha * (y - sp) + (1 - alpha) * lb;
      b = beta * (nl - l) + (1 - beta) * phi * b;
      s[ph] = gamma * (y - lb) + (1 - gamma) * sp;
      l = nl;
    }
    ph = ph + 1 === m ? 0 : ph + 1;
  }
  return t;
}

/**
 * Reverse-mode pass over the tape: writes into `grad` the gradient of the summed squared error w.r.t.
 * (α, β, γ, φ, l₀, b₀, s₀[0..m−1]). Each step undoes one filter update, carrying ∂loss/∂(level, trend, slot).
 */
function backward(p: HoltWintersParams, z: Float64Array, t: Tape, o: { phase0: number; grad: Float64Array }): void {
  const { alpha, beta, gamma, phi } = p;
  const m = o.grad.length - 6;
  const gs = new Float64Array(m);
  let gl = 0;
  let gb = 0;
  let gAlpha = 0;
  let gBeta = 0;
  let gGamma = 0;
  let gPhi = t.dPhi;
  let ph = (o.phase0 + z.length - 1) % m;
  for (let i = z.length - 1; i >= 0; i--) {
    const y = z[i];
    const l = t.lPrev[i];
    const b = t.bPrev[i];
    const sp = t.sUsed[i];
    const lb = l + phi * b;
    if (Number.isNaN(y)) {
      // l_i = l + φb, b_i = φb, slot untouched.
      gPhi += b * (gl + gb);
      gb = phi * (gl + gb) + t.db[i];
      gl += t.dl[i];
      gs[ph] += t.ds[i];
    } else {
      const gSlot = gs[ph];
      const gLevel = gl + beta * gb; // the new level also feeds the new trend
      gAlpha += gLevel * (y - sp - lb);
      gBeta += gb * (alpha * (y - sp) + (1 - alpha) * lb - l - phi * b);
      gGamma += gSlot * (y - lb - sp);
      const viaB = gLevel * (1 - alpha) + gb * (1 - beta) - gamma * gSlot;
      gPhi += b * viaB;
      gs[ph] = (1 - gamma) * gSlot - alpha * gLevel + t.ds[i];
      gl = gLevel * (1 - alpha) - beta * gb - gamma * gSlot + t.dl[i];
      gb = phi * viaB + t.db[i];
    }
    ph = ph === 0 ? m - 1 : ph - 1;
  }
  o.grad.set([gAlpha, gBeta, gGamma, gPhi, gl, gb]);
  o.grad.set(gs, 6);
}

/**
 * The fitting objective, the mean squared error of every forecast 1..H steps ahead (H = 1: one-step) on the
 * log scale with every point scored, and its exact gradient, written into `grad` (length m + 6) w.r.t.
 * (α, β, γ, φ, l₀, b₀, s₀[0..m−1]). Costs about two filter runs whatever the number of unknowns.
 */
export function lossGradient(p: HoltWintersParams, z: Float64Array, start: StartState, o: { H: number; phase0: number; grad: Float64Array }): number {
  const tape = forwardTape(p, z, start, o);
  backward(p, z, tape, o);
  if (tape.count === 0) {
    o.grad.fill(0);
    return Infinity;
  }
  for (let i = 0; i < o.grad.length; i++) o.grad[i] /= tape.count;
  return tape.sse / tape.count;
}

export interface LbfgsOptions {
  /** Default 1000. */
  readonly maxIterations?: number;
  /** Correction pairs kept; default 10. */
  readonly memory?: number;
  /** Stop when two iterations in a row lower f by less than this share of |f| each; default 1e-10. */
  readonly tolerance?: number;
}

interface Pair {
  readonly s: Float64Array;
  readonly y: Float64Array;
  readonly rho: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** The L-BFGS two-loop recursion: an approximation of (Hessian⁻¹ · g); steepest descent when no pairs yet. */
function twoLoop(g: Float64Array, pairs: readonly Pair[]): Float64Array {
  const q = Float64Array.from(g);
  const a = new Array<number>(pairs.length);
  for (let i = pairs.length - 1; i >= 0; i--) {
    a[i] = pairs[i].rho * dot(pairs[i].s, q);
    for (let k = 0; k < q.length; k++) q[k] -= a[i] * pairs[i].y[k];
  }
  const last = pairs[pairs.length - 1];
  const scale = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
  for (let k = 0; k < q.length; k++) q[k] *= scale;
  for (let i = 0; i < pairs.length; i++) {
    const b = pairs[i].rho * dot(pairs[i].y, q);
    for (let k = 0; k < q.length; k++) q[k] += pairs[i].s[k] * (a[i] - b);
  }
  return q;
}

type ValueAndGradient = (x: Float64Array, grad: Float64Array) => number;

/** The two-loop direction, or steepest descent (forgetting the pairs) when that would not go downhill. */
function descentDirection(g: Float64Array, pairs: Pair[]): Float64Array {
  const dir = twoLoop(g, pairs);
  if (dot(g, dir) > 0) return dir;
  pairs.length = 0;
  return twoLoop(g, pairs);
}

/**
 * Backtracking from step 1 along −`dir` until f falls by at least 1e-4 × step × slope (Armijo).
 * `ok` is false when 50 halvings found no such point.
 */
function lineSearch(fg: ValueAndGradient, x: Float64Array, dir: Float64Array, at: { fx: number; slope: number }): { x: Float64Array; g: Float64Array; fx: number; ok: boolean; evaluations: number } {
  const xn = new Float64Array(x.length);
  const gn = new Float64Array(x.length);
  let step = 1;
  for (let tries = 1; tries <= 50; tries++, step /= 2) {
    for (let k = 0; k < x.length; k++) xn[k] = x[k] - step * dir[k];
    const fn = fg(xn, gn);
    if (fn <= at.fx + 1e-4 * step * at.slope) return { x: xn, g: gn, fx: fn, ok: true, evaluations: tries };
  }
  return { x, g: gn, fx: at.fx, ok: false, evaluations: 50 };
}

/**
 * Limited-memory BFGS minimisation of `fg` (which returns f(x) and writes ∇f(x) into its second argument)
 * from `x0`, with a backtracking (Armijo) line search. Deterministic: the same input gives the same bits.
 */
export function lbfgs(fg: ValueAndGradient, x0: ArrayLike<number>, o: LbfgsOptions = {}): { x: Float64Array; fx: number; iterations: number; evaluations: number } {
  let x: Float64Array = Float64Array.from(x0);
  let g: Float64Array = new Float64Array(x.length);
  let fx = fg(x, g);
  let evaluations = 1;
  const pairs: Pair[] = [];
  let iterations = 0;
  let smallSteps = 0;
  while (iterations < (o.maxIterations ?? 1000) && Number.isFinite(fx) && smallSteps < 2) {
    iterations++;
    const dir = descentDirection(g, pairs);
    const ls = lineSearch(fg, x, dir, { fx, slope: -dot(g, dir) });
    evaluations += ls.evaluations;
    if (!ls.ok) break;
    const s = Float64Array.from(ls.x, (v, k) => v - x[k]);
    const y = Float64Array.from(ls.g, (v, k) => v - g[k]);
    const sy = dot(s, y);
    if (sy > 1e-16) pairs.push({ s, y, rho: 1 / sy });
    if (pairs.length > (o.memory ?? 10)) pairs.shift();
    smallSteps = fx - ls.fx <= (o.tolerance ?? 1e-10) * Math.abs(fx) ? smallSteps + 1 : 0;
    ({ x, g, fx } = ls);
  }
  return { x, fx, iterations, evaluations };
}

interface EstimateOptions {
  /** Steps ahead the objective scores (1: one-step). */
  readonly H: number;
  readonly phase0: number;
  /** Season length in steps. */
  readonly m: number;
}

/**
 * The start state that minimises the squared one-step errors for fixed parameters, searched from the
 * heuristic `initialState`. The objective is quadratic in the start state (the filter is linear in it), so
 * any guess leads to the same minimum; starting from a fixed guess, and scoring one-step errors whatever
 * objective chose the parameters, makes the start a function of (parameters, series) alone, so a model
 * rebuilt from saved parameters forecasts exactly like the one that was saved.
 */
function estimateStart(z: Float64Array, p: HoltWintersParams, o: { phase0: number; m: number }): { start: State; mse: number; evaluations: number } {
  const guess = initialState(z, o.m, o.phase0);
  const x0 = new Float64Array(o.m + 2);
  x0[0] = guess.l;
  x0[1] = guess.b;
  x0.set(guess.s, 2);
  const grad = new Float64Array(o.m + 6);
  const r = lbfgs(
    (x, g) => {
      const f = lossGradient(p, z, { l: x[0], b: x[1], s: x.subarray(2) }, { H: 1, phase0: o.phase0, grad });
      g.set(grad.subarray(4));
      return f;
    },
    x0,
  );
  return { start: { l: r.x[0], b: r.x[1], s: r.x.slice(2), k: 0 }, mse: r.fx, evaluations: r.evaluations };
}

/** Parameters and start state together by least squares, from `p` and the heuristic start; returns the parameters. */
function estimateJoint(z: Float64Array, p: HoltWintersParams, o: EstimateOptions): { params: HoltWintersParams; evaluations: number } {
  const guess = initialState(z, o.m, o.phase0);
  const x0 = new Float64Array(o.m + 6);
  x0.set(fromParams(p));
  x0[4] = guess.l;
  x0[5] = guess.b;
  x0.set(guess.s, 6);
  const grad = new Float64Array(o.m + 6);
  const r = lbfgs((x, g) => {
    const f = lossGradient(toParams(x), z, { l: x[4], b: x[5], s: x.subarray(6) }, { H: o.H, phase0: o.phase0, grad });
    paramGradient(x, grad, g);
    g.set(grad.subarray(4), 4);
    return f;
  }, x0);
  return { params: toParams(r.x), evaluations: r.evaluations };
}


/** Share of the training series whose h-step residuals make the quantiles (see `calibrate`). */
const HOLDOUT_SHARE = 0.2;

/**
 * Residual quantiles per horizon step from forecasts the start state was not fitted to: the start is
 * estimated on the first 80 % of the series, the filter runs on through the last 20 % (updating, never
 * refitting), and the h-step residuals there make the distributions. In-sample residuals would be too
 * narrow, because the m season slots of the start state also fit the noise of the points they are scored on.
 * Falls back to in-sample residuals from `fullStart` when the last part holds no value.
 */
function calibrate(z: Float64Array, p: HoltWintersParams, o: EstimateOptions & { steps: number; fullStart: State }): { quantiles: number[][]; evaluations: number } {
  const cut = z.length - Math.round(HOLDOUT_SHARE * z.length);
  const head = estimateStart(z.subarray(0, cut), p, o);
  const collect = Array.from({ length: o.steps }, (): number[] => []);
  runFilter(p, z, cloneState(head.start), { H: o.steps, burnIn: cut, phase0: o.phase0, collect });
  if (collect[0].length === 0) {
    for (const list of collect) list.length = 0;
    runFilter(p, z, cloneState(o.fullStart), { H: o.steps, burnIn: 0, phase0: o.phase0, collect });
  }
  const quantiles = collect.map((list) => {
    const sorted = Float64Array.from(list).sort();
    return QUANTILES.map((q) => quantileSorted(sorted, q, 0));
  });
  return { quantiles, evaluations: head.evaluations };
}

/**
 * The start state for a context that does not extend the training series (e.g. the service's sliding
 * window of history): the season the fit learned, whose slots are times of day and so fit any context, with
 * the level of the context's first day net of that season and no trend. A season guessed from the context's
 * own first days would stay wrong for as long as the fitted γ is small, and least-squares fits choose small γ.
 */
function contextStart(z: Float64Array, season: Float64Array, phase0: number): State {
  const m = season.length;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < z.length && (i < m || n === 0); i++) {
    if (!Number.isNaN(z[i])) {
      sum += z[i] - season[(phase0 + i) % m];
      n++;
    }
  }
  return { l: n > 0 ? sum / n : 0, b: 0, s: Float64Array.from(season), k: 0 };
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

  /** The fitted parameters, start state and residual quantiles (undefined before `fit`). */
  get fitted(): HoltWintersFitted | undefined {
    return this.fittedModel;
  }

  /**
   * Parameters (unless given) and start state by least squares over the whole series, then the residual
   * quantiles from its last part (`calibrate`), then the state after the last point for `predict`.
   */
  async fit(series: Series): Promise<void> {
    this.stepMs = series.stepMs;
    assertTrainLength(this, series);
    assertSomeValues(this.name, series);
    const m = seasonSteps(DAY_MS, series.stepMs);
    const z = toLog(series.values);
    const H = this.o.objective === 'horizon' ? (this.o.objectiveHorizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / series.stepMs))) : 1;
    const eo: EstimateOptions = { H, phase0: phaseOf(series.startMs, series.stepMs, m), m };
    const searched = this.o.params ? { params: this.o.params, evaluations: 0 } : search(z, eo);
    const params = searched.params;
    const saved = this.o.params && this.o.saved ? this.o.saved : undefined;
    if (saved && saved.start.season.length !== m) throw new InputError(`${this.name}: the saved season has ${saved.start.season.length} slots, a day has ${m} steps`);
    const full = saved ? { start: { l: saved.start.level, b: saved.start.trend, s: Float64Array.from(saved.start.season), k: 0 }, mse: saved.mse, evaluations: 0 } : estimateStart(z, params, eo);
    const steps = Math.min(m, Math.max(1, this.o.residualHorizon ?? Math.ceil(HOUR_MS / series.stepMs)));
    const cal = saved ? { quantiles: saved.residualQuantiles.map((r) => [...r]), evaluations: 0 } : calibrate(z, params, { ...eo, steps, fullStart: full.start });
    const st = cloneState(full.start);
    runFilter(params, z, st, { H: 1, burnIn: Infinity, phase0: eo.phase0 });
    this.fittedModel = {
      params,
      stepMs: series.stepMs,
      season: m,
      residualQuantiles: cal.quantiles,
      mse: full.mse,
      evaluations: searched.evaluations + full.evaluations + cal.evaluations,
      start: { level: full.start.l, trend: full.start.b, season: Float64Array.from(full.start.s) },
    };
    this.trained = { startMs: series.startMs, values: Float64Array.from(series.values), state: st };
    this.latest = undefined;
  }

  /**
   * Forecasts `horizon` steps after `context` (default: the training series). The parameters stay as fitted;
   * the state runs over the new points only when `context` extends the training series or the previous
   * context (same start, same values so far), so rolling-origin evaluation costs O(new points) per origin.
   * Any other context is filtered from `contextStart`.
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
      st = contextStart(toLog(ctx.values), trained.state.s, phase0);
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

/**
 * The parameter search: a coarse grid scored with the heuristic start (after a first-day burn-in), then
 * parameters and start state together by least squares from the best grid point.
 */
function search(z: Float64Array, o: EstimateOptions): { params: HoltWintersParams; evaluations: number } {
  const guess = initialState(z, o.m, o.phase0);
  const burnIn = Math.min(o.m, Math.floor(z.length / 2));
  let best: HoltWintersParams = { alpha: 0.5, beta: 0.01, gamma: 0.1, phi: 0.95 };
  let bestF = Infinity;
  let evaluations = 0;
  for (const alpha of [0.05, 0.2, 0.5, 0.8]) {
    for (const beta of [0.001, 0.05]) {
      for (const g of [0.05, 0.3, 0.7]) {
        for (const phi of [0.85, 0.97]) {
          const p = { alpha, beta, gamma: g * (1 - alpha), phi };
          const r = runFilter(p, z, cloneState(guess), { H: o.H, burnIn, phase0: o.phase0 });
          evaluations++;
          const f = r.count > 0 ? r.sse / r.count : Infinity;
          if (f < bestF) {
            bestF = f;
            best = p;
          }
        }
      }
    }
  }
  const joint = estimateJoint(z, best, o);
  return { params: joint.params, evaluations: evaluations + joint.evaluations };
}

/** True when `ctx` starts where the cache starts and holds the cached values as its prefix. */
function extendsCache(c: Cache, ctx: Series): boolean {
  if (c.startMs !== ctx.startMs || ctx.values.length < c.values.length) return false;
  const a = c.values;
  const b = ctx.values;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
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

/**
 * The `holt-winters` kind: meta.json's `holtWinters` section (parameters, start state, residual quantiles) and
 * history.json, the training series it is refitted on with them (same state, same forecasts).
 */
export const holtWintersKind: ModelKind<'holt-winters'> = {
  name: 'holt-winters',
  section: 'holtWinters',
  create: (o) => new HoltWintersForecaster({ stepMs: o.stepMs, objective: 'horizon', objectiveHorizon: o.horizon }),
  async save(f, { dir, training }) {
    const fitted = ownKind('holt-winters', f, HoltWintersForecaster).fitted;
    if (!fitted) throw new Error('holt-winters: save called before fit');
    writeHistory(dir, training);
    const { level, trend, season } = fitted.start;
    const section: HoltWintersMeta = { params: fitted.params, start: { level, trend, season: Array.from(season) }, residualQuantiles: fitted.residualQuantiles, mse: fitted.mse };
    return { section };
  },
  validate(section, where) {
    if (!(isRecord(section) && isRecord(section.params))) throw new InputError(`${where}: a holt-winters model needs holtWinters.params`);
  },
  async load({ dir, where, stepMs, horizon, section }) {
    const hw = section as HoltWintersMeta;
    return refitOnHistory(new HoltWintersForecaster({ stepMs, objective: 'horizon', objectiveHorizon: horizon, params: hw.params, saved: savedState(hw, where, stepMs) }), dir);
  },
};

function isStartState(v: unknown): v is NonNullable<HoltWintersMeta['start']> {
  return isRecord(v) && finite(v.level) && finite(v.trend) && Array.isArray(v.season) && v.season.every(finite);
}

/** The start state and residual quantiles a fit saved, checked (`where` names the section); none in files written before they were. */
function savedState(hw: HoltWintersMeta, where: string, stepMs: number): HoltWintersSaved | undefined {
  if (hw.start === undefined) return undefined;
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
