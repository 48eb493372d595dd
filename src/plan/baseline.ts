import type { QuantileForecast } from '../forecast/forecaster.js';
import { meanOver, type Series } from '../series/series.js';
import { DAY_MS } from '../util/clock.js';

/**
 * The "normal" load for each forecast step: the mean observed rate over the same interval one day earlier
 * (NaN where nothing was observed). An event's `multiplier` applies to this, not to the forecast: a model
 * that already forecasts the event's uplift would otherwise be multiplied a second time. Only history
 * before `nowMs` is read.
 */
export function dayAgoLevels(history: Series, f: QuantileForecast, nowMs: number): Float64Array {
  const out = new Float64Array(f.horizon);
  for (let h = 0; h < f.horizon; h++) {
    const from = f.startMs + h * f.stepMs - DAY_MS;
    out[h] = meanOver(history, from, Math.min(from + f.stepMs, nowMs));
  }
  return out;
}
