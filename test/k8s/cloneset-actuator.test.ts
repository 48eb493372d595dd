import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { CloneSetActuator, hpaTargets, rolloutInProgress, type CloneSetMode } from '../../src/actuators/cloneset.js';
import { KubeClient } from '../../src/k8s/client.js';
import { isCallUsed } from '../../src/k8s/rbac.js';
import { plan, type Plan, type PlanPolicy } from '../../src/plan/planner.js';
import { KubeStandIn } from '../support/kube-standin.js';

const NS = 'shop';
const NOW = Date.UTC(2026, 10, 27, 12, 0);
const model = { kind: 'cloneset', qpsPerReplica: 200 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 100, scaleDownDelayMinutes: 0, maxStepUp: Infinity };

let standin: KubeStandIn;
let client: KubeClient;
/** A short request timeout only where a hung request is injected; elsewhere a loaded machine must not time out. */
let shortClient: KubeClient;
let dir: string;

beforeAll(async () => {
  let kubeconfig: string;
  ({ standin, dir, kubeconfig } = await KubeStandIn.startWithKubeconfigFile('prescale-k8s-'));
  client = KubeClient.fromOptions({ kubeconfigPath: kubeconfig, requestTimeoutMs: 15_000 });
  shortClient = KubeClient.fromOptions({ kubeconfigPath: kubeconfig, requestTimeoutMs: 1_500 });
});

afterAll(async () => {
  // Every call the actuator made must be granted by the RBAC list the manifests are checked against.
  const unlisted = standin.calls.filter((c) => !isCallUsed({ apiGroup: c.group, resource: c.resource, subresource: c.subresource, verb: c.verb }));
  await standin.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(unlisted.map((c) => `${c.verb} ${c.group}/${c.resource}/${c.subresource}`)).toEqual([]);
});

let seq = 0;
/** A fresh CloneSet per test, so tests sharing the stand-in do not see each other's changes. */
function fresh(o: { replicas: number; updatedReplicas?: number; paused?: boolean; hpa?: boolean }): string {
  seq += 1;
  const name = `inventory-${seq}`;
  standin.addCloneSet({ namespace: NS, name, replicas: o.replicas, updatedReplicas: o.updatedReplicas, paused: o.paused });
  if (o.hpa) standin.addHpa({ namespace: NS, name: `${name}-hpa`, target: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name } });
  return name;
}

function actuator(name: string, mode: CloneSetMode, c: KubeClient = client): CloneSetActuator {
  return new CloneSetActuator({ namespace: NS, name, mode, model, policy, scale: c, hpas: c });
}

/** The shared planner's decision for a steady observed load (no forecast: the reactive floor). */
function planFor(qps: number): Plan {
  return plan({ nowMs: NOW, forecast: undefined, observedQps: qps }, model, policy);
}

function replicasOf(name: string): unknown {
  return (standin.getCloneSet(NS, name)?.spec as { replicas?: number } | undefined)?.replicas;
}

function callsFor(name: string, verb: string): number {
  return standin.calls.filter((c) => c.name === name && c.verb === verb).length;
}

const ctx = (dryRun = false) => ({ target: 'checkout', nowMs: NOW, dryRun });

describe('CloneSetActuator, mode external-metric', () => {
  it('records the served metric and changes nothing when an HPA owns the replicas', async () => {
    const name = fresh({ replicas: 3, hpa: true });
    const recs = await actuator(name, 'external-metric').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['serve-metric', 'ok']]);
    expect(recs[0].data).toMatchObject({ desiredReplicas: 5, servedQps: 1000 });
    expect(replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toBe(0);
  });

  it('warns when no HPA targets the CloneSet, still without patching', async () => {
    const name = fresh({ replicas: 3 });
    const recs = await actuator(name, 'external-metric').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['warn', 'serve-metric']);
    expect(recs[0].detail).toContain(`targets CloneSet ${name}`);
    expect(replicasOf(name)).toBe(3);
  });
});

