import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../../src/forecast/artefact.js';
import { BandForecaster } from '../../src/forecast/band.js';
import { EnsembleForecaster } from '../../src/forecast/ensemble.js';
import { unwrap } from '../../src/forecast/forecaster.js';
import { HoltWintersForecaster, holtWintersKind } from '../../src/forecast/holt-winters.js';
import { KIND_NAMES, KINDS, MODEL_KINDS } from '../../src/forecast/kinds.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { METHOD_NAMES, availableMethods } from '../../src/forecast/registry.js';
import { AutoForecaster, CANDIDATES } from '../../src/forecast/select.js';
import { initTf } from '../../src/forecast/tf-backend.js';
import type { Series } from '../../src/series/series.js';
import { InputError } from '../../src/util/errors.js';

const STEP = 60 * 60_000; // hourly keeps a day at 24 points
const series: Series = {
  startMs: Date.UTC(2024, 0, 1),
  stepMs: STEP,
  values: Float64Array.from({ length: 8 * 24 }, (_, i) => 100 + 50 * Math.sin((2 * Math.PI * i) / 24) + ((i * 7919) % 11)),
};

let dir: string;

beforeAll(async () => {
  await initTf();
  dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-kinds-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the table of model kinds', () => {
  it('is where the registry, auto and the artefact reader get their names', async () => {
    expect(KIND_NAMES).toEqual(['lstm', 'holt-winters', 'gbdt', 'ensemble', 'seasonal-naive', 'seasonal-naive-weekly', 'naive']);
    expect(METHOD_NAMES).toEqual(['auto', ...KIND_NAMES]);
    expect(availableMethods()).toEqual(METHOD_NAMES);
    expect(CANDIDATES).toEqual(KIND_NAMES);
    const out = path.join(dir, 'unknown-kind');
    const a = new NaiveForecaster();
    await a.fit(series);
    await saveModel(out, { forecaster: a, training: series });
    const metaFile = path.join(out, 'meta.json');
    writeFileSync(metaFile, JSON.stringify({ ...(JSON.parse(readFileSync(metaFile, 'utf8')) as object), kind: 'arima' }));
    await expect(loadModel(out)).rejects.toThrow(`${metaFile}: kind must be one of ${KIND_NAMES.join(', ')}, "arima" given`);
  });

  it.each(MODEL_KINDS.map((k) => [k.name, k] as const))('%s: create builds a forecaster of its own name', (name, kind) => {
    expect(kind.create({ stepMs: STEP, horizon: 2 }, KINDS).name).toBe(name);
  });

  it("a kind refuses another kind's forecaster, and saving a forecaster of no kind says so", async () => {
    const naive = new NaiveForecaster();
    await naive.fit(series);
    await expect(holtWintersKind.save(naive, { dir, training: series }, KINDS)).rejects.toThrow('cannot save a naive forecaster as kind holt-winters');
    await expect(saveModel(path.join(dir, 'auto-unfitted'), { forecaster: new AutoForecaster({ stepMs: STEP }), training: series })).rejects.toThrow('cannot save a forecaster of kind auto');
    const nested = new EnsembleForecaster([new EnsembleForecaster([naive, naive], { fitted: true }), naive], { fitted: true });
    await expect(saveModel(path.join(dir, 'nested'), { forecaster: nested, training: series })).rejects.toThrow('cannot save an ensemble inside an ensemble');
  });

  it("names an ensemble member's key when its saved state is bad", async () => {
    const hw = new HoltWintersForecaster({ stepMs: STEP });
    await hw.fit(series);
    const naive = new NaiveForecaster();
    await naive.fit(series);
    const out = path.join(dir, 'ensemble');
    await saveModel(out, { forecaster: new EnsembleForecaster([naive, hw], { fitted: true }), training: series });
    const metaFile = path.join(out, 'meta.json');
    const doc = JSON.parse(readFileSync(metaFile, 'utf8')) as { ensemble: { members: Record<string, unknown>[] } };
    expect(doc.ensemble.members.map((m) => Object.keys(m))).toEqual([['kind', 'dir'], ['kind', 'dir', 'holtWinters']]);
    const member = doc.ensemble.members[1] as { holtWinters: Record<string, unknown> };
    member.holtWinters = { ...member.holtWinters, mse: 'x' };
    writeFileSync(metaFile, JSON.stringify(doc));
    await expect(loadModel(out)).rejects.toThrow(InputError);
    await expect(loadModel(out)).rejects.toThrow(`${metaFile}: ensemble.members[1].holtWinters.mse must be a number, "x" given`);
  });
});

describe("auto's pick, typed", () => {
  it('wraps the fitted winner inside its band; unwrap gives the model, the pick and the band; saving keeps both', async () => {
    const auto = new AutoForecaster({ stepMs: STEP, horizon: 2, candidates: ['holt-winters', 'naive'], band: { targetUfr: 0.01 } });
    expect(auto.wraps).toBeUndefined();
    await auto.fit(series);
    const { model, chosen, band } = unwrap(auto);
    expect(chosen).toBe(auto.chosen);
    expect(model.name).toBe(auto.chosen);
    expect(model).not.toBeInstanceOf(BandForecaster);
    expect(band).toBe(auto.band);
    const out = path.join(dir, 'auto');
    const meta = await saveModel(out, { forecaster: auto, training: series });
    expect(meta.kind).toBe(chosen);
    expect(meta.band).toEqual(band);
  });
});
