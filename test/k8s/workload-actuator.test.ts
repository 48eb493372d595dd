import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { CloneSetActuator, type CloneSetMode, type WorkloadKind } from '../../src/actuators/cloneset.js';
import { K8sError, KubeClient, type WorkloadRef } from '../../src/k8s/client.js';
import { isCallUsed } from '../../src/k8s/rbac.js';
import { plan, type Plan, type PlanPolicy } from '../../src/plan/planner.js';
import { forbidden, settledAudit, unlisted } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { TestCluster, type AuditEvent } from '../support/test-cluster.js';
import { deploymentYaml, idleHpaOn, installRolloutCrd, rolloutYaml } from '../support/workloads.js';

/**
 * The CloneSet actuator on workloads other than CloneSets, against the real kube-apiserver, as a service account
 * bound by deploy/base/rbac.yaml's rules: Deployments (apps/v1), whose status the control plane's own Deployment
 * and ReplicaSet controllers keep (pods stay Pending without a kubelet, so a rollout never finishes), and Argo
 * Rollouts (argoproj.io/v1alpha1) on a stand-in CRD with the upstream scale subresource, their status set here
 * as the Argo controller would report it. The kind is found through the apiserver's discovery; a kind it does not
 * serve, or one without /scale, is the apiserver's own discovery answer.
 */

const NOW = Date.UTC(2026, 10, 27, 12, 0);
const model = { kind: 'cloneset', qpsPerReplica: 200 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 100, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
const DEPLOYMENT: WorkloadKind = { apiVersion: 'apps/v1', kind: 'Deployment' };
const ROLLOUT: WorkloadKind = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' };

let cluster: TestCluster;
let NS: string;
let user: { username: string; kubeconfig: string };
let client: KubeClient;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('workload');
  user = await prescaleUser(cluster, NS);
  client = KubeClient.fromOptions({ kubeconfigPath: user.kubeconfig, requestTimeoutMs: 15_000 });
  apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
  custom = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  await installRolloutCrd(cluster);
});

afterAll(async () => {
  // Every call prescale made is one the RBAC list names, the real RBAC allowed each, and every request to a
  // non-resource URL was discovery under /apis/ (which system:discovery grants every authenticated user).
  const events = await settledAudit(cluster, { user: user.username, since: startedAt });
  await cluster.release();
  expect(unlisted(events)).toEqual([]);
  expect(forbidden(events)).toEqual([]);
  expect(nonResource(events).filter((e) => !isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: e.verb, path: e.requestURI }))).toEqual([]);
});

function nonResource(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => e.objectRef === undefined);
}

let seq = 0;
const next = (prefix: string): string => `${prefix}-${++seq}`;

async function deployment(name: string): Promise<V1Deployment> {
  return apps.readNamespacedDeployment({ namespace: NS, name });
}