describe('CloneSetActuator, mode direct', () => {
  it('merge-patches /scale up to the planned replicas when no HPA targets the CloneSet', async () => {
    const name = fresh({ replicas: 3 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'ok', 'scaled 3 → 5']]);
    expect(replicasOf(name)).toBe(5);
    const patch = standin.calls.find((c) => c.name === name && c.verb === 'patch');
    expect(patch).toMatchObject({ subresource: 'scale', contentType: 'application/merge-patch+json', status: 200 });
  });

  it('refuses with a clear record when an HPA targets the CloneSet', async () => {
    const name = fresh({ replicas: 3, hpa: true });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ action: 'refused', result: 'error' });
    expect(recs[0].detail).toContain(`HPA ${name}-hpa`);
    expect(recs[0].detail).toContain('external-metric');
    expect(replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toBe(0);
  });

  it('does nothing when already at the planned replicas', async () => {
    const name = fresh({ replicas: 5 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['noop']);
    expect(callsFor(name, 'patch')).toBe(0);
  });

  it('in dry run records what it would do and sends no patch', async () => {
    const name = fresh({ replicas: 3 });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx(true));
    expect(recs.map((r) => [r.action, r.result, r.detail])).toEqual([['patch-scale', 'dry-run', 'would scale 3 → 5']]);
    expect(replicasOf(name)).toBe(3);
    expect(callsFor(name, 'patch')).toBe(0);
  });

  it.each([
    ['rollout in progress', { replicas: 8, updatedReplicas: 4 }],
    ['update strategy paused', { replicas: 8, paused: true }],
  ])('never scales down during a rollout (%s), and leaves the update strategy alone', async (_why, o) => {
    const name = fresh(o);
    const before = JSON.stringify((standin.getCloneSet(NS, name)?.spec as Record<string, unknown>).updateStrategy);
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['hold', 'skipped']]);
    expect(recs[0].detail).toContain('not scaling down 8 → 5');
    expect(replicasOf(name)).toBe(8);
    expect(JSON.stringify((standin.getCloneSet(NS, name)?.spec as Record<string, unknown>).updateStrategy)).toBe(before);
  });

  it('scales up during a rollout and leaves the update strategy alone', async () => {
    const name = fresh({ replicas: 2, updatedReplicas: 1, paused: true });
    const before = JSON.stringify((standin.getCloneSet(NS, name)?.spec as Record<string, unknown>).updateStrategy);
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => r.action)).toEqual(['patch-scale']);
    expect(replicasOf(name)).toBe(5);
    expect(JSON.stringify((standin.getCloneSet(NS, name)?.spec as Record<string, unknown>).updateStrategy)).toBe(before);
  });

  it('on a real 409 (the CloneSet changed after it was read) re-reads and retries once', async () => {
    const name = fresh({ replicas: 3 });
    // Another writer bumps the object right after our scale read: our patch carries a stale resourceVersion.
    standin.after({ verb: 'get', subresource: 'scale' }, () =>
      standin.mutateCloneSet(NS, name, (o) => ((o.metadata as Record<string, unknown>).labels = { touched: 'yes' })),
    );
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([
      ['conflict', 'error'],
      ['patch-scale', 'ok'],
    ]);
    expect(standin.calls.filter((c) => c.name === name && c.verb === 'patch').map((c) => c.status)).toEqual([409, 200]);
    expect(replicasOf(name)).toBe(5);
  });

  it('after a second 409 gives up for this cycle and keeps the current replicas', async () => {
    const name = fresh({ replicas: 3 });
    standin.inject(409, 2, { verb: 'patch' });
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([
      ['conflict', 'error'],
      ['error', 'error'],
    ]);
    expect(recs[1].detail).toContain('replicas left at 3');
    expect(replicasOf(name)).toBe(3);
  });

  it.each([
    [403, 'Forbidden', { verb: 'patch' }],
    [500, 'InternalError', { verb: 'patch' }],
    ['timeout', 'timed out', { verb: 'patch' }],
    [403, 'cannot list HPAs', { verb: 'list' }],
    ['timeout', 'cannot read CloneSet', { verb: 'get', subresource: 'scale' }],
  ] as const)('%s on %j: records an error and keeps the current replicas', async (fault, text, match) => {
    const name = fresh({ replicas: 3 });
    standin.inject(fault, 1, match);
    const recs = await actuator(name, 'direct', fault === 'timeout' ? shortClient : client).apply(planFor(1000), ctx());
    expect(recs.map((r) => r.result)).toEqual(['error']);
    expect(recs[0].detail).toContain(text);
    expect(replicasOf(name)).toBe(3);
    standin.clearFaults();
  });

  it('survives the CloneSet being deleted mid-cycle (after the rollout read)', async () => {
    const name = fresh({ replicas: 3 });
    standin.after({ verb: 'get', subresource: '' }, () => standin.deleteCloneSet(NS, name));
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['error', 'error']]);
    expect(recs[0].detail).toContain('not found (deleted?)');
  });

  it('survives the CloneSet being deleted between the read and the patch', async () => {
    const name = fresh({ replicas: 3 });
    standin.after({ verb: 'get', subresource: 'scale' }, () => standin.deleteCloneSet(NS, name));
    const recs = await actuator(name, 'direct').apply(planFor(1000), ctx());
    expect(recs.map((r) => [r.action, r.result])).toEqual([['error', 'error']]);
    expect(recs[0].detail).toContain('CloneSet deleted before the patch');
    expect(recs[0].detail).toContain('NotFound');
  });
});

describe('currentCapacity', () => {
  it('is the /scale spec.replicas, and undefined when the CloneSet cannot be read', async () => {
    const name = fresh({ replicas: 3, updatedReplicas: 3 });
    standin.mutateCloneSet(NS, name, (o) => ((o.spec as Record<string, unknown>).replicas = 7));
    expect(await actuator(name, 'direct').currentCapacity()).toBe(7);
    expect(await actuator('no-such-cloneset', 'direct').currentCapacity()).toBeUndefined();
  });
});

describe('hpaTargets and rolloutInProgress', () => {
  const h = { namespace: NS, name: 'h', targetApiVersion: 'apps.kruise.io/v1alpha1', targetKind: 'CloneSet', targetName: 'inv' };
  it.each([
    [h, true],
    [{ ...h, targetApiVersion: 'apps.kruise.io/v1beta1' }, true],
    [{ ...h, targetApiVersion: 'apps/v1', targetKind: 'Deployment' }, false],
    [{ ...h, targetKind: 'StatefulSet' }, false],
    [{ ...h, targetName: 'other' }, false],
    [{ ...h, namespace: 'other' }, false],
  ])('%j targets shop/inv: %s', (hpa, expected) => {
    expect(hpaTargets(hpa, NS, 'inv')).toBe(expected);
  });

  it.each([
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 4, paused: false, resourceVersion: '1' }, undefined],
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 2, paused: false, resourceVersion: '1' }, 'rollout in progress (2 of 4 replicas updated)'],
    [{ specReplicas: 4, statusReplicas: 4, updatedReplicas: 4, paused: true, resourceVersion: '1' }, 'the update strategy is paused (a rollout is on hold)'],
  ])('%j → %s', (cs, expected) => {
    expect(rolloutInProgress(cs)).toBe(expected);
  });
});
