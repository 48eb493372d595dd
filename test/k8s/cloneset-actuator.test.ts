import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { CloneSetActuator, hpaTargets, rolloutInProgress, type CloneSetMode } from '../../src/actuators/cloneset.js';
import { KubeClient } from '../../src/k8s/client.js';
import { plan, type Plan, type PlanPolicy } from '../../src/plan/planner.js';
import { forbidden, settledAudit, unlisted } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { startKubeFaultProxy, type KubeFaultProxy } from '../support/kube-fault-proxy.js';
import { cloneSetYaml, idleHpaYaml, TestCluster } from '../support/test-cluster.js';

/**
 * The CloneSet actuator against the real kube-apiserver, with the CloneSet CRD of OpenKruise v1.9.0 and
 * prescale's requests sent as a service account bound by deploy/base/rbac.yaml's rules. Faults the apiserver
 * will not produce on demand (a 409 twice, 403, 500, a request that never answers, a CloneSet deleted between
 * two requests) come from a fault proxy in front of it; everything else is the apiserver's own answer. No
 * kruise-manager runs here: the CloneSets' status is set by the test (rollouts) or kept in step with
 * spec.replicas by `keepCloneSetStatus`, as kruise-manager would report once pods are ready.
 */

const NOW = Date.UTC(2026, 10, 27, 12, 0);
const model = { kind: 'cloneset', qpsPerReplica: 200 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 100, scaleDownDelayMinutes: 0, maxStepUp: Infinity };

let cluster: TestCluster;
let NS: string;
let proxy: KubeFaultProxy;
let user: { username: string };
let client: KubeClient;
/** A short request timeout only where a hung request is injected; elsewhere a loaded machine must not time out. */
let shortClient: KubeClient;
let admin: CustomObjectsApi;
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('actuator');
  proxy = await startKubeFaultProxy(cluster.info);
  const u = await prescaleUser(cluster, NS, { server: proxy.server });
  user = u;
  client = KubeClient.fromOptions({ kubeconfigPath: u.kubeconfig, requestTimeoutMs: 15_000 });
  shortClient = KubeClient.fromOptions({ kubeconfigPath: u.kubeconfig, requestTimeoutMs: 1_500 });
  admin = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  cluster.keepCloneSetStatus(NS);
});

afterAll(async () => {
  await proxy?.close();
  // The apiserver's audit log is the record of what prescale called: every call must be one the RBAC list
  // (which the deploy manifests are checked against) names, and the real RBAC must have allowed each.
  const events = await settledAudit(cluster, { user: user.username, since: startedAt });
  await cluster.release();
  expect(events.length).toBeGreaterThan(20);
  expect(unlisted(events)).toEqual([]);
  expect(forbidden(events)).toEqual([]);
});

let seq = 0;
/**
 * A fresh CloneSet per test, so tests sharing the namespace do not see each other's changes. With
 * `updatedReplicas` the test sets the status itself (a rollout in progress); else the keeper follows the spec.
 */
async function fresh(o: { replicas: number; updatedReplicas?: number; paused?: boolean; hpa?: boolean }): Promise<string> {
  seq += 1;
  const name = `inventory-${seq}`;
  const manual = o.updatedReplicas !== undefined;
  await cluster.apply(cloneSetYaml({ namespace: NS, name, replicas: o.replicas, paused: o.paused, manualStatus: manual }));
  if (manual) await setStatus(name, o.replicas, o.updatedReplicas ?? o.replicas);
  else await until(async () => (await statusOf(name)).replicas === o.replicas);
  if (o.hpa) await cluster.apply(idleHpaYaml({ namespace: NS, name: `${name}-hpa`, cloneSet: name }));
  return name;
}

const ref = (name: string) => ({ group: 'apps.kruise.io', version: 'v1alpha1', namespace: NS, plural: 'clonesets', name });

