import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { isCallUsed } from '../../src/k8s/rbac.js';
import { runOnce } from '../../src/service/run.js';
import { KubeStandIn } from '../support/kube-standin.js';

/**
 * `serve --once` end to end against the kube-apiserver stand-in: history (CSV replay) → forecast → the shared
 * planner → CloneSet actuators over client-node, with leader election on a Lease.
 */

let standin: KubeStandIn;
let dir: string;

beforeAll(async () => {
  ({ standin, dir } = await KubeStandIn.startWithKubeconfigFile('prescale-once-'));
  standin.addCloneSet({ namespace: 'shop', name: 'inventory', replicas: 1 });
  standin.addCloneSet({ namespace: 'shop', name: 'catalog', replicas: 1 });
  standin.addHpa({ namespace: 'shop', name: 'catalog', target: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'catalog' } });
});

afterAll(async () => {
  await standin.stop();
  rmSync(dir, { recursive: true, force: true });
});

const config = (dryRun: boolean) => `
dryRun: ${dryRun}
kubernetes: { kubeconfig: ${join(dir, 'kubeconfig')} }
leaderElection: { enabled: true, namespace: prescale, leaseName: prescale-leader, leaseDurationSeconds: 15 }
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
      - { kind: cloneset, namespace: shop, name: inventory, qpsPerReplica: 200, min: 2, max: 400, mode: direct }
      - { kind: cloneset, namespace: shop, name: catalog, qpsPerReplica: 200, min: 2, max: 400, mode: direct }
`;

describe('serve --once with CloneSets on the stand-in', () => {
  it('dry run decides and patches nothing', async () => {
    const decisions = await runOnce(parseConfig(config(true), join(dir, 'config.yaml')));
    const inv = decisions.find((d) => d.actuator === 'cloneset:shop/inventory');
    expect(inv?.actions.map((a) => [a.action, a.result])).toEqual([['patch-scale', 'dry-run']]);
    expect(standin.calls.filter((c) => c.verb === 'patch')).toHaveLength(0);
    expect((standin.getCloneSet('shop', 'inventory')?.spec as { replicas: number }).replicas).toBe(1);
  });

  it('leads, patches the CloneSet no HPA owns to the planned replicas, refuses the one an HPA owns, releases the lease', async () => {
    const decisions = await runOnce(parseConfig(config(false), join(dir, 'config.yaml')));
    const inv = decisions.find((d) => d.actuator === 'cloneset:shop/inventory');
    const cat = decisions.find((d) => d.actuator === 'cloneset:shop/catalog');
    expect(inv?.actions.map((a) => [a.action, a.result])).toEqual([['patch-scale', 'ok']]);
    expect(inv?.plannedCapacity).toBeGreaterThanOrEqual(2);
    expect((standin.getCloneSet('shop', 'inventory')?.spec as { replicas: number }).replicas).toBe(inv?.plannedCapacity);
    expect(cat?.actions.map((a) => [a.action, a.result])).toEqual([['refused', 'error']]);
    expect((standin.getCloneSet('shop', 'catalog')?.spec as { replicas: number }).replicas).toBe(1);
    // The lease was taken for the cycle and handed back at exit.
    expect(standin.getLease('prescale', 'prescale-leader')?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    const unlisted = standin.calls.filter((c) => !isCallUsed({ apiGroup: c.group, resource: c.resource, subresource: c.subresource, verb: c.verb }));
    expect(unlisted).toEqual([]);
  });
});
