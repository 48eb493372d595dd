import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, AuthorizationV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { CloneSetActuator } from '../../src/actuators/cloneset.js';
import { K8sError, KubeClient } from '../../src/k8s/client.js';
import { LeaderElector } from '../../src/k8s/lease.js';
import { isCallUsed, K8S_CALLS_USED, K8S_NON_RESOURCE_CALLS_USED } from '../../src/k8s/rbac.js';
import { plan } from '../../src/plan/planner.js';
import { ManualClock } from '../../src/util/clock.js';
import { callKey, callOf, forbidden, settledAudit } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { cloneSetYaml, idleHpaYaml, TestCluster } from '../support/test-cluster.js';
import { deploymentYaml, installRolloutCrd, rolloutYaml } from '../support/workloads.js';

/**
 * K8S_CALLS_USED is what the deploy RBAC is checked against, so it must be exact: every call prescale makes is
 * in it (else prescale gets 403 in a cluster), and every entry is a call prescale makes (else RBAC grants too
 * much). One pass through every Kubernetes code path against the real kube-apiserver, as a service account
 * bound by deploy/base/rbac.yaml's rules; then the apiserver's audit log for that user is compared with the
 * list, and shows the real RBAC allowed each call. The PredictiveScaler controller's calls (`controllerOnly`) are
 * not made by this pass; the real RBAC is asked (SelfSubjectAccessReview) whether it grants each of them, and the
 * controller's own suite is where their use is shown. Requests to non-resource URLs (discovery) are checked by path.
 */

let cluster: TestCluster;
let NS: string;
let user: { username: string; kubeconfig: string };
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('rbac');
  user = await prescaleUser(cluster, NS);
  await installRolloutCrd(cluster);
});

afterAll(async () => {
  await cluster?.release();
});

