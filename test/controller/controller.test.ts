import { describe, expect, it } from '@jest/globals';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { PredictiveScalerController, type TargetHost } from '../../src/controller/controller.js';
import type { PredictiveScalerStatus } from '../../src/crd/predictive-scaler.js';
import type { ControllerKubeApi, PsEvent, PsInformer, PsObject } from '../../src/k8s/predictive-scalers.js';
import type { TargetRuntime } from '../../src/service/cycle.js';
import type { TargetSnapshot } from '../../src/service/state.js';
import { ManualClock } from '../../src/util/clock.js';

/**
 * The controller's own logic, with a stand-in for the API server: a watch that fails is started again, a resync
 * drops a target whose delete event was missed, only the leader writes, and Events mark transitions, not cycles.
 * The real control plane is in controller-cluster.test.ts.
 */

type Handler = (x: unknown) => void;

class FakeInformer {
  readonly handlers = new Map<string, Handler[]>();
  objects: PsObject[] = [];
  starts = 0;
  failNextStart = false;
  on(verb: string, cb: Handler): void {
    this.handlers.set(verb, [...(this.handlers.get(verb) ?? []), cb]);
  }
  off(): void {}
  start(): Promise<void> {
    this.starts++;
    if (this.failNextStart) {
      // As client-node's ListWatch does: a failed list is reported through 'error', and start() resolves.
      this.failNextStart = false;
      this.emit('error', new Error('connection refused'));
      return Promise.resolve();
    }
    for (const o of this.objects) this.emit('add', o);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  list(): readonly PsObject[] {
    return this.objects;
  }
  get(): PsObject | undefined {
    return undefined;
  }
  emit(verb: string, x: unknown): void {
    for (const h of this.handlers.get(verb) ?? []) h(x);
  }
}

class FakeApi implements ControllerKubeApi {
  readonly inf = new FakeInformer();
  readonly statuses: { name: string; status: PredictiveScalerStatus }[] = [];
  readonly events: PsEvent[] = [];
  readonly hpas = new Map<string, V2HorizontalPodAutoscaler>();
  informer(): PsInformer {
    return this.inf as unknown as PsInformer;
  }
  patchStatus(_ns: string, name: string, status: PredictiveScalerStatus): Promise<void> {
    this.statuses.push({ name, status });
    return Promise.resolve();
  }
  createEvent(e: PsEvent): Promise<void> {
    this.events.push(e);
    return Promise.resolve();
  }
  createHpa(h: V2HorizontalPodAutoscaler): Promise<void> {
    this.hpas.set(h.metadata!.name!, h);
    return Promise.resolve();
  }
  replaceHpa(h: V2HorizontalPodAutoscaler): Promise<void> {
    return this.createHpa(h);
  }
  deleteHpa(_ns: string, name: string): Promise<void> {
    this.hpas.delete(name);
    return Promise.resolve();
  }
  listHpas(): Promise<V2HorizontalPodAutoscaler[]> {
    return Promise.resolve([...this.hpas.values()]);
  }
}

class FakeHost implements TargetHost {
  readonly targets = new Map<string, TargetRuntime>();
  readonly log: string[] = [];
  has(n: string): boolean {
    return this.targets.has(n);
  }
  addTarget(r: TargetRuntime): Promise<void> {
    this.targets.set(r.config.name, r);
    this.log.push(`add ${r.config.name}`);
    return Promise.resolve();
  }
  replaceTarget(r: TargetRuntime): Promise<void> {
    this.targets.set(r.config.name, r);
    this.log.push(`replace ${r.config.name} max=${r.config.actuators[0].max}`);
    return Promise.resolve();
  }
  removeTarget(n: string): Promise<void> {
    this.targets.delete(n);
    this.log.push(`remove ${n}`);
    return Promise.resolve();
  }
}

function psObject(name: string, o: { generation?: number; maxReplicas?: number } = {}): PsObject {
  return {
    apiVersion: 'prescale.io/v1alpha1',
    kind: 'PredictiveScaler',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: o.generation ?? 1 },
    spec: {
      history: { source: 'prometheus', url: 'http://127.0.0.1:9090', query: 'up' },
      scaleTargets: [{ scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, qpsPerReplica: 100, maxReplicas: o.maxReplicas ?? 10 }],
    },
  };
}

function rig(o: { leader?: () => boolean; snapshots?: Map<string, TargetSnapshot> } = {}) {
  const api = new FakeApi();
  const host = new FakeHost();
  const snapshots = o.snapshots ?? new Map<string, TargetSnapshot>();
  const controller = new PredictiveScalerController({
    api,
    host,
    store: { get: (n) => snapshots.get(n) },
    runtimeOf: (t) => ({ config: t, source: { description: 'fake', history: () => Promise.reject(new Error('unused')) }, actuators: [] }),
    isLeader: o.leader ?? (() => true),
    clock: new ManualClock(Date.parse('2026-12-02T10:00:00Z')),
    namespaces: ['shop'],
    resyncSeconds: 3600,
    allowLocalFiles: false,
    restartDelayMs: 10,
  });
  return { api, host, controller, snapshots };
}

