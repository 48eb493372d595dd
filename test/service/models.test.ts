import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import type { ModelMeta } from '../../src/forecast/artefact.js';
import { makeSeries } from '../../src/series/series.js';
import { DiskModelProvider, seriesCsv } from '../../src/service/models.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

const T0 = Date.parse('2026-01-05T00:00:00Z');
// Four days of a daily pattern on a rising trend at 1 min (QPS), with a gap: each day is 28.8 QPS above the last.
const history = makeSeries(T0, MINUTE_MS, Array.from({ length: 4 * 1440 }, (_, i) => (i === 100 ? NaN : 200 + 150 * Math.sin((2 * Math.PI * i) / 1440) + 0.02 * i)));

const target = parseConfig(
  `
targets:
  - name: shop
    history: { source: csv, path: x.csv }
    forecast: { model: holt-winters, stepMinutes: 5 }
    actuators: [{ kind: cloneset, namespace: default, name: web, qpsPerReplica: 100, min: 1, max: 50 }]
`,
  '/tmp/c.yaml',
).targets[0];

describe('DiskModelProvider', () => {
  it('writes a series as CSV with gaps as empty cells', () => {
    expect(seriesCsv(makeSeries(T0, MINUTE_MS, [1.5, NaN]))).toBe('timestamp,qps\n2026-01-05T00:00:00.000Z,1.5\n2026-01-05T00:01:00.000Z,\n');
  });

  it('trains in a child process, saves, loads back and scores', async () => {
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-models-'));
    const p = new DiskModelProvider({ modelsDir, clock: new ManualClock(T0 + 4 * 1440 * MINUTE_MS) });
    expect(await p.load(target)).toBeUndefined();
    const m = await p.train(target, history);
    expect(m.stepMs).toBe(5 * MINUTE_MS);
    expect(m.info.kind).toBe('holt-winters');
    await p.save(target, m);
    expect(existsSync(path.join(modelsDir, 'shop', 'meta.json'))).toBe(true);
    const back = await p.load(target);
    expect(back?.info.kind).toBe('holt-winters');
    const ctx = makeSeries(T0, 5 * MINUTE_MS, Array.from({ length: 4 * 288 }, (_, i) => 200 + 150 * Math.sin((2 * Math.PI * i) / 288)));
    expect(Array.from(back!.forecaster.predict(6, ctx).values[0])).toEqual(Array.from(m.forecaster.predict(6, ctx).values[0]));
    const mase = p.score(m, history, T0 + 3 * 1440 * MINUTE_MS);
    expect(mase).toBeGreaterThanOrEqual(0);
    expect(mase).toBeLessThan(1); // the trend is learnt: better than repeating the day before
  }, 120_000);

  it("saves what auto decided (holdout scores, its selection, the band) and loads back the same quantiles", async () => {
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-models-'));
    const p = new DiskModelProvider({ modelsDir, clock: new ManualClock(T0 + 4 * 1440 * MINUTE_MS), inProcess: true, extra: { epochs: 1, units: 4, window: 12 } });
    const auto = { ...target, forecast: { ...target.forecast, model: 'auto' as const } };
    const m = await p.train(auto, history);
    await p.save(auto, m);
    const meta = JSON.parse(readFileSync(path.join(modelsDir, 'shop', 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.chosenBy).toBe('auto');
    expect(Object.keys(meta.scores ?? {})).toEqual(expect.arrayContaining(['lstm', 'holt-winters', 'naive']));
    expect(meta.band === undefined).toBe(['seasonal-naive', 'naive'].includes(meta.kind));
    expect(meta.selection?.chosen).toBe(meta.kind);
    expect(Object.keys(meta.scores ?? {})).toContain(meta.selection?.lowest);
    const back = await p.load(auto);
    // The dashboard's "p90 band" row: the same from the trained model and from what was saved.
    expect(m.info.band?.exponent).toBe(meta.band?.exponent);
    expect(back?.info.band).toEqual(m.info.band);
    const ctx = makeSeries(T0, 5 * MINUTE_MS, Array.from({ length: 4 * 288 }, (_, i) => 200 + 150 * Math.sin((2 * Math.PI * i) / 288)));
    const want = m.forecaster.predict(6, ctx);
    const got = back!.forecaster.predict(6, ctx);
    for (let q = 0; q < 3; q++) expect(Array.from(got.values[q])).toEqual(Array.from(want.values[q]));
  }, 120_000);

  it('names the failing child when training fails', async () => {
    const p = new DiskModelProvider({ modelsDir: mkdtempSync(path.join(tmpdir(), 'prescale-models-')), clock: new ManualClock(T0) });
    await expect(p.train(target, makeSeries(T0, MINUTE_MS, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).rejects.toThrow(/train shop exited with 2/);
  }, 60_000);
});
