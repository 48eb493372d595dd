import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CloneSetActuator } from '../../src/actuators/cloneset.js';
import { K8sError, KubeClient } from '../../src/k8s/client.js';
import { LeaderElector } from '../../src/k8s/lease.js';
import { isCallUsed, K8S_CALLS_USED } from '../../src/k8s/rbac.js';
import { plan } from '../../src/plan/planner.js';
import { ManualClock } from '../../src/util/clock.js';
import { callKey, callOf, forbidden, settledAudit } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { cloneSetYaml, idleHpaYaml, TestCluster } from '../support/test-cluster.js';

/**
 * K8S_CALLS_USED is what the deploy RBAC is checked against, so it must be exact: every call prescale makes is
 * in it (else prescale gets 403 in a cluster), and every entry is a call prescale makes (else RBAC grants too
 * much). One pass through every Kubernetes code path against the real kube-apiserver, as a service account
 * bound by deploy/base/rbac.yaml's rules; then the apiserver's audit log for that user is compared with the
 * list, and shows the real RBAC allowed each call.
 */

let cluster: TestCluster;
let NS: string;
let user: { username: string; kubeconfig: string };
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('rbac');
  user = await prescaleUser(cluster, NS);
});

afterAll(async () => {
  await cluster?.release();
});

describe('K8S_CALLS_USED', () => {
  it('equals the set of calls the code makes, and the deploy RBAC allows every one', async () => {
    // No status keeper here: the calls do not depend on the status, and a status write between prescale's read
    // and its patch would turn the patch into a (correct, but here unwanted) 409 and retry.
    await cluster.apply(cloneSetYaml({ namespace: NS, name: 'a', replicas: 2 }) + '---\n' + cloneSetYaml({ namespace: NS, name: 'b', replicas: 2 }) + '---\n' + idleHpaYaml({ namespace: NS, name: 'b', cloneSet: 'b', maxReplicas: 10 }));
    const client = KubeClient.fromOptions({ kubeconfigPath: user.kubeconfig, requestTimeoutMs: 15_000 });
    const model = { kind: 'cloneset', qpsPerReplica: 100 } as const;
    const policy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
    const now = Date.UTC(2026, 10, 27, 12, 0);
    const p = plan({ nowMs: now, forecast: undefined, observedQps: 500 }, model, policy);
    const ctx = { target: 't', nowMs: now, dryRun: false };
    const direct = new CloneSetActuator({ namespace: NS, name: 'a', mode: 'direct', model, policy, scale: client, hpas: client });
    const external = new CloneSetActuator({ namespace: NS, name: 'b', mode: 'external-metric', model, policy, scale: client, hpas: client });
    expect((await direct.apply(p, ctx)).map((r) => r.action)).toEqual(['patch-scale']); // list HPAs, get CloneSet, get + patch /scale
    expect((await external.apply(p, ctx)).map((r) => r.action)).toEqual(['serve-metric']); // list HPAs
    expect(await direct.currentCapacity()).toBe(5); // get /scale
    const clock = new ManualClock(now);
    const elector = new LeaderElector({ api: client, namespace: NS, name: 'prescale-leader', identity: 'pod-a', clock });
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get (404) + create
    clock.advance(2000);
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get + update
    await elector.stop(); // update (release)

    const events = await settledAudit(cluster, { user: user.username, since: startedAt });
    const made = new Set(events.map((e) => callKey(callOf(e))));
    const listed = new Set(K8S_CALLS_USED.map(callKey));
    expect([...made].sort()).toEqual([...listed].sort());
    expect(forbidden(events)).toEqual([]);
    // Every call reached the apiserver and was answered as intended: the lease's first get is its only 404.
    expect(events.filter((e) => (e.responseStatus?.code ?? 0) >= 300).map((e) => `${e.verb} ${e.objectRef?.resource} ${e.responseStatus?.code}`)).toEqual(['get leases 404']);
  });

  it('has no duplicates, and isCallUsed rejects what is not listed', () => {
    expect(new Set(K8S_CALLS_USED.map(callKey)).size).toBe(K8S_CALLS_USED.length);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'patch' })).toBe(true);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: '', verb: 'patch' })).toBe(false);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'update' })).toBe(false);
  });
});

describe("the leader-election Role is namespaced", () => {
  it("lets prescale's service account use Leases only in its own namespace (leaderElection.namespace must be that one)", async () => {
    // prescale installed in another namespace, whose Role does not reach this suite's namespace.
    const otherNs = await cluster.namespace('rbac-other');
    const other = await prescaleUser(cluster, otherNs);
    const client = KubeClient.fromOptions({ kubeconfigPath: other.kubeconfig, requestTimeoutMs: 15_000 });
    const err = await client.getLease(NS, 'prescale-leader').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sError);
    expect(err).toMatchObject({ kind: 'forbidden', status: 403 });
    expect((err as Error).message).toBe(
      `get leases ${NS}/prescale-leader: HTTP 403 Forbidden: leases.coordination.k8s.io "prescale-leader" is forbidden: User "${other.username}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "${NS}"`,
    );
    const elector = new LeaderElector({ api: client, namespace: NS, name: 'prescale-leader', identity: 'pod-x', clock: new ManualClock(0) });
    expect(await elector.tryAcquireOrRenew()).toBe(false);
    expect(elector.isLeader()).toBe(false);
    // In its own namespace the same account may.
    const own = new LeaderElector({ api: client, namespace: otherNs, name: 'prescale-leader', identity: 'pod-x', clock: new ManualClock(0) });
    expect(await own.tryAcquireOrRenew()).toBe(true);
  });
});
