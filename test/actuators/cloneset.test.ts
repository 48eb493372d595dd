import { describe, expect, it } from '@jest/globals';
import { CloneSetActuator, DEFAULT_WORKLOAD, workloadActuatorId, type CloneSetMode, type WorkloadKind } from '../../src/actuators/cloneset.js';
import { K8sError, type HpaApi, type HpaView, type ScaleApi, type ScaleView, type WorkloadRef, type WorkloadView } from '../../src/k8s/client.js';
import { plan, type PlanPolicy } from '../../src/plan/planner.js';

/**
 * The workload actuator's kind handling without a cluster: which ref reaches the ScaleApi, its id, and that its
 * records name the kind. The Kubernetes behaviour itself is tested on the real apiserver (test/k8s/*-actuator.test.ts).
 */

const NOW = Date.UTC(2026, 10, 27, 12, 0);
const model = { kind: 'cloneset', qpsPerReplica: 200 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 100, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
const ctx = { target: 't', nowMs: NOW, dryRun: false };
const plan1000 = plan({ nowMs: NOW, forecast: undefined, observedQps: 1000 }, model, policy); // 5 replicas

/** One workload of 3 replicas; records every ref it is asked about. */
function fakeCluster(o: { hpas?: HpaView[]; workload?: Partial<WorkloadView>; getError?: K8sError } = {}): ScaleApi & HpaApi & { refs: WorkloadRef[]; patched: number[] } {
  const refs: WorkloadRef[] = [];
  const patched: number[] = [];
  const scale: ScaleView = { replicas: 3, statusReplicas: 3, resourceVersion: '7' };
  return {
    refs,
    patched,
    getScale: (ref) => (refs.push(ref), Promise.resolve(scale)),
    patchScaleReplicas: (req) => (refs.push(req.ref), patched.push(req.replicas), Promise.resolve({ ...scale, replicas: req.replicas })),
    getWorkload: (ref) => {
      refs.push(ref);
      if (o.getError) return Promise.reject(o.getError);
      return Promise.resolve({ specReplicas: 3, statusReplicas: 3, updatedReplicas: 3, paused: false, resourceVersion: '7', ...o.workload });
    },
    listHpas: () => Promise.resolve(o.hpas ?? []),
  };
}

function actuator(workload: WorkloadKind | undefined, k: ScaleApi & HpaApi, mode: CloneSetMode = 'direct'): CloneSetActuator {
  return new CloneSetActuator({ namespace: 'shop', name: 'web', workload, mode, model, policy, scale: k, hpas: k });
}

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

describe('workloadActuatorId', () => {
  it.each([
    [DEFAULT_WORKLOAD, 'cloneset:shop/web'],
    [{ apiVersion: 'apps.kruise.io/v1beta1', kind: 'CloneSet' }, 'cloneset:shop/web'],
    [DEPLOYMENT, 'deployment:shop/web'],
    [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }, 'rollout:shop/web'],
    // Only OpenKruise's CloneSet keeps the historical id.
    [{ apiVersion: 'example.com/v1', kind: 'CloneSet' }, 'cloneset:shop/web'],
  ])('%j → %s', (w, id) => {
    expect(workloadActuatorId(w, 'shop', 'web')).toBe(id);
  });
});

describe('CloneSetActuator with a workload kind', () => {
  it('defaults to an OpenKruise CloneSet, id cloneset:ns/name', async () => {
    const k = fakeCluster();
    const a = actuator(undefined, k);
    expect([a.id, a.kind]).toEqual(['cloneset:shop/web', 'cloneset']);
    expect(await a.currentCapacity()).toBe(3);
    expect(k.refs).toEqual([{ namespace: 'shop', name: 'web', apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet' }]);
  });

  it('passes the configured kind to every ScaleApi call, keeping the internal kind cloneset', async () => {
    const k = fakeCluster();
    const a = actuator(DEPLOYMENT, k);
    expect([a.id, a.kind, a.model.kind]).toEqual(['deployment:shop/web', 'cloneset', 'cloneset']);
    expect((await a.apply(plan1000, ctx)).map((r) => [r.action, r.actuator, r.detail])).toEqual([['patch-scale', 'deployment:shop/web', 'scaled 3 → 5']]);
    expect(k.patched).toEqual([5]);
    expect(new Set(k.refs.map((r) => `${r.apiVersion} ${r.kind} ${r.namespace}/${r.name}`))).toEqual(new Set(['apps/v1 Deployment shop/web']));
  });

  const hpa = (apiVersion: string, kind: string): HpaView => ({ namespace: 'shop', name: 'h', targetApiVersion: apiVersion, targetKind: kind, targetName: 'web' });

  it.each([
    ['direct, an HPA on it', 'direct', [hpa('apps/v1', 'Deployment')], {}, 'mode direct refused: HPA h in shop targets Deployment web and owns its replicas; use mode external-metric or remove the HPA'],
    ['external-metric, no HPA', 'external-metric', [hpa('apps.kruise.io/v1alpha1', 'CloneSet')], {}, 'no HPA in shop targets Deployment web; the external metric is served but nothing scales on it'],
    ['direct, gone', 'direct', [], { getError: new K8sError('deployments.apps "web" not found', 'not-found', 404) }, 'Deployment shop/web not found (deleted?): deployments.apps "web" not found'],
    ['direct, kind not served', 'direct', [], { getError: new K8sError('workload kind Deployment is not served by apps/v1', 'unknown-kind', 404) }, 'cannot read Deployment: workload kind Deployment is not served by apps/v1'],
  ] as const)('names the kind in its record (%s)', async (_case, mode, hpas, o, detail) => {
    const recs = await actuator(DEPLOYMENT, fakeCluster({ hpas: [...hpas], ...o }), mode).apply(plan1000, ctx);
    expect(recs[0].detail).toBe(detail);
  });

  it('holds a scale-down of a paused Deployment', async () => {
    const k = fakeCluster({ workload: { paused: true } });
    const recs = await actuator(DEPLOYMENT, k).apply(plan({ nowMs: NOW, forecast: undefined, observedQps: 200 }, model, policy), ctx);
    expect(recs.map((r) => [r.action, r.detail])).toEqual([['hold', 'not scaling down 3 → 1: the rollout is paused (on hold)']]);
    expect(k.patched).toEqual([]);
  });
});
