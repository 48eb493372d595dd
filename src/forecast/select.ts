import { sliceSeries, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { seasonalScale, scoreRollingOrigins, type MethodScores, type ProtocolData } from './evaluate.js';
import { assertFitted, assertTrainLength, disposeForecaster, type Forecaster, type QuantileForecast, type Wrapping } from './forecaster.js';
import { ENSEMBLE_MEMBERS, EnsembleForecaster } from './ensemble.js';
import { DM_CRITICAL_5, dieboldMariano } from './compare.js';
import { BandForecaster, calibrateBand, type BandOptions, type BandCalibration } from './band.js';
import { KIND_NAMES, createModel, type KindName } from './kinds.js';
import type { LstmOptions } from './lstm.js';
import type { KindOptions } from './model-kind.js';
import { log } from '../obs/log.js';

export { ENSEMBLE_MEMBERS };

/** Auto's candidates: every model kind (src/forecast/kinds.ts). */
export type CandidateName = KindName;
export const CANDIDATES: readonly CandidateName[] = KIND_NAMES;

export interface AutoOptions {
  readonly stepMs?: number;
  /** Steps per forecast window (the holdout is scored on windows of this length); default 30 minutes. */
  readonly horizon?: number;
  readonly seed?: number;
  /** Share of the training series, its end, used as the holdout; default 0.2 (at least 2 days when possible). */
  readonly holdoutShare?: number;
  readonly candidates?: readonly CandidateName[];
  /** Options passed on to the LSTM candidate (epochs, progress…). */
  readonly lstm?: LstmOptions;
  /** Builds a candidate; default its kind's `create`. Tests pass fakes. */
  readonly create?: (name: CandidateName, o: KindOptions & { readonly horizon: number }) => Forecaster;
  /**
   * The upper band's calibration on the holdout's window peaks (src/forecast/band.ts), on by default;
   * `false` keeps the chosen model's band as fitted.
   */
  readonly band?: false | BandOptions;
  /** Called when a candidate starts fitting on the first part, and when the winner is refitted. */
  readonly onStage?: (stage: { readonly candidate: CandidateName; readonly phase: 'holdout' | 'refit' }) => void;
}

/** The sanity bar the chosen forecaster's p90 should clear on the holdout (issue 2's "Done means"). */
export const SANE = { maxUfr: 0.15, maxPeakRatio: 1.35, minCoverage: 0.85, maxCoverage: 0.97 } as const;

/** Builds one candidate, unfitted, by its kind (src/forecast/kinds.ts); also the registry's factory for every method but `auto`. */
export function createCandidate(name: CandidateName, o: KindOptions): Forecaster {
  return createModel(name, o);
}

/** Whether holdout scores clear the sanity bar: a p90 that rarely misses the peak, does not overshoot it much, and is calibrated. */
export function isSane(s: MethodScores): boolean {
  if (!(s.ufr <= SANE.maxUfr) || !(s.peakRatio <= SANE.maxPeakRatio)) return false;
  if (s.coverageP90 === null) return true;
  return s.coverageP90 >= SANE.minCoverage && s.coverageP90 <= SANE.maxCoverage;
}

/** 0: clears the sanity bar; 1: probabilistic; 2: a point forecast. Lower tiers win before MASE is compared. */
function tierOf(s: MethodScores): number {
  return isSane(s) ? 0 : s.coverageP90 !== null ? 1 : 2;
}

/**
 * Picks the best of `scores`: the lowest MASE among candidates whose p90 clears the sanity bar; when none
 * does, the lowest MASE among the probabilistic ones (a calibrated-ish band beats none), else the lowest MASE.
 */
export function pickBest(scores: Readonly<Partial<Record<CandidateName, MethodScores>>>): CandidateName {
  const entries = Object.entries(scores).filter((e): e is [CandidateName, MethodScores] => e[1] !== undefined && Number.isFinite(e[1].mase));
  if (entries.length === 0) throw new InputError('auto: no candidate could be scored on the holdout');
  entries.sort((a, b) => tierOf(a[1]) - tierOf(b[1]) || a[1].mase - b[1].mase);
  return entries[0][0];
}

/** How auto chose: the lowest holdout MASE, or the combination when that lead is not significant. */
export interface AutoDecision {
  readonly chosen: CandidateName;
  /** `pickBest`'s choice: the lowest holdout MASE in the best tier of the sanity bar. */
  readonly lowest: CandidateName;
  /**
   * The Diebold-Mariano test of `lowest`'s per-window losses against the ensemble's, when both are in the
   * same tier (t < 0: `lowest` is better; the ensemble is kept unless t ≤ −1.645).
   */
  readonly dm?: { readonly t: number; readonly windows: number; readonly lag: number };
}

/**
 * `pickBest`, then one more question: is the winner's lead over the `ensemble` candidate (the combination of
 * one model per family) significant? A single model must beat the combination on the holdout's windows with a
 * one-sided Diebold-Mariano test at 5 %; otherwise the combination is kept. A holdout of a week or two cannot
 * tell close models apart, and when it cannot, a combination is the safer bet on data it has not seen: its
 * members' errors partly cancel, and picking one model is estimating weights of 0 and 1, which adds the
 * holdout's noise that equal weights do not (the "forecast combination puzzle", Claeskens et al. 2016).
 * The ensemble must clear the same tier of the sanity bar as the winner: a sane model is never swapped for a
 * combination that is not.
 */
export function decide(scores: Readonly<Partial<Record<CandidateName, MethodScores>>>, losses: Readonly<Partial<Record<CandidateName, readonly number[]>>>): AutoDecision {
  const lowest = pickBest(scores);
  const ens = scores.ensemble;
  const a = losses[lowest];
  const b = losses.ensemble;
  if (lowest === 'ensemble' || ens === undefined || !Number.isFinite(ens.mase) || a === undefined || b === undefined) return { chosen: lowest, lowest };
  if (tierOf(ens) !== tierOf(scores[lowest] as MethodScores)) return { chosen: lowest, lowest };
  const r = dieboldMariano(a, b);
  const dm = { t: r.t, windows: r.n, lag: r.lag };
  return { chosen: r.t <= -DM_CRITICAL_5 ? lowest : 'ensemble', lowest, dm };
}

/** What the holdout decided. */
interface Holdout {
  readonly decision: AutoDecision;
  readonly scores: Partial<Record<CandidateName, MethodScores>>;
  readonly band: BandCalibration | undefined;
}

/**
 * `auto`: fits every candidate on the first part of the training series, scores each on a time-ordered
 * holdout at its end with protocol v1's rolling-origin scoring (src/forecast/evaluate.ts), keeps the best
 * (`decide`: the lowest MASE, unless its lead over the combination is not significant), calibrates its upper
 * band on the same holdout's window peaks (src/forecast/band.ts), and refits it on the whole training series.
 * `chosen`, `decision`, `scores` and `band` say what happened; `wraps` is the fitted winner (what gets saved and
 * what `evaluate` reports as auto's choice).
 */
export class AutoForecaster implements Forecaster {
  readonly name = 'auto';
  private readonly stepMs: number;
  private winner: Forecaster | undefined;
  private decided: AutoDecision | undefined;
  private allScores: Partial<Record<CandidateName, MethodScores>> = {};

  constructor(private readonly o: AutoOptions = {}) {
    this.stepMs = o.stepMs ?? 5 * MINUTE_MS;
  }

  private get horizon(): number {
    return this.o.horizon ?? Math.max(1, Math.round((30 * MINUTE_MS) / this.stepMs));
  }

  /** Two days: a day of season for the simplest seasonal candidate plus a day of holdout. */
  get minTrainLength(): number {
    return Math.round((2 * DAY_MS) / this.stepMs);
  }

  get probabilistic(): boolean {
    return this.winner?.probabilistic ?? true;
  }

  /** The winner's name, after fit. */
  get chosen(): string | undefined {
    return this.decided?.chosen;
  }

  /** How the winner was picked (the lowest MASE, and the test against the ensemble), after fit. */
  get decision(): AutoDecision | undefined {
    return this.decided;
  }

  /** Holdout scores of every candidate that could be fitted. */
  get scores(): Readonly<Partial<Record<CandidateName, MethodScores>>> {
    return this.allScores;
  }

  /** The holdout's band calibration of the winner, after fit (none for a point forecaster). */
  get band(): BandCalibration | undefined {
    return this.winner instanceof BandForecaster ? this.winner.band : undefined;
  }

  /** After fit: the fitted winner (what gets saved), inside its band calibration when it has one, and its name. */
  get wraps(): Wrapping | undefined {
    return this.winner && this.decided ? { model: this.winner, chosen: this.decided.chosen } : undefined;
  }

  /** Frees the winner's tensors (the candidates' are freed as soon as the holdout has judged them). */
  dispose(): void {
    if (this.winner) disposeForecaster(this.winner);
    this.winner = undefined;
  }

  async fit(series: Series): Promise<void> {
    assertTrainLength(this, series);
    const stepMs = series.stepMs;
    const n = series.values.length;
    const season = Math.round(DAY_MS / stepMs);
    const horizon = this.horizon;
    const create = this.o.create ?? createCandidate;
    const opts = { stepMs, horizon, seed: this.o.seed, lstm: this.o.lstm };
    // At least a day of holdout so every time of day is judged, but never more than half the data.
    const holdout = Math.min(Math.floor(n / 2), Math.max(season, Math.floor(n * (this.o.holdoutShare ?? 0.2))));
    const fitEnd = n - holdout;
    const d: ProtocolData = { actual: series, trainEnd: fitEnd, horizon, season, maseScale: seasonalScale(series.values, fitEnd, Math.min(season, fitEnd - 1)) };
    const fitted = new Map<CandidateName, Forecaster>();
    let held: Holdout;
    try {
      held = await this.judge(d, (name) => create(name, opts), fitted);
    } finally {
      for (const f of fitted.values()) disposeForecaster(f);
    }
    const { decision, scores, band } = held;
    const { chosen } = decision;
    log.info(
      { chosen, lowest: decision.lowest, dmT: decision.dm?.t, scores: Object.fromEntries(Object.entries(scores).map(([k, v]) => [k, v.mase])), bandExponent: band?.exponent },
      'auto: holdout scores (MASE)',
    );
    this.o.onStage?.({ candidate: chosen, phase: 'refit' });
    const winner = create(chosen, opts);
    await winner.fit(series);
    if (this.winner) disposeForecaster(this.winner);
    this.winner = band ? new BandForecaster(winner, band) : winner;
    this.decided = decision;
    this.allScores = scores;
  }

  /**
   * Fits every candidate on the part of `d.actual` before `d.trainEnd` (each one kept in `fitted`, which the
   * caller disposes), scores it on the rest, picks the best and calibrates its band on the same windows.
   */
  private async judge(d: ProtocolData, create: (name: CandidateName) => Forecaster, fitted: Map<CandidateName, Forecaster>): Promise<Holdout> {
    const first = sliceSeries(d.actual, 0, d.trainEnd);
    const scores: Partial<Record<CandidateName, MethodScores>> = {};
    const losses: Partial<Record<CandidateName, number[]>> = {};
    const scored = new Map<CandidateName, Forecaster>();
    for (const name of this.o.candidates ?? CANDIDATES) {
      let f: Forecaster;
      if (name === 'ensemble') {
        // The combination of the members' holdout fits: scored without fitting anything again.
        const members = ENSEMBLE_MEMBERS.map((m) => fitted.get(m));
        if (members.some((m) => m === undefined)) continue;
        f = new EnsembleForecaster(members as Forecaster[], { fitted: true });
      } else {
        f = create(name);
        if (!(await this.fitCandidate(name, f, first))) continue;
        fitted.set(name, f);
      }
      const windowLosses: number[] = [];
      scores[name] = scoreRollingOrigins(f, d, { onWindow: (l) => windowLosses.push(l) });
      losses[name] = windowLosses;
      scored.set(name, f);
    }
    const decision = decide(scores, losses);
    const onHoldout = scored.get(decision.chosen) as Forecaster;
    // The band's caps on overshoot are the sanity bar's, so widening never makes the winner fail it there.
    const caps = { maxPeakRatio: SANE.maxPeakRatio };
    const band = this.o.band !== false && onHoldout.probabilistic ? calibrateBand(onHoldout, d, { ...caps, ...this.o.band }) : undefined;
    return { decision, scores, band };
  }

  /**
   * Fits a candidate on the first part. One that needs more data (e.g. weekly seasonality with under two weeks)
   * is skipped; so is one whose fit rejects the data (an InputError, e.g. gbdt with too many gaps), with a log line.
   */
  private async fitCandidate(name: CandidateName, f: Forecaster, first: Series): Promise<boolean> {
    if (f.minTrainLength > first.values.length) return false;
    this.o.onStage?.({ candidate: name, phase: 'holdout' });
    try {
      await f.fit(first);
      return true;
    } catch (err: unknown) {
      if (!(err instanceof InputError)) throw err;
      disposeForecaster(f);
      log.warn({ candidate: name, err: err.message }, 'auto: candidate skipped, it cannot be fitted on this data');
      return false;
    }
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.winner !== undefined);
    return (this.winner as Forecaster).predict(horizon, context);
  }
}
