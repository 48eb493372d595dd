import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel } from '../../src/forecast/artefact.js';
import { QUANTILES, type Forecaster } from '../../src/forecast/forecaster.js';
import { DiskModelProvider } from '../../src/service/models.js';
import { PrescaleService } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { DAY_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';
import { configFor, fixedProvider, naiveModel, RecordingActuator, sabotaged, seriesUntil, SwitchableSource, T0 } from './fakes.js';

/** Model faults through the real service: predict throwing or giving NaN, a corrupt saved model, a full disk. */

const LEVEL = 2000;
const HELD = 20;

describe('model predict faults: capacity kept, recovery by itself', () => {
  it.each<[string, (inner: Forecaster) => Forecaster['predict'], RegExp]>([
    ['throws', () => () => { throw new Error('tensor shape mismatch'); }, /^forecast failed: tensor shape mismatch$/],
    ['returns NaN everywhere', (inner) => (h, c) => ({ ...inner.predict(h, c), values: QUANTILES.map(() => new Float64Array(h).fill(NaN)) }), /^implausible forecast: value NaN$/],
    ['returns -1 (unsanitised)', (inner) => (h, c) => ({ ...inner.predict(h, c), values: QUANTILES.map(() => new Float64Array(h).fill(-1)) }), /^implausible forecast: value -1$/],
  ])('predict %s: fallback holds the capacity in place, then the model is used again', async (_what, broken, reason) => {
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    const m = await naiveModel();
    const sw: { current?: Forecaster['predict'] } = {};
    const model = { ...m, forecaster: sabotaged(m.forecaster, sw) };
    const a = new RecordingActuator('shop', HELD);
    const store = new StateStore();
    const service = new PrescaleService({
      clock,
      store,
      models: fixedProvider(model),
      targets: [{ config: configFor(['shop']).targets[0], source: new SwitchableSource(() => Promise.resolve(seriesUntil(clock.now(), () => LEVEL))), actuators: [a] }],
      dryRun: false,
      isLeader: () => true,
    });
    await service.loadModels();
    expect((await service.runCycle())[0]).toMatchObject({ fallback: null, plannedCapacity: HELD });
    sw.current = broken(m.forecaster);
    for (let i = 0; i < 12; i++) {
      clock.advance(MINUTE_MS);
      const [d] = await service.runCycle();
      expect(d.fallback).toMatch(reason);
      expect(d.forecastSource).toBe('none');
      expect(d.plannedCapacity).toBeGreaterThanOrEqual(HELD);
      expect(a.replicas).toBeGreaterThanOrEqual(HELD);
    }
    expect(store.get('shop')?.fallback.reason).toMatch(reason);
    sw.current = undefined;
    clock.advance(MINUTE_MS);
    expect((await service.runCycle())[0]).toMatchObject({ fallback: null, plannedCapacity: HELD, forecastSource: 'model' });
  });
});

/** A service over DiskModelProvider (training in process, seasonal-naive: fast) with its models in `modelsDir`. */
/** A daily wave with a little deterministic noise: gives the retrain comparison finite scores. */
const wave = (t: number): number => LEVEL + 300 * Math.sin((2 * Math.PI * t) / DAY_MS) + ((t / MINUTE_MS) % 7) * 10;

function diskService(modelsDir: string, clock: ManualClock): { service: PrescaleService; actuator: RecordingActuator; store: StateStore } {
  const actuator = new RecordingActuator('shop', HELD);
  const store = new StateStore();
  const service = new PrescaleService({
    clock,
    store,
    models: new DiskModelProvider({ modelsDir, clock, inProcess: true }),
    targets: [{ config: configFor(['shop'], 'seasonal-naive').targets[0], source: new SwitchableSource(() => Promise.resolve(seriesUntil(clock.now(), wave))), actuators: [actuator] }],
    dryRun: false,
    isLeader: () => true,
  });
  return { service, actuator, store };
}

describe('a saved model that is corrupt or truncated at start', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'prescale-rel-models-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['meta.json is not JSON', (d: string) => writeFileSync(path.join(d, 'meta.json'), '{"format": 1, "kind": "seaso')],
    ['history.json is truncated', (d: string) => writeFileSync(path.join(d, 'history.json'), '{"startMs": 1767225600000, "stepMs": 60000, "values": [2000, 20')],
  ])('%s: the service trains a new model, forecasts without fallback and saves a loadable one', async (what, corrupt) => {
    const modelsDir = path.join(dir, what.replace(/\W+/g, '-'));
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    // A good model first, then damage it on disk as a crash or a bad copy would.
    const first = diskService(modelsDir, clock);
    await first.service.loadModels();
    const own = path.join(modelsDir, 'shop');
    expect(existsSync(path.join(own, 'meta.json'))).toBe(true);
    corrupt(own);
    await expect(loadModel(own)).rejects.toThrow(/\.json/);

    clock.advance(10 * MINUTE_MS);
    const restarted = diskService(modelsDir, clock);
    await restarted.service.loadModels();
    expect(restarted.service.modelsReady()).toBe(true);
    const [d] = await restarted.service.runCycle();
    expect(d).toMatchObject({ fallback: null, forecastSource: 'model' });
    const reloaded = await loadModel(own);
    expect(reloaded.meta.kind).toBe('seasonal-naive');
    expect(reloaded.meta.dataRange.endMs).toBe(clock.now());
  });
});