async function setStatus(name: string, replicas: number, updated: number): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
  await admin.patchNamespacedCustomObjectStatus(
    { ...ref(name), body: { status: { replicas, readyReplicas: replicas, availableReplicas: replicas, updatedReplicas: updated, updatedReadyReplicas: updated, labelSelector: `app=${name}` } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

async function object(name: string): Promise<Record<string, Record<string, unknown>>> {
  return (await admin.getNamespacedCustomObject(ref(name))) as Record<string, Record<string, unknown>>;
}

async function replicasOf(name: string): Promise<unknown> {
  return (await object(name)).spec.replicas;
}

async function statusOf(name: string): Promise<Record<string, unknown>> {
  return (await object(name)).status ?? {};
}

async function until(cond: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limitMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function actuator(name: string, mode: CloneSetMode, c: KubeClient = client): CloneSetActuator {
  return new CloneSetActuator({ namespace: NS, name, mode, model, policy, scale: c, hpas: c });
}

/** The shared planner's decision for a steady observed load (no forecast: the reactive floor). */
function planFor(qps: number): Plan {
  return plan({ nowMs: NOW, forecast: undefined, observedQps: qps }, model, policy);
}

async function deleteCloneSet(name: string): Promise<void> {
  await cluster.kubectlOk(['delete', 'clonesets.apps.kruise.io', name, '-n', NS, '--wait=true']);
}

function callsFor(name: string, verb: string) {
  return proxy.calls.filter((c) => c.name === name && c.verb === verb);
}

const ctx = (dryRun = false) => ({ target: 'checkout', nowMs: NOW, dryRun });

describe('CloneSetActuator, mode external-metric', () => {
  it('records the served metric and changes nothing when an HPA owns the replicas', async () => {
    const name = await fresh({ replicas: 3, hpa: true });
    const recs = await actuator(name, 'external-metric').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['serve-metric', 'ok']]);
    expect(recs[0].data).toMatchObject({ desiredReplicas: 5, servedQps: 1000 });
    expect(await replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toHaveLength(0);
  });

  it('warns when no HPA targets the CloneSet, still without patching', async () => {
    const name = await fresh({ replicas: 3 });
    const recs = await actuator(name, 'external-metric').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['warn', 'serve-metric']);
    expect(recs[0].detail).toContain(`targets CloneSet ${name}`);
    expect(await replicasOf(name)).toBe(3);
  });
});

describe('CloneSetActuator, mode direct', () => {
  it('merge-patches /scale up to the planned replicas when no HPA targets the CloneSet', async () => {
    const name = await fresh({ replicas: 3 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'ok', 'scaled 3 → 5']]);
    expect(await replicasOf(name)).toBe(5);
    const patch = callsFor(name, 'patch')[0];
    expect(patch).toMatchObject({ subresource: 'scale', contentType: 'application/merge-patch+json', status: 200, injected: false });
  });

  it('refuses with a clear record when an HPA targets the CloneSet', async () => {
    const name = await fresh({ replicas: 3, hpa: true });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ action: 'refused', result: 'error' });
    expect(recs[0].detail).toContain(`HPA ${name}-hpa`);
    expect(recs[0].detail).toContain('external-metric');
    expect(await replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toHaveLength(0);
  });

  it('does nothing when already at the planned replicas', async () => {
    const name = await fresh({ replicas: 5 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['noop']);
    expect(callsFor(name, 'patch')).toHaveLength(0);
  });

  it('in dry run records what it would do and sends no patch', async () => {
    const name = await fresh({ replicas: 3 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx(true));
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'dry-run', 'would scale 3 → 5']]);
    expect(await replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toHaveLength(0);
  });

  it.each([
    ['rollout in progress', { replicas: 8, updatedReplicas: 4 }],
    ['update strategy paused', { replicas: 8, paused: true }],
  ])('never scales down during a rollout (%s), and leaves the update strategy alone', async (_why, o) => {
    const name = await fresh(o);
    const before = JSON.stringify((await object(name)).spec.updateStrategy);
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['hold', 'skipped']]);
    expect(recs[0].detail).toContain('not scaling down 8 → 5');
    expect(await replicasOf(name)).toBe(8);
    expect(JSON.stringify((await object(name)).spec.updateStrategy)).toBe(before);
  });

  it('scales up during a rollout and leaves the update strategy alone', async () => {
    const name = await fresh({ replicas: 2, updatedReplicas: 1, paused: true });
    const before = JSON.stringify((await object(name)).spec.updateStrategy);
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['patch-scale']);
    expect(await replicasOf(name)).toBe(5);
    expect(JSON.stringify((await object(name)).spec.updateStrategy)).toBe(before);
  });

  it('on a real 409 (the CloneSet changed after it was read) re-reads and retries once', async () => {
    const name = await fresh({ replicas: 3 });
    // Another writer bumps the object right after our scale read: our patch carries a stale resourceVersion.
    proxy.after({ verb: 'get', subresource: 'scale', name }, async () => {
      await cluster.kubectlOk(['label', 'clonesets.apps.kruise.io', name, '-n', NS, 'touched=yes']);
    });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([
      ['conflict', 'error'],
      ['patch-scale', 'ok'],
    ]);
    // Both answers are the apiserver's own: the first patch carried the resourceVersion read before the label.
    expect(callsFor(name, 'patch').map((c) => [c.status, c.injected])).toEqual([
      [409, false],
      [200, false],
    ]);
    expect(await replicasOf(name)).toBe(5);
  });

  it('after a second 409 gives up for this cycle and keeps the current replicas', async () => {
    const name = await fresh({ replicas: 3 });
    proxy.inject(409, 2, { verb: 'patch', name });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([
      ['conflict', 'error'],
      ['error', 'error'],
    ]);
    expect(recs[1].detail).toContain('replicas left at 3');
    expect(await replicasOf(name)).toBe(3);
  });

  it.each([
    [403, 'Forbidden', { verb: 'patch' }],
    [500, 'InternalError', { verb: 'patch' }],
    ['timeout', 'timed out', { verb: 'patch' }],
    [403, 'cannot list HPAs', { verb: 'list' }],
    ['timeout', 'cannot read CloneSet', { verb: 'get', subresource: 'scale' }],
  ] as const)('%s on %j: records an error and keeps the current replicas', async (fault, text, match) => {
    const name = await fresh({ replicas: 3 });
    proxy.inject(fault, 1, { ...match, name: match.verb === 'list' ? undefined : name });
    const recs = await actuator(name, 'direct', fault === 'timeout' ? shortClient : client).apply(planFor(1000), ctx());
    expect(recs.map((r) => r.result)).toEqual(['error']);
    expect(recs[0].detail).toContain(text);
    expect(await replicasOf(name)).toBe(3);
    proxy.clearFaults();
  });

  it('survives the CloneSet being deleted mid-cycle (after the rollout read)', async () => {
    const name = await fresh({ replicas: 3 });
    proxy.after({ verb: 'get', subresource: '', name }, () => deleteCloneSet(name));
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['error', 'error']]);
    expect(recs[0].detail).toContain('not found (deleted?)');
  });

  it('survives the CloneSet being deleted between the read and the patch', async () => {
    const name = await fresh({ replicas: 3 });
    proxy.after({ verb: 'get', subresource: 'scale', name }, () => deleteCloneSet(name));
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['error', 'error']]);
    expect(recs[0].detail).toContain('CloneSet deleted before the patch');
    expect(recs[0].detail).toContain('NotFound');
  });
});

