import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../../src/forecast/artefact.js';
import { BandForecaster } from '../../src/forecast/band.js';
import { GbdtForecaster } from '../../src/forecast/boosted.js';
import { EnsembleForecaster } from '../../src/forecast/ensemble.js';
import { disposeForecaster, type Forecaster } from '../../src/forecast/forecaster.js';
import { HoltWintersForecaster } from '../../src/forecast/holt-winters.js';
import { LstmForecaster } from '../../src/forecast/lstm.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { initTf, liveTensorCount } from '../../src/forecast/tf-backend.js';
import type { Series } from '../../src/series/series.js';
import { InputError } from '../../src/util/errors.js';

const STEP = 15 * 60_000;
const DAY = 96;
const series: Series = {
  startMs: Date.UTC(2024, 0, 1),
  stepMs: STEP,
  values: Float64Array.from({ length: 4 * DAY }, (_, i) => 50 + 30 * Math.sin((2 * Math.PI * i) / DAY) + ((i * 7919) % 13)),
};

let dir: string;
let lstmDir: string;
let lstm: LstmForecaster;

beforeAll(async () => {
  await initTf();
  dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-artefact-'));
  lstm = new LstmForecaster({ stepMs: STEP, horizon: 2, window: 6, units: 4, epochs: 2, seed: 5 });
  await lstm.fit(series);
  lstmDir = path.join(dir, 'lstm');
  await saveModel(lstmDir, { forecaster: lstm, training: series, info: { chosenBy: 'forced', trace: 'x.csv' } });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A saved naive model whose meta.json then gets `patch` over its keys (a hand-edited or corrupt artefact). */
async function naiveModelWithMeta(prefix: string, patch: Record<string, unknown>): Promise<{ out: string; metaFile: string }> {
  const out = path.join(dir, `${prefix}-${Math.random().toString(36).slice(2)}`);
  const a = new NaiveForecaster();
  await a.fit(series);
  await saveModel(out, { forecaster: a, training: series });
  const metaFile = path.join(out, 'meta.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(metaFile, JSON.stringify({ ...meta, ...patch }));
  return { out, metaFile };
}

function expectSamePredictions(a: Forecaster, b: Forecaster, horizon: number): void {
  const fa = a.predict(horizon, series);
  const fb = b.predict(horizon, series);
  expect(fb.startMs).toBe(fa.startMs);
  for (let q = 0; q < 3; q++) expect(Array.from(fb.values[q])).toEqual(Array.from(fa.values[q]));
}

describe('model artefacts', () => {
  it('round-trips an LSTM: save → load → identical predictions', async () => {
    expect(['model.json', 'weights.bin', 'meta.json'].every((f) => existsSync(path.join(lstmDir, f)))).toBe(true);
    const { forecaster, meta } = await loadModel(lstmDir);
    expectSamePredictions(lstm, forecaster, 2);
    expect(meta.kind).toBe('lstm');
    expect(meta.lstm?.window).toBe(6);
    expect(meta.lstm?.mu).toBeCloseTo(lstm.state!.mu, 12);
    expect(meta.dataRange.points).toBe(series.values.length);
    expect(meta.codeVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(meta.trace).toBe('x.csv');
  });

  it.each([
    ['holt-winters', (): Forecaster => new HoltWintersForecaster({ stepMs: STEP })],
    ['seasonal-naive', (): Forecaster => new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP })],
    ['naive', (): Forecaster => new NaiveForecaster()],
  ])('round-trips %s from its parameters and training series', async (name, make) => {
    const f = make();
    await f.fit(series);
    const out = path.join(dir, name);
    await saveModel(out, { forecaster: f, training: series });
    const { forecaster, meta } = await loadModel(out);
    expect(meta.kind).toBe(name);
    expectSamePredictions(f, forecaster, 4);
  });

  it('keeps what a Holt-Winters fit found in meta.json, loads files written without it, and names a bad entry', async () => {
    const hw = new HoltWintersForecaster({ stepMs: STEP });
    await hw.fit(series);
    const out = path.join(dir, 'hw-saved');
    const meta = await saveModel(out, { forecaster: hw, training: series });
    expect(meta.holtWinters?.start?.season).toHaveLength(DAY);
    expect(meta.holtWinters?.start?.level).toBe(hw.fitted!.start.level);
    expect(meta.holtWinters?.residualQuantiles).toEqual(hw.fitted!.residualQuantiles);
    expectSamePredictions(hw, (await loadModel(out)).forecaster, 4);
    // A file from before the start state was saved: the load estimates it again, to the same forecasts.
    const metaFile = path.join(out, 'meta.json');
    const doc = JSON.parse(readFileSync(metaFile, 'utf8')) as { holtWinters: Record<string, unknown> };
    writeFileSync(metaFile, JSON.stringify({ ...doc, holtWinters: { params: doc.holtWinters.params } }));
    expectSamePredictions(hw, (await loadModel(out)).forecaster, 4);
    writeFileSync(metaFile, JSON.stringify({ ...doc, holtWinters: { ...doc.holtWinters, start: { level: 1, trend: 0, season: [1, 'x'] } } }));
    await expect(loadModel(out)).rejects.toThrow(/meta\.json: holtWinters\.start must hold numbers level and trend and an array of numbers season/);
    writeFileSync(metaFile, JSON.stringify({ ...doc, holtWinters: { ...doc.holtWinters, mse: null } }));
    await expect(loadModel(out)).rejects.toThrow(/holtWinters\.mse must be a number, null given/);
    writeFileSync(metaFile, JSON.stringify({ ...doc, holtWinters: { ...doc.holtWinters, start: { level: 1, trend: 0, season: [1, 2] } } }));
    await expect(loadModel(out)).rejects.toThrow(/meta\.json: holtWinters\.start\.season has 2 slots, a day has 96 steps of 15 min/);
  });

  it("round-trips auto's ensemble (the LSTM, Holt-Winters and gbdt), each member in its own directory", async () => {
    const hw = new HoltWintersForecaster({ stepMs: STEP });
    await hw.fit(series);
    const gbdt = new GbdtForecaster({ stepMs: STEP, horizon: 2 });
    await gbdt.fit(series);
    const ens = new EnsembleForecaster([lstm, hw, gbdt], { fitted: true });
    const out = path.join(dir, 'ensemble');
    await saveModel(out, { forecaster: ens, training: series });
    expect(existsSync(path.join(out, 'member-0', 'weights.bin'))).toBe(true);
    expect(existsSync(path.join(out, 'member-1', 'history.json'))).toBe(true);
    expect(existsSync(path.join(out, 'member-2', 'trees.json'))).toBe(true);
    const { forecaster, meta } = await loadModel(out);
    expect(meta.kind).toBe('ensemble');
    expect(meta.horizon).toBe(2);
    expect(meta.ensemble?.members.map((m) => m.kind)).toEqual(['lstm', 'holt-winters', 'gbdt']);
    expectSamePredictions(ens, forecaster, 2);
  });

  it.each([
    [{ members: [] }, /an ensemble model needs ensemble.members, at least two/],
    [{ members: [{ kind: 'naive', dir: 'member-0' }, { kind: 'naive', dir: '../x' }] }, /ensemble.members\[1\] needs dir "member-<n>"/],
    [{ members: [{ kind: 'ensemble', dir: 'member-0' }, { kind: 'naive', dir: 'member-1' }] }, /ensemble.members\[0\].kind must be one of lstm, holt-winters, gbdt, seasonal-naive/],
    [{ members: [{ kind: 'lstm', dir: 'member-0' }, { kind: 'naive', dir: 'member-1' }] }, /ensemble.members\[0\]: an lstm model needs the "lstm" section/],
  ])('rejects a bad ensemble section %j, naming the key', async (section, message) => {
    const { out } = await naiveModelWithMeta('bad-ensemble', { kind: 'ensemble', ensemble: section });
    await expect(loadModel(out)).rejects.toThrow(message);
  });

  it("saves auto's band calibration in meta.json and applies it again on load", async () => {
    const hw = new HoltWintersForecaster({ stepMs: STEP });
    await hw.fit(series);
    const scores = { ufr: 0.2, peakRatio: 1.1, coverageP90: 0.9 };
    const banded = new BandForecaster(hw, { exponent: 1.5, targetUfr: 0.1, holdout: { before: scores, after: { ...scores, ufr: 0.1 } } });
    const out = path.join(dir, 'banded');
    await saveModel(out, { forecaster: banded, training: series });
    const { forecaster, meta } = await loadModel(out);
    expect(meta.kind).toBe('holt-winters');
    expect(meta.band?.exponent).toBe(1.5);
    expect(forecaster).toBeInstanceOf(BandForecaster);
    expectSamePredictions(banded, forecaster, 4);
    expect(forecaster.predict(4, series).values[1][0]).toBeGreaterThan(hw.predict(4, series).values[1][0]);
  });

  it.each([[0.5], ['wide'], [null]])('rejects band.exponent %j, naming the key and the rule', async (exponent) => {
    const { out, metaFile } = await naiveModelWithMeta('bad-band', { band: { exponent } });
    await expect(loadModel(out)).rejects.toThrow(`${metaFile}: band.exponent must be a number of at least 1`);
  });

  it('keeps the previous version as DIR.previous', async () => {
    const out = path.join(dir, 'versions');
    const a = new NaiveForecaster();
    await a.fit(series);
    await saveModel(out, { forecaster: a, training: series, info: { trace: 'first' } });
    await saveModel(out, { forecaster: a, training: series, info: { trace: 'second' } });
    expect((await loadModel(out)).meta.trace).toBe('second');
    expect((await loadModel(`${out}.previous`)).meta.trace).toBe('first');
  });

  it('names the file when meta.json is corrupt', async () => {
    const out = path.join(dir, 'corrupt');
    const a = new NaiveForecaster();
    await a.fit(series);
    await saveModel(out, { forecaster: a, training: series });
    const metaFile = path.join(out, 'meta.json');
    writeFileSync(metaFile, readFileSync(metaFile, 'utf8').slice(0, 40));
    await expect(loadModel(out)).rejects.toThrow(InputError);
    await expect(loadModel(out)).rejects.toThrow(metaFile);
  });

  it('names the weights file when it is truncated', async () => {
    const out = path.join(dir, 'truncated');
    await saveModel(out, { forecaster: lstm, training: series });
    const weights = path.join(out, 'weights.bin');
    truncateSync(weights, 100);
    await expect(loadModel(out)).rejects.toThrow(new RegExp(`${weights.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 100 bytes where model.json describes \\d+`));
  });

  it('a loaded model holds only its weights, and disposing it frees them (an undisposed one stays counted)', async () => {
    const before = liveTensorCount();
    const { forecaster } = await loadModel(lstmDir);
    expect(liveTensorCount() - before).toBe(lstm.layersModel!.weights.length);
    disposeForecaster(forecaster);
    expect(liveTensorCount()).toBe(before);
    // The shipped demo: an ensemble whose first member is an LSTM, inside auto's band when it has one.
    const demo = await loadModel(path.resolve('models/demo'));
    const held = liveTensorCount() - before;
    expect(held).toBeGreaterThan(0);
    disposeForecaster(demo.forecaster);
    expect(liveTensorCount()).toBe(before);
    const again = await loadModel(path.resolve('models/demo'));
    expect(liveTensorCount() - before).toBe(held);
    disposeForecaster(again.forecaster);
  });

  it('says so when the directory does not exist', async () => {
    await expect(loadModel(path.join(dir, 'nope'))).rejects.toThrow(/no such model directory/);
  });
});
