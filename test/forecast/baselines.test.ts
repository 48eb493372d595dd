import { describe, expect, it } from '@jest/globals';
import { QUANTILES, type Forecaster } from '../../src/forecast/forecaster.js';
import { HoltWintersForecaster, lbfgs } from '../../src/forecast/holt-winters.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { createForecaster, METHOD_NAMES, parseMethodList } from '../../src/forecast/registry.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { makeSeries, sliceSeries, type Series } from '../../src/series/series.js';
import { DAY_MS, MINUTE_MS } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';
import { mulberry32 } from '../../src/util/prng.js';

const STEP = 5 * MINUTE_MS;
const M = DAY_MS / STEP; // 288
const T0 = Date.parse('2024-01-01T00:00:00Z');

/** A daily pattern (per-second rate) whose log is a sine: exactly what additive HW on log1p models. */
function dailyPattern(days: number, noise: (i: number) => number = () => 1): Series {
  return makeSeries(
    T0,
    STEP,
    Array.from({ length: days * M }, (_, i) => (Math.exp(3 + Math.sin((2 * Math.PI * (i % M)) / M)) * noise(i)) / 60),
  );
}

describe('NaiveForecaster', () => {
  it('repeats the last present value of the context', async () => {
    const f = new NaiveForecaster();
    await f.fit(makeSeries(T0, STEP, [1, 2, 3]));
    const fc = f.predict(4);
    expect(fc.startMs).toBe(T0 + 3 * STEP);
    expect(fc.probabilistic).toBe(false);
    for (const row of fc.values) expect(Array.from(row)).toEqual([3, 3, 3, 3]);
    expect(Array.from(f.predict(2, makeSeries(T0, STEP, [1, 2, 7, NaN, NaN])).values[0])).toEqual([7, 7]);
  });

  it('rejects a series with only gaps, and predict before fit', async () => {
    await expect(new NaiveForecaster().fit(makeSeries(T0, STEP, [NaN, NaN]))).rejects.toThrow(InputError);
    expect(() => new NaiveForecaster().predict(3)).toThrow(/naive: predict called before fit/);
  });
});

describe('SeasonalNaiveForecaster', () => {
  it('repeats yesterday (daily) and last week (weekly) at the same time of day', async () => {
    const s = makeSeries(T0, STEP, Array.from({ length: 8 * M }, (_, i) => i));
    const daily = new SeasonalNaiveForecaster({ season: 'daily' });
    await daily.fit(s);
    expect(Array.from(daily.predict(3).values[0])).toEqual([7 * M, 7 * M + 1, 7 * M + 2]);
    const weekly = new SeasonalNaiveForecaster({ season: 'weekly' });
    expect(weekly.name).toBe('seasonal-naive-weekly');
    await weekly.fit(s);
    expect(Array.from(weekly.predict(2).values[0])).toEqual([M, M + 1]);
  });

  it('goes back a further season over a gap and wraps horizons longer than a season', async () => {
    const v = Array.from({ length: 3 * M }, (_, i) => i);
    v[2 * M] = NaN; // yesterday's value for the first step is missing
    const f = new SeasonalNaiveForecaster({ season: 'daily' });
    await f.fit(makeSeries(T0, STEP, v));
    const fc = f.predict(M + 1);
    expect(fc.values[0][0]).toBe(M);
    expect(fc.values[0][1]).toBe(2 * M + 1);
    expect(fc.values[0][M]).toBe(M); // step M+1 is again the first phase: the gap falls back to two days ago
  });

  it('needs one whole season at the step it will see', async () => {
    expect(new SeasonalNaiveForecaster({ season: 'daily', stepMs: MINUTE_MS }).minTrainLength).toBe(1440);
    expect(new SeasonalNaiveForecaster({ season: 'weekly' }).minTrainLength).toBe(7 * M);
    await expect(new SeasonalNaiveForecaster({ season: 'daily' }).fit(makeSeries(T0, STEP, [1, 2, 3]))).rejects.toThrow(
      'seasonal-naive needs at least 288 points of history at step 5 min, 3 given',
    );
  });
});

