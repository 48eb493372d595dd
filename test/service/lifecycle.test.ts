import { describe, expect, it } from '@jest/globals';
import type { Actuator, ActionRecord } from '../../src/actuators/actuator.js';
import { parseConfig } from '../../src/config/load.js';
import { pointForecast, type Forecaster } from '../../src/forecast/forecaster.js';
import type { Plan } from '../../src/plan/planner.js';
import { makeSeries, type Series } from '../../src/series/series.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import { PrescaleService, type TargetRuntime } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import type { MetricSource } from '../../src/sources/source.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

/** The cycle and the retrain share each target's state: they take turns under its lock, and a hung read has a time limit. */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const cfg = parseConfig(
  `
targets:
  - name: shop
    history: { source: csv, path: x.csv, days: 1 }
    forecast: { stepMinutes: 1 }
    actuators:
      - { kind: cloneset, namespace: default, name: web, qpsPerReplica: 100, min: 1, max: 50, leadMinutes: 2, scaleDownDelayMinutes: 0 }
  - name: cart
    history: { source: csv, path: y.csv, days: 1 }
    forecast: { stepMinutes: 1 }
    actuators:
      - { kind: cloneset, namespace: default, name: cart, qpsPerReplica: 100, min: 1, max: 50, leadMinutes: 2, scaleDownDelayMinutes: 0 }
`,
  '/tmp/c.yaml',
);
const clock = new ManualClock(T0 + 120 * MINUTE_MS);

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const history = (): Series => makeSeries(T0, MINUTE_MS, Array(Math.round((clock.now() - T0) / MINUTE_MS)).fill(1000));

function level(name: string, qps: number): LoadedModel {
  const f: Forecaster = {
    name,
    minTrainLength: 1,
    probabilistic: false,
    fit: () => Promise.resolve(),
    predict: (h, ctx) => pointForecast((ctx as Series).startMs + (ctx as Series).values.length * MINUTE_MS, MINUTE_MS, Array(h).fill(qps)),
  };
  return { forecaster: f, stepMs: MINUTE_MS, info: { kind: name, trainedAtMs: T0, backend: 'none', scores: {} } };
}

