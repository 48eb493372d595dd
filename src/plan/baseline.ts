import type { QuantileForecast } from '../forecast/forecaster.js';
import type { Series } from '../series/series.js';
import { DAY_MS } from '../util/clock.js';

/**
 * The "normal" load for each forecast step: the mean observed rate over the same interval one day earlier
 * (NaN where nothing was observed). An event's `multiplier` applies to this, not to the forecast: a model
 * that already forecasts the event's uplift would otherwise be multiplied a second time. Only history
 * before `nowMs` is read.
 */
export function dayAgoLevels(history: Series, f: QuantileForecast, nowMs: number): Float64Array {
  const out = new Float64Array(f.horizon).fill(NaN);
  for (let h = 0; h < f.horizon; h++) {
    const from = f.startMs + h * f.stepMs - DAY_MS;
    const to = Math.min(from + f.stepMs, nowMs);
    const a = Math.max(0, Math.ceil((from - history.startMs) / history.stepMs));
    const b = Math.min(history.values.length, Math.ceil((to - history.startMs) / history.stepMs));
    let sum = 0;
    let n = 0;
    for (let i = a; i < b; i++) {
      if (Number.isFinite(history.values[i])) {
        sum += history.values[i];
        n++;
      }
    }
    if (n > 0) out[h] = sum / n;
  }
  return out;
}
