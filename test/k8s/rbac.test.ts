import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { CloneSetActuator } from '../../src/actuators/cloneset.js';
import { KubeClient } from '../../src/k8s/client.js';
import { LeaderElector } from '../../src/k8s/lease.js';
import { isCallUsed, K8S_CALLS_USED } from '../../src/k8s/rbac.js';
import { plan } from '../../src/plan/planner.js';
import { ManualClock } from '../../src/util/clock.js';
import { KubeStandIn } from '../support/kube-standin.js';

/**
 * K8S_CALLS_USED is what the deploy RBAC is checked against, so it must be exact: every call prescale makes is
 * in it (else prescale gets 403 in a cluster), and every entry is a call prescale makes (else RBAC grants too
 * much). One pass through every Kubernetes code path against the stand-in, then compare.
 */

let standin: KubeStandIn;
let client: KubeClient;

beforeAll(async () => {
  standin = new KubeStandIn();
  await standin.start();
  const kc = new KubeConfig();
  kc.loadFromString(standin.kubeconfig());
  client = new KubeClient(kc, { requestTimeoutMs: 15_000 });
});

afterAll(async () => {
  await standin.stop();
});

const key = (c: { apiGroup: string; resource: string; subresource: string; verb: string }) => `${c.verb} ${c.apiGroup}/${c.resource}${c.subresource ? `/${c.subresource}` : ''}`;

describe('K8S_CALLS_USED', () => {
  it('equals the set of calls the code makes', async () => {
    const model = { kind: 'cloneset', qpsPerReplica: 100 } as const;
    const policy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
    const now = Date.UTC(2026, 10, 27, 12, 0);
    standin.addCloneSet({ namespace: 'shop', name: 'a', replicas: 2 });
    standin.addCloneSet({ namespace: 'shop', name: 'b', replicas: 2 });
    standin.addHpa({ namespace: 'shop', name: 'b', target: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'b' } });
    const p = plan({ nowMs: now, forecast: undefined, observedQps: 500 }, model, policy);
    const ctx = { target: 't', nowMs: now, dryRun: false };
    const direct = new CloneSetActuator({ namespace: 'shop', name: 'a', mode: 'direct', model, policy, scale: client, hpas: client });
    const external = new CloneSetActuator({ namespace: 'shop', name: 'b', mode: 'external-metric', model, policy, scale: client, hpas: client });
    expect((await direct.apply(p, ctx)).map((r) => r.action)).toEqual(['patch-scale']);
    expect((await external.apply(p, ctx)).map((r) => r.action)).toEqual(['serve-metric']);
    expect(await direct.currentCapacity()).toBe(5);
    const clock = new ManualClock(now);
    const elector = new LeaderElector({ api: client, namespace: 'prescale', name: 'prescale-leader', identity: 'pod-a', clock });
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get (404) + create
    clock.advance(2000);
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get + update
    await elector.stop(); // update (release)

    const made = new Set(standin.calls.map((c) => key({ apiGroup: c.group, resource: c.resource, subresource: c.subresource, verb: c.verb })));
    const listed = new Set(K8S_CALLS_USED.map(key));
    expect([...made].sort()).toEqual([...listed].sort());
  });

  it('has no duplicates, and isCallUsed rejects what is not listed', () => {
    expect(new Set(K8S_CALLS_USED.map(key)).size).toBe(K8S_CALLS_USED.length);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'patch' })).toBe(true);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: '', verb: 'patch' })).toBe(false);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'update' })).toBe(false);
  });
});