describe('currentCapacity', () => {
  it('is the /scale spec.replicas, and undefined when the CloneSet cannot be read', async () => {
    const name = await fresh({ replicas: 3, updatedReplicas: 3 });
    await cluster.kubectlOk(['patch', 'clonesets.apps.kruise.io', name, '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":7}}']);
    expect(await actuator(name, 'direct').currentCapacity()).toBe(7);
    expect(await actuator('no-such-cloneset', 'direct').currentCapacity()).toBeUndefined();
  });
});

describe('hpaTargets and rolloutInProgress', () => {
  const NS = 'shop';
  const h = { namespace: NS, name: 'h', targetApiVersion: 'apps.kruise.io/v1alpha1', targetKind: 'CloneSet', targetName: 'inv' };
  const cloneSet = { namespace: NS, apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'inv' };
  const deployment = { namespace: NS, apiVersion: 'apps/v1', kind: 'Deployment', name: 'inv' };
  it.each([
    [h, cloneSet, true],
    [{ ...h, targetApiVersion: 'apps.kruise.io/v1beta1' }, cloneSet, true],
    [{ ...h, targetApiVersion: 'apps/v1', targetKind: 'Deployment' }, cloneSet, false],
    [{ ...h, targetKind: 'StatefulSet' }, cloneSet, false],
    [{ ...h, targetName: 'other' }, cloneSet, false],
    [{ ...h, namespace: 'other' }, cloneSet, false],
    [{ ...h, targetApiVersion: 'apps/v1', targetKind: 'Deployment' }, deployment, true],
    [h, deployment, false],
    // Same kind in another group is another workload.
    [{ ...h, targetApiVersion: 'example.com/v1', targetKind: 'Deployment' }, deployment, false],
  ])('%j targets %j: %s', (hpa, ref, expected) => {
    expect(hpaTargets(hpa, ref)).toBe(expected);
  });

  it.each([
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 4, paused: false, resourceVersion: '1' }, undefined],
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 2, paused: false, resourceVersion: '1' }, 'rollout in progress (2 of 4 replicas updated)'],
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 4, paused: true, resourceVersion: '1' }, 'the rollout is paused (on hold)'],
  ])('%j → %s', (cs, expected) => {
    expect(rolloutInProgress(cs)).toBe(expected);
  });
});