const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PredictiveScaler controller', () => {
  it('starts a failed watch again, and reconciles what it lists then', async () => {
    const { api, host, controller } = rig();
    api.inf.failNextStart = true;
    api.inf.objects = [psObject('web')];
    await controller.start();
    expect(host.log).toEqual([]);
    await settle();
    await controller.idle();
    expect(api.inf.starts).toBe(2);
    expect(host.log).toEqual(['add shop.web']);
    // A watch that fails later (e.g. the apiserver restarted) is started again too.
    api.inf.emit('error', new Error('watch closed: 500'));
    await settle();
    await controller.idle();
    expect(api.inf.starts).toBe(3);
    await controller.stop();
  });

  it('an edit replaces the target; a status write (no new generation) changes nothing; a missed delete is caught by the resync', async () => {
    const { api, host, controller } = rig();
    api.inf.objects = [psObject('web')];
    await controller.start();
    api.inf.emit('update', psObject('web', { generation: 2, maxReplicas: 20 }));
    api.inf.emit('update', { ...psObject('web', { generation: 2, maxReplicas: 20 }), status: { observedGeneration: 2 } });
    await controller.idle();
    expect(host.log).toEqual(['add shop.web', 'replace shop.web max=20']);
    expect(api.hpas.get('web')?.spec?.maxReplicas).toBe(20);
    // The delete event never came: the next full resync drops it.
    api.inf.objects = [];
    await (controller as unknown as { resyncAll(): Promise<void> }).resyncAll();
    expect(host.log.at(-1)).toBe('remove shop.web');
    await controller.stop();
  });

  it('a replica that is not the leader runs the target but writes no status, HPA or Event; on leadership it does', async () => {
    let leader = false;
    const { api, host, controller } = rig({ leader: () => leader });
    api.inf.objects = [psObject('web')];
    await controller.start();
    await controller.afterCycle([]);
    expect(host.has('shop.web')).toBe(true);
    expect([api.statuses.length, api.hpas.size, api.events.length]).toEqual([0, 0, 0]);
    leader = true;
    await controller.afterCycle([]);
    expect(api.hpas.has('web')).toBe(true);
    expect(api.statuses.length).toBe(1);
    expect(api.events.map((e) => e.reason)).toEqual(['HPACreated']);
    await controller.stop();
  });

  it('Events mark transitions: fallback entered and left, an actuation that starts failing; an unchanged status is not written again', async () => {
    const snapshots = new Map<string, TargetSnapshot>();
    const { api, controller } = rig({ snapshots });
    api.inf.objects = [psObject('web')];
    await controller.start();
    const snap = (fallback: boolean): TargetSnapshot =>
      ({ name: 'shop.web', updatedAtMs: 1, observedQps: 10, history: { startMs: 0, stepMs: 60_000, values: new Float64Array() }, pastForecasts: [], actuators: [], fallback: { active: fallback, reason: fallback ? 'history unavailable: timeout' : undefined }, actions: [] }) as TargetSnapshot;
    snapshots.set('shop.web', snap(false));
    await controller.afterCycle([]);
    const written = api.statuses.length;
    await controller.afterCycle([]);
    expect(api.statuses.length).toBe(written);
    snapshots.set('shop.web', snap(true));
    const failing = { target: 'shop.web', actions: [{ atMs: 1, target: 'shop.web', actuator: 'deployment:shop/web', action: 'patch-scale', result: 'error', detail: 'HTTP 403' }] } as never;
    await controller.afterCycle([failing]);
    // A reconcile between cycles (the resync) does not make the failure look new.
    await (controller as unknown as { resyncAll(): Promise<void> }).resyncAll();
    await controller.afterCycle([failing]);
    snapshots.set('shop.web', snap(false));
    await controller.afterCycle([]);
    expect(api.events.map((e) => e.reason)).toEqual(['HPACreated', 'FallbackStarted', 'ActuationFailed', 'FallbackEnded']);
    expect(api.statuses.at(-1)?.status.conditions.find((c) => c.type === 'Fallback')?.status).toBe('False');
    await controller.stop();
  });
});

describe('the restart back-off', () => {
  it('doubles while failures follow each other, up to its limit, and starts again from the base after a quiet spell', async () => {
    const { Backoff } = await import('../../src/controller/controller.js');
    let now = 0;
    const b = new Backoff(1000, 8000, () => now);
    const delays = [0, 0, 0, 0, 0].map(() => {
      const d = b.next();
      now += d + 10; // the next failure comes right after the restart
      return d;
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    now += 10 * 60_000;
    expect(b.next()).toBe(1000);
  });
});

describe('isSubset (the owned HPA compared with what the apiserver stored)', () => {
  it('ignores what the apiserver added, never a value changed or an element missing', async () => {
    const { isSubset } = await import('../../src/controller/hpa.js');
    const stored = { scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] }, scaleUp: { selectPolicy: 'Max' } };
    expect(isSubset({ scaleDown: { stabilizationWindowSeconds: 300 } }, stored)).toBe(true);
    expect(isSubset({ scaleDown: { stabilizationWindowSeconds: 60 } }, stored)).toBe(false);
    expect(isSubset({ scaleDown: { policies: [] } }, stored)).toBe(false);
    expect(isSubset([1, 2], [1, 2, 3])).toBe(false);
  });
});
