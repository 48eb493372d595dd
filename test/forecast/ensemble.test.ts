import { describe, expect, it } from '@jest/globals';
import { EnsembleForecaster } from '../../src/forecast/ensemble.js';
import type { Forecaster, QuantileForecast } from '../../src/forecast/forecaster.js';
import type { Series } from '../../src/series/series.js';

/** A member that forecasts fixed rows and records its fits. */
function fixed(rows: number[][], probabilistic = true): Forecaster & { fits: number } {
  return {
    name: 'fixed',
    minTrainLength: rows[0].length,
    probabilistic,
    fits: 0,
    fit(): Promise<void> {
      this.fits++;
      return Promise.resolve();
    },
    predict(horizon: number): QuantileForecast {
      return { startMs: 0, stepMs: 60_000, horizon, probabilistic, values: rows.map((r) => Float64Array.from(r.slice(0, horizon))) };
    },
  };
}

const series: Series = { startMs: 0, stepMs: 60_000, values: new Float64Array(10).fill(1) };

describe('EnsembleForecaster', () => {
  it('averages the members quantile by quantile', async () => {
    const e = new EnsembleForecaster([
      fixed([
        [10, 20],
        [12, 24],
        [15, 30],
      ]),
      fixed([
        [30, 40],
        [40, 50],
        [50, 60],
      ]),
    ]);
    await e.fit(series);
    const f = e.predict(2);
    expect(f.values.map((r) => Array.from(r))).toEqual([
      [20, 30],
      [26, 37],
      [32.5, 45],
    ]);
    expect(f.probabilistic).toBe(true);
  });

  it('fits every member, needs the longest history of them, and refuses to predict before fit', async () => {
    const a = fixed([[1, 1, 1]]);
    const b = fixed([[1, 1, 1, 1, 1]]);
    const e = new EnsembleForecaster([a, b]);
    expect(e.minTrainLength).toBe(5);
    expect(() => e.predict(1)).toThrow('ensemble: predict called before fit');
    await e.fit(series);
    expect([a.fits, b.fits]).toEqual([1, 1]);
  });

  it('keeps quantiles ordered and non-negative after averaging', async () => {
    // Member quantiles that cross once averaged with a negative value (a buggy member): sanitised.
    const e = new EnsembleForecaster(
      [
        fixed([[-10], [5], [6]]),
        fixed([[2], [-20], [8]]),
      ],
      { fitted: true },
    );
    const [p50, p90, p99] = e.predict(1).values.map((r) => r[0]);
    expect(p50).toBe(0);
    expect(p90).toBeGreaterThanOrEqual(p50);
    expect(p99).toBeGreaterThanOrEqual(p90);
  });

  it('needs two members', () => {
    expect(() => new EnsembleForecaster([fixed([[1]])])).toThrow('at least two members');
  });
});