/** Mounts a tiny tmpfs (needs root, as this CI runs); undefined when it cannot. */
function tinyTmpfs(sizeKb: number): string | undefined {
  const at = mkdtempSync(path.join(tmpdir(), 'prescale-rel-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', at], { stdio: 'ignore' });
    return at;
  } catch {
    rmSync(at, { recursive: true, force: true });
    return undefined;
  }
}

const disk = tinyTmpfs(96);
const onTmpfs = disk ? it : it.skip;

describe('a full disk while saving a model (a 96 KiB tmpfs)', () => {
  afterAll(() => {
    if (!disk) return;
    execFileSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  });

  onTmpfs('ENOSPC on save: the retrain is logged as failed, the service keeps forecasting, the saved model on disk is the previous one and loads; after space is freed the next save lands', async () => {
    const root = disk as string;
    const modelsDir = path.join(root, 'models');
    const clock = new ManualClock(T0 + 2 * DAY_MS);
    const { service, store } = diskService(modelsDir, clock);
    await service.loadModels();
    const own = path.join(modelsDir, 'shop');
    const saved = await loadModel(own);
    expect(saved.meta.dataRange.endMs).toBe(clock.now());

    // Fill what is left of the disk.
    const filler = path.join(root, 'filler');
    const chunk = Buffer.alloc(4096, 1);
    let written = 0;
    for (;;) {
      try {
        writeFileSync(filler, chunk, { flag: 'a' });
        written += chunk.length;
      } catch (err: unknown) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
        break;
      }
    }
    expect(written).toBeGreaterThan(0);

    clock.advance(DAY_MS / 2);
    const retrainedAt = clock.now();
    await service.retrainAll(); // trains on more data, scores no worse, tries to save: ENOSPC
    const [d] = await service.runCycle();
    expect(d).toMatchObject({ fallback: null, forecastSource: 'model' });
    // The new model is in use (so its save was attempted), but the disk still holds the previous one, whole.
    expect(store.get('shop')?.model?.trainedAtMs).toBe(retrainedAt);
    const after = await loadModel(own);
    expect(after.meta.dataRange.endMs).toBe(saved.meta.dataRange.endMs);
    expect(readdirSync(modelsDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // A restart on the full disk loads the previous model.
    const restarted = diskService(modelsDir, clock);
    await restarted.service.loadModels();
    expect((await restarted.service.runCycle())[0]).toMatchObject({ fallback: null, forecastSource: 'model' });

    rmSync(filler);
    clock.advance(MINUTE_MS);
    await service.retrainAll();
    // A retrain is trained without the last day (it is compared with the current model on it).
    expect((await loadModel(own)).meta.dataRange.endMs).toBe(clock.now() - DAY_MS);
    expect(existsSync(`${own}.previous`)).toBe(true);
    mkdirSync(path.join(root, 'probe')); // the disk is usable again
  });
});
