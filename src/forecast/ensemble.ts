import type { Series } from '../series/series.js';
import { assertFitted, disposeForecaster, sanitizeForecast, type Forecaster, type QuantileForecast } from './forecaster.js';

/**
 * A forecast combination: the members are fitted on the same series and their forecasts averaged quantile by
 * quantile (the p50 is the mean of the members' p50s, the p90 the mean of their p90s, …). Averaging forecasts
 * of unlike models (here a neural network, exponential smoothing and boosted trees) is the oldest robust gain
 * in forecasting (Bates & Granger 1969; the M4 competition's top entries were combinations): their errors are
 * only partly correlated, so the mean is usually closer than any one of them. Auto scores it on the holdout
 * like every candidate, and keeps it when it wins there or when the winner's lead over it is not significant
 * (`decide` in src/forecast/select.ts).
 */
export class EnsembleForecaster implements Forecaster {
  readonly name = 'ensemble';
  private fitted = false;

  /** `members` may be fitted already (`fitted: true`): auto reuses its holdout fits to score the combination. */
  constructor(
    readonly members: readonly Forecaster[],
    o: { fitted?: boolean } = {},
  ) {
    if (members.length < 2) throw new Error('ensemble: needs at least two members');
    this.fitted = o.fitted ?? false;
  }

  get minTrainLength(): number {
    return Math.max(...this.members.map((m) => m.minTrainLength));
  }

  get probabilistic(): boolean {
    return this.members.some((m) => m.probabilistic);
  }

  async fit(series: Series): Promise<void> {
    for (const m of this.members) await m.fit(series);
    this.fitted = true;
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.fitted);
    const forecasts = this.members.map((m) => m.predict(horizon, context));
    const first = forecasts[0];
    const k = forecasts.length;
    const values = first.values.map((_, q) => {
      const row = new Float64Array(horizon);
      for (const f of forecasts) for (let h = 0; h < horizon; h++) row[h] += f.values[q][h] / k;
      return row;
    });
    return sanitizeForecast({ startMs: first.startMs, stepMs: first.stepMs, horizon, probabilistic: forecasts.some((f) => f.probabilistic), values });
  }

  dispose(): void {
    for (const m of this.members) disposeForecaster(m);
  }
}
