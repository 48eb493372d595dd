import type { CalendarEvent } from '../events/events.js';
import type { Forecaster } from '../forecast/forecaster.js';
import type { Series } from '../series/series.js';
import type { TargetConfig } from '../config/schema.js';
import type { ModelInfo } from './state.js';

/** A model ready to forecast, with what the dashboard shows of it. */
export interface LoadedModel {
  readonly forecaster: Forecaster;
  /** The step the model forecasts at; history is resampled to it. */
  readonly stepMs: number;
  readonly info: ModelInfo;
}

export interface TrainOptions {
  readonly signal?: AbortSignal;
  /**
   * The target's calendar, for a method that takes it as inputs (the LSTM, calendar mode `inputs`): the history is
   * then the raw one, promos included, and the model learns their uplift itself.
   */
  readonly calendar?: readonly CalendarEvent[];
}

/** Where the service gets its models: loaded from disk, or trained from history (off the serving path). */
export interface ModelProvider {
  /** The saved model for this target, or undefined when none exists yet. */
  load(target: TargetConfig): Promise<LoadedModel | undefined>;
  /** Trains a new model on `history` (QPS at the source's step). */
  train(target: TargetConfig, history: Series, o?: TrainOptions): Promise<LoadedModel>;
  /** Scores a model on recent data (MASE of its forecasts over `recent`, lower is better). */
  score(model: LoadedModel, history: Series, recentFromMs: number): number;
  save(target: TargetConfig, model: LoadedModel): Promise<void>;
  /**
   * Deletes what `save` wrote for this target (never a `modelPath`): its history, forecast or calendar changed, or
   * it was removed, so a model of other data must not be loaded for it again.
   */
  forget?(target: TargetConfig): Promise<void>;
}