describe('K8S_CALLS_USED', () => {
  it('equals the set of calls the code makes, and the deploy RBAC allows every one', async () => {
    // No status keeper here: the calls do not depend on the status, and a status write between prescale's read
    // and its patch would turn the patch into a (correct, but here unwanted) 409 and retry.
    await cluster.apply(
      [
        cloneSetYaml({ namespace: NS, name: 'a', replicas: 2 }),
        cloneSetYaml({ namespace: NS, name: 'b', replicas: 2 }),
        idleHpaYaml({ namespace: NS, name: 'b', cloneSet: 'b', maxReplicas: 10 }),
        deploymentYaml({ namespace: NS, name: 'd', replicas: 2 }),
        rolloutYaml({ namespace: NS, name: 'r', replicas: 2 }),
      ].join('---\n'),
    );
    // The Deployment controller settles d's status first, so no status write lands between prescale's read and patch.
    const apps = cluster.kubeConfig().makeApiClient(AppsV1Api);
    for (let i = 0; (await apps.readNamespacedDeployment({ namespace: NS, name: 'd' })).status?.updatedReplicas !== 2; i++) {
      if (i > 300) throw new Error('Deployment d: status not at 2 updated replicas after 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // No Argo controller runs: the Rollout's status as it would report it (its /scale reads status.HPAReplicas).
    await cluster
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObjectStatus(
        { group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'rollouts', name: 'r', body: { status: { replicas: 2, HPAReplicas: 2, updatedReplicas: 2, selector: 'app=r' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const client = KubeClient.fromOptions({ kubeconfigPath: user.kubeconfig, requestTimeoutMs: 15_000 });
    const model = { kind: 'cloneset', qpsPerReplica: 100 } as const;
    const policy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
    const now = Date.UTC(2026, 10, 27, 12, 0);
    const p = plan({ nowMs: now, forecast: undefined, observedQps: 500 }, model, policy);
    const ctx = { target: 't', nowMs: now, dryRun: false };
    const direct = new CloneSetActuator({ namespace: NS, name: 'a', mode: 'direct', model, policy, scale: client, hpas: client });
    const external = new CloneSetActuator({ namespace: NS, name: 'b', mode: 'external-metric', model, policy, scale: client, hpas: client });
    expect((await direct.apply(p, ctx)).map((r) => r.action)).toEqual(['patch-scale']); // discovery, list HPAs, get CloneSet, get + patch /scale
    for (const [name, workload] of [
      ['d', { apiVersion: 'apps/v1', kind: 'Deployment' }],
      ['r', { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' }],
    ] as const) {
      const other = new CloneSetActuator({ namespace: NS, name, workload, mode: 'direct', model, policy, scale: client, hpas: client });
      expect((await other.apply(p, ctx)).map((r) => r.detail)).toEqual(['scaled 2 → 5']); // discovery, list HPAs, get, get + patch /scale
    }
    expect((await external.apply(p, ctx)).map((r) => r.action)).toEqual(['serve-metric']); // list HPAs
    expect(await direct.currentCapacity()).toBe(5); // get /scale
    const clock = new ManualClock(now);
    const elector = new LeaderElector({ api: client, namespace: NS, name: 'prescale-leader', identity: 'pod-a', clock });
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get (404) + create
    clock.advance(2000);
    expect(await elector.tryAcquireOrRenew()).toBe(true); // get + update
    await elector.stop(); // update (release)

    const events = await settledAudit(cluster, { user: user.username, since: startedAt });
    const resourceEvents = events.filter((e) => e.objectRef !== undefined);
    const made = new Set(resourceEvents.map((e) => callKey(callOf(e))));
    const listed = new Set(K8S_CALLS_USED.filter((c) => !c.controllerOnly).map(callKey));
    expect([...made].sort()).toEqual([...listed].sort());
    expect(forbidden(events)).toEqual([]);
    // The rest is discovery, once per kind (one client), each under a path K8S_NON_RESOURCE_CALLS_USED lists.
    const discovery = events.filter((e) => e.objectRef === undefined);
    expect(discovery.map((e) => `${e.verb} ${e.requestURI}`).sort()).toEqual(['get /apis/apps.kruise.io/v1alpha1', 'get /apis/apps/v1', 'get /apis/argoproj.io/v1alpha1']);
    expect(discovery.every((e) => isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: e.verb, path: e.requestURI }))).toBe(true);
    // Every call reached the apiserver and was answered as intended: the lease's first get is its only 404.
    expect(events.filter((e) => (e.responseStatus?.code ?? 0) >= 300).map((e) => `${e.verb} ${e.objectRef?.resource} ${e.responseStatus?.code}`)).toEqual(['get leases 404']);
  });

  it("grants, through the deploy RBAC, each call of the PredictiveScaler controller, and not the verbs it does not list", async () => {
    // Its own service account, so the access reviews stay out of the audit pass above.
    const ns = await cluster.namespace('rbac-ctl');
    const ctl = await prescaleUser(cluster, ns);
    const authz = cluster.kubeConfig({ token: ctl.token }).makeApiClient(AuthorizationV1Api);
    const allowed = async (c: { apiGroup: string; resource: string; subresource: string; verb: string }): Promise<boolean> => {
      const r = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { group: c.apiGroup, resource: c.resource, subresource: c.subresource, verb: c.verb, namespace: 'any-namespace' } } } });
      return r.status?.allowed === true;
    };
    const controller = K8S_CALLS_USED.filter((c) => c.controllerOnly);
    expect(controller.map(callKey).sort()).toEqual([
      'create /events',
      'create autoscaling/horizontalpodautoscalers',
      'delete autoscaling/horizontalpodautoscalers',
      'list prescale.io/predictivescalers',
      'patch prescale.io/predictivescalers/status',
      'update autoscaling/horizontalpodautoscalers',
      'watch prescale.io/predictivescalers',
    ]);
    for (const c of controller) expect({ call: callKey(c), allowed: await allowed(c) }).toEqual({ call: callKey(c), allowed: true });
    // Least privilege: what the controller does not list is refused.
    for (const c of [
      { apiGroup: 'prescale.io', resource: 'predictivescalers', subresource: '', verb: 'update' },
      { apiGroup: 'prescale.io', resource: 'predictivescalers', subresource: 'status', verb: 'update' },
      { apiGroup: '', resource: 'events', subresource: '', verb: 'delete' },
      { apiGroup: 'apps', resource: 'deployments', subresource: '', verb: 'patch' },
    ]) {
      expect({ call: callKey(c), allowed: await allowed(c) }).toEqual({ call: callKey(c), allowed: false });
    }
  });

  it('needs no rule for discovery: any authenticated user may GET /apis/GROUP/VERSION, an anonymous one may not', async () => {
    const nobody = await cluster.serviceAccountUser(NS, 'no-rules');
    const kinds = await KubeClient.fromOptions({ kubeconfigPath: nobody.kubeconfig }).resolve({ apiVersion: 'apps/v1', kind: 'Deployment' });
    expect(kinds).toEqual({ group: 'apps', version: 'v1', plural: 'deployments' });
    const anon = KubeClient.fromOptions({ kubeconfigPath: cluster.kubeconfigFor(`${NS}-anon`, { token: '' }) });
    await expect(anon.resolve({ apiVersion: 'apps/v1', kind: 'Deployment' })).rejects.toMatchObject({ kind: 'forbidden', status: 403 });
    expect(K8S_NON_RESOURCE_CALLS_USED.map((c) => `${c.verb} ${c.path}`)).toEqual(['get /apis/*']);
  });

  it('has no duplicates, and isCallUsed rejects what is not listed', () => {
    expect(new Set(K8S_CALLS_USED.map(callKey)).size).toBe(K8S_CALLS_USED.length);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'patch' })).toBe(true);
    expect(isCallUsed({ apiGroup: 'apps', resource: 'deployments', subresource: 'scale', verb: 'patch' })).toBe(true);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: '', verb: 'patch' })).toBe(false);
    expect(isCallUsed({ apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'update' })).toBe(false);
    expect(isCallUsed({ apiGroup: 'apps', resource: 'statefulsets', subresource: 'scale', verb: 'patch' })).toBe(false);
    // Non-resource URLs: by path when given, by verb when only the audit event's (absent) objectRef is known.
    expect(isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: 'get', path: '/apis/apps/v1' })).toBe(true);
    expect(isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: 'get', path: '/version' })).toBe(false);
    expect(isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: 'post', path: '/apis/apps/v1' })).toBe(false);
    expect(isCallUsed({ apiGroup: '', resource: '', subresource: '', verb: 'get' })).toBe(true);
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
