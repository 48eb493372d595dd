import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GbdtForecaster } from '../../src/forecast/boosted.js';
import { loadModel, saveModel } from '../../src/forecast/artefact.js';
import { prepareProtocol, scoreRollingOrigins } from '../../src/forecast/evaluate.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { fillGaps, makeSeries, sliceSeries, type Series } from '../../src/series/series.js';
import { MINUTE_MS } from '../../src/util/clock.js';
import { mulberry32 } from '../../src/util/prng.js';

const STEP = 5 * MINUTE_MS;
const M = 288;
const T0 = Date.parse('2024-01-01T00:00:00Z'); // a Monday
/** Fewer, bolder rounds than the defaults keep the suite quick; the defaults are measured by bench:forecast. */
const FAST = { rounds: 80, learningRate: 0.15 };

/**
 * Daily shape on the log scale, 40 % lower at weekends, with a lunchtime burst on weekdays only and
 * multiplicative noise (sd 0.05 on the log scale): per-second rates.
 */
function traffic(days: number, seed = 7): Series {
  const r = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const v = Float64Array.from({ length: days * M }, (_, i) => {
    const j = i % M;
    const dow = (Math.floor(i / M) + 1) % 7; // 0 = Sunday
    const weekend = dow === 0 || dow === 6;
    const lunch = !weekend && j >= 144 && j < 156 ? 0.6 : 0;
    return Math.exp(4 + Math.sin((2 * Math.PI * (j - 72)) / M) + (weekend ? -0.5 : 0) + lunch + 0.05 * gauss());
  });
  return makeSeries(T0, STEP, v);
}

describe('GbdtForecaster', () => {
  const series = traffic(28);
  const d = prepareProtocol(series);
  const train = fillGaps(sliceSeries(d.actual, 0, d.trainEnd));

  it('beats the seasonal naive on weekday/weekend traffic, with a calibrated p90', async () => {
    const f = new GbdtForecaster({ stepMs: STEP, horizon: d.horizon, boost: FAST });
    await f.fit(train);
    const sn = new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP });
    await sn.fit(train);
    const g = scoreRollingOrigins(f, d);
    const s = scoreRollingOrigins(sn, d);
    expect(g.mase).toBeLessThan(0.6 * s.mase);
    expect(g.coverageP90).toBeGreaterThan(0.8);
    expect(g.coverageP90).toBeLessThan(0.98);
    expect(f.state?.dayLags).toEqual([1, 2, 7]);
  });

  it('forecasts the weekday lunchtime burst it has seen and not on a Saturday', async () => {
    const f = new GbdtForecaster({ stepMs: STEP, horizon: 6, boost: FAST });
    await f.fit(sliceSeries(series, 0, 21 * M));
    // Origins 20 min before the burst on Monday (day 21) and on Saturday (day 26).
    const monday = f.predict(6, sliceSeries(series, 0, 21 * M + 140));
    const saturday = f.predict(6, sliceSeries(series, 0, 26 * M + 140));
    const ratio = (fc: typeof monday): number => fc.values[0][5] / fc.values[0][0];
    expect(ratio(monday)).toBeGreaterThan(1.5); // the burst is ×1.8
    expect(ratio(saturday)).toBeLessThan(1.2);
    expect(monday.startMs).toBe(T0 + (21 * M + 140) * STEP);
    for (const row of monday.values) expect(row.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    for (let h = 0; h < 6; h++) expect(monday.values[1][h]).toBeGreaterThanOrEqual(monday.values[0][h]);
  });

  it('learns with fewer days (no weekly inputs), skips gaps as targets, and says what is wrong', async () => {
    const short = traffic(3);
    const values = Float64Array.from(short.values);
    values.fill(NaN, 300, 320);
    const f = new GbdtForecaster({ stepMs: STEP, horizon: 6, boost: FAST });
    await f.fit({ ...short, values });
    expect(f.state?.dayLags).toEqual([1]);
    const fc = f.predict(6);
    expect(fc.values.every((row) => row.every((v) => Number.isFinite(v) && v > 0))).toBe(true);
    await expect(new GbdtForecaster({ stepMs: STEP }).fit(sliceSeries(short, 0, M))).rejects.toThrow(/gbdt needs at least 576 points/);
    await expect(new GbdtForecaster({ stepMs: STEP, horizon: 300 }).fit(short)).rejects.toThrow(/horizon \(300 steps\) must not exceed a day \(288 steps\)/);
    expect(() => f.predict(7)).toThrow(/at most 6 steps, 7 asked/);
    expect(() => f.predict(6, sliceSeries(short, 0, 100))).toThrow(/context has 100 points, this model needs the last 289/);
    expect(() => f.predict(6, { ...short, stepMs: MINUTE_MS })).toThrow(/fitted at step 300000 ms/);
    expect(() => new GbdtForecaster().predict(6)).toThrow(/predict called before fit/);
  });

  it('saves and loads: same forecasts; a truncated trees.json is named', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prescale-gbdt-'));
    try {
      const f = new GbdtForecaster({ stepMs: STEP, horizon: 6, boost: FAST });
      const hist = traffic(9);
      await f.fit(hist);
      const meta = await saveModel(path.join(dir, 'm'), { forecaster: f, training: hist });
      expect(meta.kind).toBe('gbdt');
      expect(meta.gbdt?.rounds).toEqual(f.state?.models.map((m) => m.trees.length));
      expect(meta.gbdt?.features).toContain('target_day_of_week');
      const { forecaster } = await loadModel(path.join(dir, 'm'));
      const ctx = sliceSeries(traffic(10), 0, 9 * M + 50);
      expect(forecaster.predict(6, ctx).values).toEqual(f.predict(6, ctx).values);
      expect(forecaster.predict(6).values).toEqual(f.predict(6).values);
      const file = path.join(dir, 'm', 'trees.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { models: { trees: unknown[] }[] };
      doc.models[2].trees.pop();
      writeFileSync(file, JSON.stringify(doc));
      await expect(loadModel(path.join(dir, 'm'))).rejects.toThrow(/trees\.json: models\[2\] must hold base and \d+ trees/);
      const tangled = JSON.parse(readFileSync(file, 'utf8')) as { models: { trees: { right: number[] }[] }[] };
      doc.models[2].trees.push(tangled.models[2].trees[0]);
      (doc.models[1].trees[0] as { right: number[] }).right[0] = 0;
      writeFileSync(file, JSON.stringify(doc));
      await expect(loadModel(path.join(dir, 'm'))).rejects.toThrow(/trees\.json: models\[1\]: tree 0, node 0: needs a feature below \d+ and two children side by side/);
      writeFileSync(file, '{"models": [');
      await expect(loadModel(path.join(dir, 'm'))).rejects.toThrow(/trees\.json: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
