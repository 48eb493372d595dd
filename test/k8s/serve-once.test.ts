import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { runOnce } from '../../src/service/run.js';
import { forbidden, settledAudit, unlisted } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { cloneSetYaml, idleHpaYaml, TestCluster } from '../support/test-cluster.js';

/**
 * `serve --once` end to end against the real kube-apiserver: history (CSV replay) → forecast → the shared
 * planner → CloneSet actuators over client-node, with leader election on a Lease, all as a service account bound
 * by deploy/base/rbac.yaml's rules and reached through the kubeconfig named by `kubernetes.kubeconfig`. The
 * Lease lives in the suite's namespace, where the (renamed) leader-election Role allows it. No kruise-manager
 * runs: `keepCloneSetStatus` keeps each CloneSet's status in step with its spec.replicas.
 */

let cluster: TestCluster;
let NS: string;
let user: { username: string; kubeconfig: string };
let dir: string;
let custom: CustomObjectsApi;

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('once');
  user = await prescaleUser(cluster, NS);
  dir = mkdtempSync(join(tmpdir(), 'prescale-once-'));
  custom = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  // catalog has an HPA that leaves its replicas alone (idleHpaYaml): it exists for prescale to see.
  await cluster.apply(
    [
      cloneSetYaml({ namespace: NS, name: 'inventory', replicas: 1 }),
      cloneSetYaml({ namespace: NS, name: 'catalog', replicas: 1 }),
      idleHpaYaml({ namespace: NS, name: 'catalog', cloneSet: 'catalog', maxReplicas: 400 }),
    ].join('---\n'),
  );
  cluster.keepCloneSetStatus(NS);
});

afterAll(async () => {
  await cluster?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const config = (dryRun: boolean) => `
dryRun: ${dryRun}
kubernetes: { kubeconfig: ${user.kubeconfig} }
leaderElection: { enabled: true, namespace: ${NS}, leaseName: prescale-leader, leaseDurationSeconds: 15 }
metricsApi: { enabled: false }
modelsDir: ${join(dir, 'models')}
targets:
  - name: shop
    history:
      source: csv
      path: ${resolve('data/demo/nasa_requests_per_minute.csv')}
      valueColumn: requests
      multiplier: 1000
      days: 3
      replay: { align: week }
    forecast: { horizonMinutes: 30, quantile: 0.9, model: seasonal-naive, stepMinutes: 5 }
    actuators:
      - { kind: cloneset, namespace: ${NS}, name: inventory, qpsPerReplica: 200, min: 2, max: 400, mode: direct }
      - { kind: cloneset, namespace: ${NS}, name: catalog, qpsPerReplica: 200, min: 2, max: 400, mode: direct }
`;

async function cloneSet(name: string): Promise<{ spec: { replicas: number }; status?: { replicas?: number } }> {
  return (await custom.getNamespacedCustomObject({ group: 'apps.kruise.io', version: 'v1alpha1', namespace: NS, plural: 'clonesets', name })) as { spec: { replicas: number }; status?: { replicas?: number } };
}

/** Waits until the status keeper has caught up, so its status write cannot land between prescale's read and patch (a 409). */
async function statusSettled(...names: string[]): Promise<void> {
  const start = Date.now();
  for (;;) {
    const all = await Promise.all(names.map(cloneSet));
    if (all.every((c) => c.status?.replicas === c.spec.replicas)) return;
    if (Date.now() - start > 20_000) throw new Error(`CloneSet status not in step: ${JSON.stringify(all.map((c) => c.status))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('serve --once with CloneSets on the real apiserver', () => {
  it('dry run decides and patches nothing', async () => {
    await statusSettled('inventory', 'catalog');
    const since = Date.now();
    const decisions = await runOnce(parseConfig(config(true), join(dir, 'config.yaml')));
    const inv = decisions.find((d) => d.actuator === `cloneset:${NS}/inventory`);
    expect(inv?.actions.map((a) => [a.action, a.result])).toEqual([['patch-scale', 'dry-run']]);
    const events = await settledAudit(cluster, { user: user.username, since });
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.verb === 'patch')).toEqual([]);
    expect((await cloneSet('inventory')).spec.replicas).toBe(1);
  });

  it('leads, patches the CloneSet no HPA owns to the planned replicas, refuses the one an HPA owns, releases the lease', async () => {
    await statusSettled('inventory', 'catalog');
    const since = Date.now();
    const decisions = await runOnce(parseConfig(config(false), join(dir, 'config.yaml')));
    const inv = decisions.find((d) => d.actuator === `cloneset:${NS}/inventory`);
    const cat = decisions.find((d) => d.actuator === `cloneset:${NS}/catalog`);
    expect(inv?.actions.map((a) => [a.action, a.result])).toEqual([['patch-scale', 'ok']]);
    expect(inv?.plannedCapacity).toBeGreaterThanOrEqual(2);
    expect((await cloneSet('inventory')).spec.replicas).toBe(inv?.plannedCapacity);
    expect(cat?.actions.map((a) => [a.action, a.result])).toEqual([['refused', 'error']]);
    expect((await cloneSet('catalog')).spec.replicas).toBe(1);
    // The lease was taken for the cycle and handed back at exit.
    const lease = await cluster.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'prescale-leader' });
    expect(lease.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const events = await settledAudit(cluster, { user: user.username, since });
    expect(events.filter((e) => e.objectRef?.resource === 'leases' && e.verb === 'update').length).toBeGreaterThanOrEqual(2); // acquire, release
    expect(events.filter((e) => e.verb === 'patch').map((e) => `${e.objectRef?.name}/${e.objectRef?.subresource} ${e.responseStatus?.code}`)).toEqual(['inventory/scale 200']);
    expect(unlisted(events)).toEqual([]);
    expect(forbidden(events)).toEqual([]);
  });
});