describe('HoltWintersForecaster', () => {
  it('forecasts a clean daily pattern almost exactly, with ordered non-negative quantiles', async () => {
    const s = dailyPattern(6);
    const f = new HoltWintersForecaster();
    await f.fit(sliceSeries(s, 0, 5 * M));
    const fc = f.predict(M);
    const truth = s.values.subarray(5 * M);
    let worst = 0;
    for (let h = 0; h < M; h++) worst = Math.max(worst, Math.abs(fc.values[0][h] - truth[h]) / truth[h]);
    expect(worst).toBeLessThan(0.02);
    expect(fc.probabilistic).toBe(true);
    for (let h = 0; h < M; h++) {
      expect(fc.values[0][h]).toBeLessThanOrEqual(fc.values[1][h]);
      expect(fc.values[1][h]).toBeLessThanOrEqual(fc.values[2][h]);
    }
  });

  it('gives p90 that covers about 90 % of fresh noisy data', async () => {
    const r = mulberry32(7);
    // log-normal noise, sd 0.2 on the log scale
    const noise = (): number => Math.exp(0.2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
    const s = dailyPattern(16, noise);
    const f = new HoltWintersForecaster();
    await f.fit(sliceSeries(s, 0, 12 * M));
    let covered = 0;
    let n = 0;
    for (let t = 12 * M; t + 6 <= s.values.length; t += 6) {
      const fc = f.predict(6, sliceSeries(s, 0, t));
      for (let h = 0; h < 6; h++, n++) if (s.values[t + h] <= fc.values[1][h]) covered++;
    }
    expect(covered / n).toBeGreaterThan(0.85);
    expect(covered / n).toBeLessThan(0.95);
    const p = f.fitted?.params;
    expect(p?.alpha).toBeGreaterThan(0);
    expect(p?.alpha).toBeLessThan(1);
    expect(p?.phi).toBeGreaterThanOrEqual(0.8);
    expect(p?.phi).toBeLessThanOrEqual(0.995);
    expect(f.fitted?.residualQuantiles.length).toBe(12);
  });

  it('gives the same forecast incrementally as from scratch, and never refits on the context', async () => {
    const s = dailyPattern(5, (i) => 1 + 0.1 * Math.sin(i * 0.37));
    const train = sliceSeries(s, 0, 3 * M);
    const a = new HoltWintersForecaster();
    await a.fit(train);
    const params = a.fitted?.params;
    a.predict(6, sliceSeries(s, 0, 3 * M + 50));
    const incremental = a.predict(6, sliceSeries(s, 0, 4 * M));
    const b = new HoltWintersForecaster({ params });
    await b.fit(train);
    const direct = b.predict(6, sliceSeries(s, 0, 4 * M));
    expect(incremental.values.map((r) => Array.from(r))).toEqual(direct.values.map((r) => Array.from(r)));
    expect(a.fitted?.params).toEqual(params);
    // A context that changes an earlier value is not mistaken for an extension.
    const changed = sliceSeries(s, 0, 4 * M);
    changed.values[4 * M - 3] *= 5;
    expect(a.predict(6, changed).values[0]).not.toEqual(direct.values[0]);
  });

  it('runs over gaps in the context and on a context that starts elsewhere, never giving NaN', async () => {
    const s = dailyPattern(4);
    const f = new HoltWintersForecaster();
    await f.fit(sliceSeries(s, 0, 2 * M));
    const ctx = sliceSeries(s, 0, 3 * M);
    ctx.values.fill(NaN, 3 * M - 20);
    const fc = f.predict(6, ctx);
    const other = f.predict(6, sliceSeries(s, M, 4 * M));
    for (const row of [...fc.values, ...other.values]) for (const v of row) expect(Number.isFinite(v) && v >= 0).toBe(true);
    expect(other.startMs).toBe(T0 + 4 * DAY_MS);
  });

  it('needs two days at its step', async () => {
    expect(new HoltWintersForecaster().minTrainLength).toBe(2 * M);
    await expect(new HoltWintersForecaster().fit(dailyPattern(1))).rejects.toThrow('holt-winters needs at least 576 points of history at step 5 min, 288 given');
  });
});

describe('lbfgs', () => {
  it('finds the minimum of a shifted quadratic', () => {
    const r = lbfgs(
      (x, g) => {
        g[0] = 2 * (x[0] - 3);
        g[1] = 4 * (x[1] + 1);
        return (x[0] - 3) ** 2 + 2 * (x[1] + 1) ** 2;
      },
      [0, 0],
      { tolerance: 1e-14 },
    );
    expect(r.x[0]).toBeCloseTo(3, 6);
    expect(r.x[1]).toBeCloseTo(-1, 6);
  });

  it('finds the minimum of the Rosenbrock valley', () => {
    const r = lbfgs(
      (x, g) => {
        g[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2);
        g[1] = 200 * (x[1] - x[0] ** 2);
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2;
      },
      [-1.2, 1],
      { tolerance: 1e-16 },
    );
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
  });
});

describe('registry', () => {
  it.each(['naive', 'seasonal-naive', 'seasonal-naive-weekly', 'holt-winters'] as const)('creates %s under its own name', (name) => {
    const f: Forecaster = createForecaster(name);
    expect(f.name).toBe(name);
  });

  it('parses method lists and names unknown methods', () => {
    expect(parseMethodList('naive, holt-winters,naive')).toEqual(['naive', 'holt-winters']);
    expect(() => parseMethodList('naive,arima')).toThrow(`--methods: unknown method "arima"; the methods are ${METHOD_NAMES.join(', ')}`);
    expect(() => parseMethodList('')).toThrow(InputError);
  });

  it('returns the quantile levels every method shares', () => {
    expect(QUANTILES).toEqual([0.5, 0.9, 0.99]);
  });
});