async function until(cond: () => Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limitMs) throw new Error(`not reached within ${limitMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A Deployment whose controller has caught up: every replica created from the current template. Paused afterwards
 * when asked: the controller creates no ReplicaSet for a Deployment created paused.
 */
async function freshDeployment(o: { replicas: number; paused?: boolean; hpa?: boolean }): Promise<string> {
  const name = next('web');
  await cluster.apply(deploymentYaml({ namespace: NS, name, replicas: o.replicas }));
  await settled(name, o.replicas);
  if (o.paused) {
    await cluster.apply(deploymentYaml({ namespace: NS, name, replicas: o.replicas, paused: true }));
    await settled(name, o.replicas);
  }
  if (o.hpa) await cluster.apply(idleHpaOn({ namespace: NS, name: `${name}-hpa`, target: { ...DEPLOYMENT, name } }));
  return name;
}

async function settled(name: string, replicas: number): Promise<void> {
  await until(async () => {
    const d = await deployment(name);
    return d.status?.observedGeneration === d.metadata?.generation && d.status?.replicas === replicas && d.status?.updatedReplicas === replicas;
  }, `Deployment ${name} status at ${replicas} updated replicas`);
}

function actuator(name: string, workload: WorkloadKind, mode: CloneSetMode = 'direct', c: KubeClient = client): CloneSetActuator {
  return new CloneSetActuator({ namespace: NS, name, workload, mode, model, policy, scale: c, hpas: c });
}

/** The shared planner's decision for a steady observed load (no forecast: the reactive floor); 1000 QPS → 5 replicas. */
function planFor(qps: number): Plan {
  return plan({ nowMs: NOW, forecast: undefined, observedQps: qps }, model, policy);
}

const ctx = { target: 'checkout', nowMs: NOW, dryRun: false };

describe('a Deployment (apps/v1)', () => {
  it('in direct mode is scaled through /scale to the planned replicas, its id deployment:ns/name', async () => {
    const name = await freshDeployment({ replicas: 3 });
    const a = actuator(name, DEPLOYMENT);
    expect(a.id).toBe(`deployment:${NS}/${name}`);
    expect(await a.currentCapacity()).toBe(3);
    const recs = await a.apply(planFor(1000), ctx);
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'ok', 'scaled 3 → 5']]);
    expect((await deployment(name)).spec?.replicas).toBe(5);
    // The real Deployment controller follows: five pods of the one template.
    await settled(name, 5);
    const writes = cluster.audit({ user: user.username, since: startedAt }).filter((e) => e.objectRef?.name === name && e.verb === 'patch');
    expect(writes.map((e) => `${e.objectRef?.apiGroup} ${e.objectRef?.resource}/${e.objectRef?.subresource} ${e.responseStatus?.code}`)).toEqual(['apps deployments/scale 200']);
  });

  it('in direct mode is refused while an HPA targets it, the record naming the kind', async () => {
    const name = await freshDeployment({ replicas: 3, hpa: true });
    const recs = await actuator(name, DEPLOYMENT).apply(planFor(1000), ctx);
    expect(recs.map((r) => [r.action, r.result])).toEqual([['refused', 'error']]);
    expect(recs[0].detail).toBe(`mode direct refused: HPA ${name}-hpa in ${NS} targets Deployment ${name} and owns its replicas; use mode external-metric or remove the HPA`);
    expect((await deployment(name)).spec?.replicas).toBe(3);
  });

  it('is not refused by an HPA on a CloneSet of the same name (the HPA is matched by group and kind)', async () => {
    const name = await freshDeployment({ replicas: 3 });
    await cluster.apply(idleHpaOn({ namespace: NS, name: `${name}-cs-hpa`, target: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name } }));
    const recs = await actuator(name, DEPLOYMENT).apply(planFor(1000), ctx);
    expect(recs.map((r) => r.action)).toEqual(['patch-scale']);
    expect((await deployment(name)).spec?.replicas).toBe(5);
  });

  it('in external-metric mode warns, naming the kind, when no HPA targets it, and changes nothing', async () => {
    const name = await freshDeployment({ replicas: 3 });
    const recs = await actuator(name, DEPLOYMENT, 'external-metric').apply(planFor(1000), ctx);
    expect(recs.map((r) => r.action)).toEqual(['warn', 'serve-metric']);
    expect(recs[0].detail).toBe(`no HPA in ${NS} targets Deployment ${name}; the external metric is served but nothing scales on it`);
    expect((await deployment(name)).spec?.replicas).toBe(3);
  });

  it('is not scaled down while its rollout is paused (spec.paused), and may be scaled up', async () => {
    const name = await freshDeployment({ replicas: 8, paused: true });
    const a = actuator(name, DEPLOYMENT);
    const recs = await a.apply(planFor(1000), ctx);
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['hold', 'skipped', 'not scaling down 8 → 5: the rollout is paused (on hold)']]);
    expect((await deployment(name)).spec?.replicas).toBe(8);
    expect((await a.apply(planFor(2000), ctx)).map((r) => r.detail)).toEqual(['scaled 8 → 10']);
    expect((await deployment(name)).spec).toMatchObject({ replicas: 10, paused: true });
  });

  it('is not scaled down while the Deployment controller rolls out a new template (pods never ready here, so it never ends)', async () => {
    const name = await freshDeployment({ replicas: 8 });
    await cluster.apply(deploymentYaml({ namespace: NS, name, replicas: 8, image: 'registry.invalid/web:2' }));
    // maxSurge and maxUnavailable 25%: new pods beside old ones, none ever available, so the rollout stalls part way.
    let last = '';
    let stableSince = Date.now();
    await until(async () => {
      const d = await deployment(name);
      const now = `${d.status?.observedGeneration === d.metadata?.generation} ${d.status?.updatedReplicas} ${d.status?.replicas}`;
      if (now !== last) [last, stableSince] = [now, Date.now()];
      return d.status?.observedGeneration === d.metadata?.generation && (d.status?.updatedReplicas ?? 0) > 0 && Date.now() - stableSince > 2000;
    }, `Deployment ${name} stalled mid-rollout`);
    const { updatedReplicas, replicas } = (await deployment(name)).status ?? {};
    expect(updatedReplicas).toBeLessThan(replicas ?? 0);
    const recs = await actuator(name, DEPLOYMENT).apply(planFor(1000), ctx);
    expect(recs.map((r) => [r.action, r.detail])).toEqual([['hold', `not scaling down 8 → 5: rollout in progress (${updatedReplicas} of ${replicas} replicas updated)`]]);
    expect((await deployment(name)).spec?.replicas).toBe(8);
  });
});

describe('an Argo Rollout (argoproj.io/v1alpha1)', () => {
  const ref = (name: string) => ({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'rollouts', name });

  async function freshRollout(o: { replicas: number; updated?: number; paused?: boolean }): Promise<string> {
    const name = next('ro');
    await cluster.apply(rolloutYaml({ namespace: NS, name, replicas: o.replicas, paused: o.paused }));
    const updated = o.updated ?? o.replicas;
    await custom.patchNamespacedCustomObjectStatus(
      { ...ref(name), body: { status: { replicas: o.replicas, HPAReplicas: o.replicas, updatedReplicas: updated, readyReplicas: o.replicas, availableReplicas: o.replicas, selector: `app=${name}` } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    return name;
  }

  const replicasOf = async (name: string): Promise<unknown> => ((await custom.getNamespacedCustomObject(ref(name))) as { spec: { replicas: number } }).spec.replicas;

  it('in direct mode is scaled through /scale, its id rollout:ns/name', async () => {
    const name = await freshRollout({ replicas: 3 });
    const a = actuator(name, ROLLOUT);
    expect(a.id).toBe(`rollout:${NS}/${name}`);
    expect((await a.apply(planFor(1000), ctx)).map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'ok', 'scaled 3 → 5']]);
    expect(await replicasOf(name)).toBe(5);
  });

  it.each([
    ['paused (spec.paused)', { replicas: 8, paused: true }, 'the rollout is paused (on hold)'],
    ['a canary half done', { replicas: 8, updated: 4 }, 'rollout in progress (4 of 8 replicas updated)'],
  ])('is not scaled down while its rollout is %s', async (_why, o, why) => {
    const name = await freshRollout(o);
    expect((await actuator(name, ROLLOUT).apply(planFor(1000), ctx)).map((r) => r.detail)).toEqual([`not scaling down 8 → 5: ${why}`]);
    expect(await replicasOf(name)).toBe(8);
  });
});

describe('discovery of the workload kind', () => {
  const wref = (w: WorkloadKind, name = 'anything'): WorkloadRef => ({ namespace: NS, name, ...w });

  it.each([
    [
      'a kind its apiVersion does not serve',
      { apiVersion: 'apps/v1', kind: 'Deploymnet' },
      'unknown-kind',
      'workload kind Deploymnet is not served by apps/v1 (it serves: ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet)',
    ],
    [
      'an apiVersion the cluster does not serve',
      { apiVersion: 'example.com/v1', kind: 'Widget' },
      'unknown-kind',
      'workload kind Widget: apiVersion example.com/v1 is not served by the cluster (GET /apis/example.com/v1 answered 404)',
    ],
    [
      'a kind without a scale subresource',
      { apiVersion: 'apps/v1', kind: 'ControllerRevision' },
      'invalid',
      'workload kind ControllerRevision of apps/v1 (controllerrevisions) has no scale subresource; prescale scales only through /scale',
    ],
    ['a CloneSet version the CRD does not serve', { apiVersion: 'apps.kruise.io/v1beta1', kind: 'CloneSet' }, 'unknown-kind', 'workload kind CloneSet: apiVersion apps.kruise.io/v1beta1 is not served by the cluster (GET /apis/apps.kruise.io/v1beta1 answered 404)'],
  ])('names the kind and what is wrong for %s', async (_what, w, kind, message) => {
    const err = await client.getScale(wref(w)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sError);
    expect({ kind: (err as K8sError).kind, message: (err as Error).message }).toEqual({ kind, message });
    // The actuator records it and keeps the replicas; currentCapacity is unknown.
    const a = actuator('anything', w);
    const recs = await a.apply(planFor(1000), ctx);
    expect(recs.map((r) => [r.action, r.result])).toEqual([['error', 'error']]);
    expect(recs[0].detail).toBe(`cannot read ${w.kind}: ${(err as Error).message}`);
    expect(await a.currentCapacity()).toBeUndefined();
  });

  it('asks discovery once per kind and client while it succeeds, and again after a failure', async () => {
    const name = await freshDeployment({ replicas: 2 });
    const fresh = KubeClient.fromOptions({ kubeconfigPath: user.kubeconfig, requestTimeoutMs: 15_000 });
    const since = Date.now();
    await Promise.all([fresh.getScale(wref(DEPLOYMENT, name)), fresh.getWorkload(wref(DEPLOYMENT, name))]);
    await fresh.getScale(wref(DEPLOYMENT, name));
    await fresh.getScale(wref({ apiVersion: 'apps/v1', kind: 'Nope' })).catch(() => undefined);
    await fresh.getScale(wref({ apiVersion: 'apps/v1', kind: 'Nope' })).catch(() => undefined);
    const events = await settledAudit(cluster, { user: user.username, since });
    expect(nonResource(events).map((e) => e.requestURI)).toEqual(['/apis/apps/v1', '/apis/apps/v1', '/apis/apps/v1']);
    expect(events.filter((e) => e.objectRef !== undefined).map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`).sort()).toEqual([
      'get deployments',
      'get deployments/scale',
      'get deployments/scale',
    ]);
  });
});
