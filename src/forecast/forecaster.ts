import type { CalendarEvent } from '../events/events.js';
import type { Series } from '../series/series.js';
import { InputError } from '../util/errors.js';
import type { BandCalibration } from './band.js';

/** The quantile levels every forecaster returns, in this order. */
export const QUANTILES = [0.5, 0.9, 0.99] as const;
export type QuantileLevel = (typeof QUANTILES)[number];

/**
 * A forecast for `horizon` steps after the end of the context series. `values[q][h]` is the forecast of
 * quantile `QUANTILES[q]` for the interval starting at `startMs + h * stepMs` (same unit as the input).
 * Point forecasters return the same values for every quantile and set `probabilistic` false.
 */
export interface QuantileForecast {
  readonly startMs: number;
  readonly stepMs: number;
  readonly horizon: number;
  readonly probabilistic: boolean;
  readonly values: readonly Float64Array[];
}

/**
 * The one interface of every model (darts-style). `fit` learns from the training series; `predict` forecasts
 * the `horizon` steps that follow `context` (the history up to the forecast origin, which may extend past
 * the training data: the model may use it as input but never refits on it). Without `context`, the training
 * series is the context.
 */
export interface Forecaster {
  readonly name: string;
  /** Fewest points `fit` accepts. */
  readonly minTrainLength: number;
  readonly probabilistic: boolean;
  fit(series: Series): Promise<void>;
  predict(horizon: number, context?: Series): QuantileForecast;
  /**
   * For a forecaster made of another fitted model (auto's winner, a calibrated band): that model and what was
   * chosen on the way; undefined for a model of its own and before fit. `unwrap` follows the whole chain.
   */
  readonly wraps?: Wrapping;
  /** For a model that reads the promo calendar as known-future inputs (the LSTM given events); undefined otherwise. */
  readonly calendarInputs?: CalendarInputs;
  /** Frees what the forecaster holds outside the JS heap (the LSTM's tensors); absent when it holds nothing there. */
  dispose?(): void;
}

/** One step of a wrapping: the model inside and what this wrapper adds to it. */
export interface Wrapping {
  /** The fitted model forecasts come from (saved as its own kind). */
  readonly model: Forecaster;
  /** The method auto picked, for auto. */
  readonly chosen?: string;
  /** The upper band's calibration applied to `model`'s forecasts, for a band. */
  readonly band?: BandCalibration;
}

/** What a forecaster comes down to: the innermost model, auto's pick and the band on the way (the outermost of each). */
export interface Unwrapped {
  readonly model: Forecaster;
  readonly chosen?: string;
  readonly band?: BandCalibration;
}

export function unwrap(f: Forecaster): Unwrapped {
  const w = f.wraps;
  if (w === undefined) return { model: f };
  const inner = unwrap(w.model);
  const chosen = w.chosen ?? inner.chosen;
  const band = w.band ?? inner.band;
  return { model: inner.model, ...(chosen !== undefined ? { chosen } : {}), ...(band !== undefined ? { band } : {}) };
}

/** The calendar side of a model that takes the promo calendar as inputs. */
export interface CalendarInputs {
  /** The tags one-hot encoded, in order (possibly none), once fitted or loaded; undefined before. */
  readonly tags: readonly string[] | undefined;
  /** Replaces the calendar the inputs are read from (a loaded model handed the current one, with newer events). */
  setEvents(events: readonly CalendarEvent[]): void;
}

/** The shared guard: one error for every model when the series is too short. */
export function assertTrainLength(f: Pick<Forecaster, 'name' | 'minTrainLength'>, series: Series): void {
  if (series.values.length < f.minTrainLength) {
    throw new InputError(
      `${f.name} needs at least ${f.minTrainLength} points of history at step ${series.stepMs / 60000} min, ${series.values.length} given`,
    );
  }
}

/** Frees what a forecaster holds outside the JS heap (the LSTM's tensors); a no-op for the others. */
export function disposeForecaster(f: Forecaster): void {
  f.dispose?.();
}

/** The shared guard: one error for every model when predict comes before fit. */
export function assertFitted(name: string, fitted: boolean): void {
  if (!fitted) throw new Error(`${name}: predict called before fit`);
}

/**
 * Makes a forecast safe to act on: NaN, negative or infinite values become the nearest sane value and the
 * quantiles are made non-decreasing (p50 <= p90 <= p99). A forecast is never NaN or negative.
 */
export function sanitizeForecast(f: QuantileForecast): QuantileForecast {
  const values = f.values.map((row) => Float64Array.from(row, (v) => (Number.isFinite(v) && v > 0 ? v : 0)));
  for (let q = 1; q < values.length; q++) {
    for (let h = 0; h < f.horizon; h++) values[q][h] = Math.max(values[q][h], values[q - 1][h]);
  }
  return { ...f, values };
}

/** Builds a point forecast (every quantile the same). */
export function pointForecast(startMs: number, stepMs: number, point: ArrayLike<number>): QuantileForecast {
  const row = Float64Array.from(point);
  return sanitizeForecast({
    startMs,
    stepMs,
    horizon: row.length,
    probabilistic: false,
    values: QUANTILES.map(() => row),
  });
}

/** The row of quantile level `q` (one of QUANTILES), or the nearest level at or above it. */
export function quantileRow(f: QuantileForecast, q: number): Float64Array {
  const idx = QUANTILES.findIndex((l) => l >= q - 1e-9);
  return f.values[idx < 0 ? QUANTILES.length - 1 : idx];
}
