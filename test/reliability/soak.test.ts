import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/schema.js';
import { loadModel } from '../../src/forecast/artefact.js';
import { disposeForecaster, type Forecaster } from '../../src/forecast/forecaster.js';
import { initTf, liveTensorCount } from '../../src/forecast/tf-backend.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import { buildService } from '../../src/service/run.js';
import { PrescaleService } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { createClients, createTargets } from '../../src/service/wiring.js';
import { demoConfigWith } from '../../scripts/lib/demo-config.js';
import { HOUR_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';

/**
 * A short soak (the long one is `npm run bench:soak`): the demo config with 2 copies of its target, the
 * shipped model, in-memory AWS and Kubernetes really reconciled (dryRun false), 2 simulated hours of
 * one-minute cycles on a fake clock. Every cycle decides for every actuator at its minute.
 *
 * Tensors are not counted over the cycles: a forecast is the LSTM's JavaScript forward pass, which makes none,
 * so a flat count there could not fail. They are counted where they are made and must be freed: loading a model
 * and replacing it by a retrained one (below; test/forecast covers fitting, refitting and auto).
 */

const DEMO_MODEL = path.resolve('models/demo');

function config(n: number, modelsDir: string): Config {
  return demoConfigWith(n, { patch: { dryRun: false, modelsDir } });
}

/** The shipped model, loaded afresh: what a retrain hands the service (DiskModelProvider loads the child's output). */
async function freshDemo(nowMs: number): Promise<LoadedModel> {
  const { forecaster, meta } = await loadModel(DEMO_MODEL);
  return { forecaster, stepMs: meta.stepMs, info: { kind: meta.kind, trainedAtMs: nowMs, backend: meta.backend, scores: {} } };
}

describe('soak (short)', () => {
  it('2 simulated hours × 2 targets: no missed cycle, no actuation error', async () => {
    await initTf();
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-soak-test-'));
    try {
      const clock = new ManualClock(Date.parse('2026-03-02T06:00:00Z'));
      const b = await buildService(config(2, modelsDir), { clock });
      await b.service.loadModels();
      expect(b.service.modelsReady()).toBe(true);
      let cycles = 0;
      for (let m = 0; m < 120; m++) {
        const now = clock.now();
        const decisions = await b.service.runCycle();
        cycles++;
        expect(decisions).toHaveLength(4);
        for (const d of decisions) {
          expect(d.atMs).toBe(now);
          expect(d.fallback).toBeNull();
          expect(d.actions.filter((a) => a.result === 'error')).toEqual([]);
        }
        clock.advance(MINUTE_MS);
        await new Promise((r) => setImmediate(r)); // the event loop runs between cycles, as under cron
      }
      expect(cycles).toBe((2 * HOUR_MS) / MINUTE_MS);
      // The in-memory Lambda target was really reconciled: prescale's scheduled actions are there.
      const snap = b.store.get('t0');
      expect(snap?.actions.some((a) => a.result === 'ok' && a.action !== 'noop')).toBe(true);
    } finally {
      rmSync(modelsDir, { recursive: true, force: true });
    }
  }, 120_000);

  // Each retrain of a target with an LSTM used to keep the replaced model's weights forever (18, 27, 36 tensors
  // where 9 is right): the service now disposes what it drops (target-state.ts replaceModel, lifecycle.ts retrain).
  // The test after this one checks the measurement itself.
  const replacing: { heldByOne?: number; afterLoad?: number; afterRetrains: number[]; before?: number } = { afterRetrains: [] };
  it('retraining frees the model it replaces, and a candidate it rejects: the tensor count stays that of the models in use', async () => {
    await initTf();
    const clock = new ManualClock(Date.parse('2026-03-02T06:00:00Z'));
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-soak-replace-'));
    const cfg = config(1, modelsDir);
    replacing.before = liveTensorCount();
    const probe = await freshDemo(clock.now());
    replacing.heldByOne = liveTensorCount() - replacing.before;
    disposeForecaster(probe.forecaster);
    let newest: Forecaster | undefined;
    let candidateWins = true;
    const models: ModelProvider = {
      load: () => freshDemo(clock.now()),
      train: async () => {
        const m = await freshDemo(clock.now());
        newest = m.forecaster;
        return m;
      },
      // The candidate scores better (kept) or worse (rejected) than the current model, as the test asks.
      score: (m) => (m.forecaster === newest ? (candidateWins ? 0 : 2) : 1),
      save: () => Promise.resolve(),
    };
    try {
      const service = new PrescaleService({ clock, store: new StateStore(), targets: createTargets(cfg, { clients: createClients(cfg, clock), clock, startedAtMs: clock.now() }), models, dryRun: true, isLeader: () => true });
      await service.loadModels();
      replacing.afterLoad = liveTensorCount() - replacing.before;
      for (const wins of [true, true, false]) {
        candidateWins = wins;
        clock.advance(HOUR_MS);
        await service.runCycle();
        await service.retrainAll();
        replacing.afterRetrains.push(liveTensorCount() - replacing.before);
      }
      // One model in use, whatever was retrained, replaced or rejected.
      expect(replacing.afterRetrains).toEqual([replacing.heldByOne, replacing.heldByOne, replacing.heldByOne]);
    } finally {
      rmSync(modelsDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('(the measurement above ran: the shipped model holds tensors, one is held after loading, every retrain was counted)', () => {
    expect(replacing.heldByOne).toBeGreaterThan(0);
    expect(replacing.afterLoad).toBe(replacing.heldByOne);
    expect(replacing.afterRetrains).toHaveLength(3);
  });
});