class Recorder implements Actuator {
  readonly kind = 'cloneset' as const;
  readonly model = { kind: 'cloneset' as const, qpsPerReplica: 100 };
  readonly policy = { quantile: 0.9, leadMinutes: 2, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
  constructor(readonly id: string) {}
  currentCapacity(): Promise<number> {
    return Promise.resolve(10);
  }
  apply(p: Plan, ctx: { nowMs: number; target: string }): Promise<ActionRecord[]> {
    return Promise.resolve([{ atMs: ctx.nowMs, target: ctx.target, actuator: this.id, action: 'noop', result: 'ok', detail: String(p.current.capacity) }]);
  }
}

function rig(o: { sources: Record<string, MetricSource>; models: ModelProvider; retrainHistoryTimeoutMs?: number }): { service: PrescaleService; store: StateStore } {
  const store = new StateStore();
  const targets: TargetRuntime[] = cfg.targets.map((t) => ({ config: t, source: o.sources[t.name], actuators: [new Recorder(`cloneset:default/${t.name}`)] }));
  const service = new PrescaleService({ clock, store, models: o.models, targets, dryRun: false, isLeader: () => true, retrainHistoryTimeoutMs: o.retrainHistoryTimeoutMs });
  return { service, store };
}

const plain = (): MetricSource => ({ description: 'fake', history: () => Promise.resolve(history()) });

describe('model lifecycle and cycle', () => {
  it('a retrain whose history read hangs gives up at its time limit, keeps the model, and the next target is still retrained', async () => {
    const trained: string[] = [];
    const old = level('old', 1000);
    const models: ModelProvider = {
      load: () => Promise.resolve(old),
      train: (t) => {
        trained.push(t.name);
        return Promise.resolve(level('new', 2000));
      },
      score: () => 0,
      save: () => Promise.resolve(),
    };
    let hang = false;
    const hanging: MetricSource = { description: 'hangs', history: () => (hang ? new Promise<Series>(() => undefined) : Promise.resolve(history())) };
    const { service, store } = rig({ sources: { shop: hanging, cart: plain() }, models, retrainHistoryTimeoutMs: 100 });
    await service.loadModels();
    hang = true;
    const t0 = performance.now();
    await service.retrainAll();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(trained).toEqual(['cart']);
    hang = false;
    await service.runCycle();
    expect([store.get('shop')?.model?.kind, store.get('cart')?.model?.kind]).toEqual(['old', 'new']);
  });

  it('a model trained while a cycle runs is swapped in only after that cycle; cycles during the training use the old model', async () => {
    const old = level('old', 1000);
    const fresh = level('new', 3000);
    const training = deferred<LoadedModel>();
    let loaded = false;
    const models: ModelProvider = {
      load: () => Promise.resolve(loaded ? old : undefined),
      train: () => training.promise,
      score: () => 0,
      save: () => Promise.resolve(),
    };
    // The shop's history read waits for a gate when asked to, so a cycle can be held in the middle.
    let gate: ReturnType<typeof deferred<void>> | undefined;
    const gated: MetricSource = {
      description: 'gated',
      history: async () => {
        const g = gate;
        if (g) await g.promise;
        return history();
      },
    };
    const { service, store } = rig({ sources: { shop: gated, cart: plain() }, models });
    loaded = true;
    await service.loadModels();
    const retrain = service.retrainAll(); // reads history, then waits in training (outside the lock)
    await new Promise((r) => setTimeout(r, 20));
    // A cycle during the training uses the old model: the retrain does not hold the lock while it trains.
    await service.runCycle();
    expect(store.get('shop')?.model?.kind).toBe('old');
    // Hold the next cycle inside its history read, then let the training finish.
    gate = deferred<void>();
    const cycle = service.runCycle();
    await new Promise((r) => setTimeout(r, 20));
    training.resolve(fresh);
    await new Promise((r) => setTimeout(r, 20));
    gate.resolve();
    gate = undefined;
    const decisions = await cycle;
    // The cycle that was running when the model arrived finished with the old one: its 1000 QPS plan 10 replicas,
    // the new model's 3000 QPS would plan 30.
    expect(decisions.find((d) => d.target === 'shop')?.plannedCapacity).toBe(10);
    expect(store.get('shop')?.model?.kind).toBe('old');
    await retrain;
    const next = await service.runCycle();
    expect(next.find((d) => d.target === 'shop')?.plannedCapacity).toBe(30);
    expect(store.get('shop')?.model?.kind).toBe('new');
  });
});

describe('targets added, replaced and removed while the service runs (the PredictiveScaler controller)', () => {
  function counting(): { models: ModelProvider; trained: string[]; disposed: string[]; forgotten: string[] } {
    const trained: string[] = [];
    const disposed: string[] = [];
    const forgotten: string[] = [];
    const models: ModelProvider = {
      load: () => Promise.resolve(undefined),
      train: (t) => {
        trained.push(t.name);
        const m = level(`m${trained.length}`, 1000);
        return Promise.resolve({ ...m, forecaster: { ...m.forecaster, dispose: () => void disposed.push(m.info.kind) } });
      },
      score: () => 0,
      save: () => Promise.resolve(),
      forget: (t) => {
        forgotten.push(t.name);
        return Promise.resolve();
      },
    };
    return { models, trained, disposed, forgotten };
  }
  const extra = (over: Partial<(typeof cfg.targets)[number]> = {}): TargetRuntime => ({ config: { ...cfg.targets[0], name: 'shop.extra', ...over }, source: plain(), actuators: [new Recorder('cloneset:shop/extra')] });

  it('an added target trains its model in the background and takes part in the next cycle', async () => {
    const { models, trained } = counting();
    const { service, store } = rig({ sources: { shop: plain(), cart: plain() }, models });
    await service.loadModels();
    await service.addTarget(extra());
    expect(trained).toEqual(['shop', 'cart', 'shop.extra']);
    await service.runCycle();
    expect(store.get('shop.extra')?.model?.kind).toBe('m3');
    expect(() => service.addTarget(extra())).toThrow(/exists already/);
  });

  it('a target added before the config’s models load (the controller lists first at start) is trained once, not twice', async () => {
    const trained: string[] = [];
    const gate = deferred<void>();
    const models: ModelProvider = {
      load: () => Promise.resolve(undefined),
      train: async (t) => {
        trained.push(t.name);
        if (t.name === 'shop.extra') await gate.promise; // still training when the config's models load
        return level('m', 1000);
      },
      score: () => 0,
      save: () => Promise.resolve(),
    };
    const { service } = rig({ sources: { shop: plain(), cart: plain() }, models });
    const added = service.addTarget(extra());
    await new Promise((r) => setTimeout(r, 10));
    const loading = service.loadModels();
    await new Promise((r) => setTimeout(r, 10));
    gate.resolve();
    await Promise.all([added, loading]);
    expect(trained.sort()).toEqual(['cart', 'shop', 'shop.extra']);
  });

  it('until its model is trained, an added target is forecast by the seasonal baseline, or in fallback without a day of history', async () => {
    const training = deferred<LoadedModel>();
    const models: ModelProvider = { load: () => Promise.resolve(undefined), train: () => training.promise, score: () => 0, save: () => Promise.resolve() };
    const { service, store } = rig({ sources: { shop: plain(), cart: plain() }, models });
    const twoDays: MetricSource = { description: 'two days', history: (from, to) => Promise.resolve(makeSeries(from, MINUTE_MS, Array(Math.round((to - from) / MINUTE_MS)).fill(1500))) };
    const days2 = { ...cfg.targets[0].history, days: 2 } as (typeof cfg.targets)[number]['history'];
    void service.addTarget({ ...extra({ name: 'shop.young', history: days2 }), source: twoDays });
    void service.addTarget(extra({ name: 'shop.short' })); // 2 hours of history: no season to repeat
    const decisions = await service.runCycle();
    const young = decisions.find((d) => d.target === 'shop.young');
    expect(young).toMatchObject({ fallback: null, forecastSource: 'seasonal-baseline', plannedCapacity: 15 });
    expect(store.get('shop.young')?.model).toBeUndefined();
    expect(decisions.find((d) => d.target === 'shop.short')?.fallback).toMatch(/^no model yet, and the seasonal baseline failed/);
    training.resolve(level('trained', 1000));
  });

  it('a new bound keeps the model; a new history source trains a new one and frees the old', async () => {
    const { models, trained, disposed, forgotten } = counting();
    const { service, store } = rig({ sources: { shop: plain(), cart: plain() }, models });
    await service.addTarget(extra());
    await service.replaceTarget(extra({ actuators: [{ ...cfg.targets[0].actuators[0], max: 7 }] }));
    await service.runCycle();
    expect(trained).toEqual(['shop.extra']);
    expect(store.get('shop.extra')?.model?.kind).toBe('m1');
    expect(service.targets.find((t) => t.config.name === 'shop.extra')?.config.actuators[0].max).toBe(7);
    await service.replaceTarget(extra({ history: { ...cfg.targets[0].history, days: 2 } as (typeof cfg.targets)[number]['history'] }));
    await service.runCycle();
    expect(trained).toEqual(['shop.extra', 'shop.extra']);
    expect(disposed).toEqual(['m1']);
    // The saved model was of the old history: deleted, so it is never loaded back for the new one.
    expect(forgotten).toEqual(['shop.extra']);
    expect(store.get('shop.extra')?.model?.kind).toBe('m2');
  });

  it('a removed target is never run again, its model is freed and its snapshot (the served metric) is gone, even with a cycle in flight', async () => {
    const { models, disposed, forgotten } = counting();
    const box: { gate?: ReturnType<typeof deferred<void>> } = {};
    const gated: MetricSource = {
      description: 'gated',
      history: async () => {
        const g = box.gate;
        if (g) await g.promise;
        return history();
      },
    };
    const { service, store } = rig({ sources: { shop: plain(), cart: plain() }, models });
    await service.addTarget({ ...extra(), source: gated });
    await service.runCycle();
    expect(store.get('shop.extra')).toBeDefined();
    box.gate = deferred<void>();
    const cycle = service.runCycle(); // holds shop.extra's lock, waiting in its history read
    await new Promise((r) => setTimeout(r, 20));
    const removed = service.removeTarget('shop.extra');
    box.gate.resolve();
    await Promise.all([cycle, removed]);
    expect(store.get('shop.extra')).toBeUndefined();
    expect(disposed).toEqual(['m1']);
    expect(forgotten).toEqual(['shop.extra']);
    expect(service.has('shop.extra')).toBe(false);
    const decisions = await service.runCycle();
    expect(decisions.some((d) => d.target === 'shop.extra')).toBe(false);
    expect(store.get('shop.extra')).toBeUndefined();
  });
});
