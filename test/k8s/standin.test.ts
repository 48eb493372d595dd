import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { KubeClient, statusMessage } from '../../src/k8s/client.js';
import { CRD_PATH, KubeStandIn } from '../support/kube-standin.js';

/**
 * The stand-in checked against real clients: kubectl (discovery, server-side printing with the CRD's printer
 * columns, scale, patch with each patch type, Status errors) and @kubernetes/client-node.
 */

const NS = 'shop';
let standin: KubeStandIn;
let dir: string;
let kubeconfig: string;
let custom: CustomObjectsApi;

beforeAll(async () => {
  ({ standin, dir, kubeconfig } = await KubeStandIn.startWithKubeconfigFile('prescale-kubectl-'));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  custom = kc.makeApiClient(CustomObjectsApi);
});

afterAll(async () => {
  await standin.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** kubectl, asynchronously: the stand-in answers from this same process. */
function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), '--request-timeout=20s', ...args],
      { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function replicas(name: string): unknown {
  return (standin.getCloneSet(NS, name)?.spec as { replicas?: number }).replicas;
}

describe('kubectl against the stand-in', () => {
  beforeAll(() => {
    standin.addCloneSet({ namespace: NS, name: 'inventory', replicas: 3, updatedReplicas: 2 });
    standin.addHpa({ namespace: NS, name: 'inventory', target: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'inventory' } });
  });

  it('lists CloneSets with the CRD printer columns (server-side table)', async () => {
    const r = await kubectl('get', 'clonesets.apps.kruise.io', '-n', NS);
    expect(r.stderr).toBe('');
    const [header, row] = r.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'DESIRED', 'UPDATED', 'UPDATED_READY', 'UPDATED_AVAILABLE', 'READY', 'TOTAL', 'AGE']);
    expect(row).toMatch(/^inventory\s+3\s+2\s+2\s+3\s+3\s+\d+s$/);
  });

  it('resolves the short name and returns the objects as JSON', async () => {
    const r = await kubectl('get', 'clone', '-n', NS, '-o', 'json');
    const list = JSON.parse(r.stdout) as { items: { metadata: { name: string }; spec: { replicas: number } }[] };
    expect(list.items.map((i) => [i.metadata.name, i.spec.replicas])).toEqual([['inventory', 3]]);
  });

  it('reads the scale subresource built from the CRD paths', async () => {
    const r = await kubectl('get', '--raw', `/apis/apps.kruise.io/v1alpha1/namespaces/${NS}/clonesets/inventory/scale`);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 3, selector: 'app=inventory' } });
  });

  it('kubectl scale goes through /scale', async () => {
    const r = await kubectl('scale', 'clonesets/inventory', '-n', NS, '--replicas=5');
    expect(r.stdout.trim()).toBe('cloneset.apps.kruise.io/inventory scaled');
    expect(replicas('inventory')).toBe(5);
    const last = standin.calls.filter((c) => c.verb === 'patch' || c.verb === 'update').at(-1);
    expect(last).toMatchObject({ subresource: 'scale', status: 200 });
  });

  it.each([
    ['merge', '{"spec":{"replicas":9}}', 9],
    ['json', '[{"op":"replace","path":"/spec/replicas","value":4}]', 4],
  ])('kubectl patch --type=%s --subresource=scale is accepted', async (type, patch, expected) => {
    const r = await kubectl('patch', 'clonesets/inventory', '-n', NS, `--type=${type}`, '--subresource=scale', '-p', patch);
    expect(r.code).toBe(0);
    expect(replicas('inventory')).toBe(expected);
  });

  it('kubectl patch --type=strategic is refused with 415 like a CRD in kube-apiserver', async () => {
    const before = replicas('inventory');
    const r = await kubectl('patch', 'clonesets/inventory', '-n', NS, '--type=strategic', '--subresource=scale', '-p', '{"spec":{"replicas":1}}');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json');
    expect(standin.calls.at(-1)).toMatchObject({ verb: 'patch', status: 415, contentType: 'application/strategic-merge-patch+json' });
    expect(replicas('inventory')).toBe(before);
  });

  it('shows NotFound and Forbidden Status errors the way kubectl prints the apiserver', async () => {
    const nf = await kubectl('get', 'clonesets', 'nope', '-n', NS);
    expect(nf.stderr.trim()).toBe('Error from server (NotFound): clonesets.apps.kruise.io "nope" not found');
    standin.inject(403, 1, { resource: 'clonesets', verb: 'get' });
    const fb = await kubectl('get', 'clonesets', 'inventory', '-n', NS);
    expect(fb.stderr.trim()).toBe(
      'Error from server (Forbidden): clonesets.apps.kruise.io "inventory" is forbidden: User "system:serviceaccount:prescale:prescale" cannot get resource "clonesets" in API group "apps.kruise.io" in the namespace "shop"',
    );
  });

  it('shows a Lease written by the elector\'s client with MicroTime renewTime', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const client = new KubeClient(kc);
    await client.createLease('prescale', 'leader', { holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0, renewTimeMs: Date.UTC(2026, 10, 27, 12, 0, 0, 123), resourceVersion: '' });
    const r = await kubectl('get', 'leases', '-n', 'prescale', '-o', 'jsonpath={.items[0].spec.holderIdentity} {.items[0].spec.renewTime}');
    expect(r.stdout).toBe('pod-a 2026-11-27T12:00:00.123000Z');
  });

  it('lists HPAs (autoscaling/v2)', async () => {
    const r = await kubectl('get', 'hpa', '-n', NS, '-o', 'jsonpath={.items[*].spec.scaleTargetRef.kind}');
    expect(r.stdout).toBe('CloneSet');
  });
});

describe('client-node against the stand-in', () => {
  const ref = { group: 'apps.kruise.io', version: 'v1alpha1', namespace: NS, plural: 'clonesets', name: 'catalog' };
  beforeAll(() => standin.addCloneSet({ namespace: NS, name: 'catalog', replicas: 2 }));

  it('merge patch on /scale works only with the MergePatch content type', async () => {
    const body = { spec: { replicas: 6 } };
    // client-node's default patch type is JSON Patch: a merge-style body is not a patch array.
    await expect(custom.patchNamespacedCustomObjectScale({ ...ref, body })).rejects.toMatchObject({ code: 400 });
    await expect(custom.patchNamespacedCustomObjectScale({ ...ref, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch))).rejects.toMatchObject({
      code: 415,
    });
    const ok = (await custom.patchNamespacedCustomObjectScale({ ...ref, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as { spec: { replicas: number } };
    expect(ok.spec.replicas).toBe(6);
    expect(replicas('catalog')).toBe(6);
  });

  it('a patch carrying a stale resourceVersion gets 409 with a Conflict Status, a current one succeeds', async () => {
    const cur = (await custom.getNamespacedCustomObjectScale(ref)) as { metadata: { resourceVersion: string } };
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const stale = { metadata: { resourceVersion: String(Number(cur.metadata.resourceVersion) - 1) }, spec: { replicas: 8 } };
    const err = (await custom.patchNamespacedCustomObjectScale({ ...ref, body: stale }, merge).catch((e: unknown) => e)) as { code: number; body: unknown };
    expect(err.code).toBe(409);
    expect(statusMessage(err.body)).toBe(
      'Conflict: Operation cannot be fulfilled on clonesets.apps.kruise.io "catalog": the object has been modified; please apply your changes to the latest version and try again',
    );
    const fresh = { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { replicas: 8 } };
    const ok = (await custom.patchNamespacedCustomObjectScale({ ...ref, body: fresh }, merge)) as { spec: { replicas: number }; metadata: { resourceVersion: string } };
    expect(ok.spec.replicas).toBe(8);
    expect(Number(ok.metadata.resourceVersion)).toBeGreaterThan(Number(cur.metadata.resourceVersion));
  });

  it('replacing /scale checks resourceVersion too, and validates replicas', async () => {
    const cur = (await custom.getNamespacedCustomObjectScale(ref)) as Record<string, unknown> & { metadata: { resourceVersion: string } };
    standin.mutateCloneSet(NS, 'catalog', (o) => ((o.metadata as Record<string, unknown>).labels = { x: 'y' }));
    await expect(custom.replaceNamespacedCustomObjectScale({ ...ref, body: { ...cur, spec: { replicas: 1 } } })).rejects.toMatchObject({ code: 409 });
    const neg = await custom.replaceNamespacedCustomObjectScale({ ...ref, body: { ...cur, metadata: {}, spec: { replicas: -1 } } }).catch((e: unknown) => e);
    expect(neg).toMatchObject({ code: 422 });
    expect(statusMessage((neg as { body: unknown }).body)).toContain('spec.replicas: Invalid value: -1: must be greater than or equal to 0');
  });

  it('rejects requests without the bearer token (401)', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${standin.url}/apis`, { rejectUnauthorized: false }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('serves discovery for the groups prescale uses, with the scale subresource from the CRD', async () => {
    const r = await kubectl('get', '--raw', '/apis/apps.kruise.io/v1alpha1');
    const list = JSON.parse(r.stdout) as { resources: { name: string; kind: string; group?: string; version?: string; shortNames?: string[] }[] };
    expect(list.resources.find((x) => x.name === 'clonesets')).toMatchObject({ kind: 'CloneSet', shortNames: ['clone'] });
    expect(list.resources.find((x) => x.name === 'clonesets/scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1' });
    const groups = JSON.parse((await kubectl('get', '--raw', '/apis')).stdout) as { groups: { name: string; preferredVersion: { version: string } }[] };
    expect(groups.groups.map((g) => `${g.name}/${g.preferredVersion.version}`).sort()).toEqual(['apps.kruise.io/v1alpha1', 'autoscaling/v2', 'coordination.k8s.io/v1']);
  });
});

describe('the scale subresource comes from the CRD, not from code', () => {
  it('follows a CRD whose specReplicasPath is different', async () => {
    const crd = readFileSync(CRD_PATH, 'utf8').replace('specReplicasPath: .spec.replicas', 'specReplicasPath: .spec.desired');
    expect(crd).toContain('specReplicasPath: .spec.desired');
    const crdPath = join(dir, 'crd.yaml');
    writeFileSync(crdPath, crd);
    const other = new KubeStandIn({ crdPath });
    await other.start();
    try {
      other.addCloneSet({ namespace: NS, name: 'x', replicas: 3 });
      const kc = new KubeConfig();
      kc.loadFromString(other.kubeconfig());
      const api = kc.makeApiClient(CustomObjectsApi);
      const ref = { group: 'apps.kruise.io', version: 'v1alpha1', namespace: NS, plural: 'clonesets', name: 'x' };
      await api.patchNamespacedCustomObjectScale({ ...ref, body: { spec: { replicas: 4 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      expect(other.getCloneSet(NS, 'x')?.spec).toMatchObject({ desired: 4, replicas: 3 });
      expect(await api.getNamespacedCustomObjectScale(ref)).toMatchObject({ spec: { replicas: 4 }, status: { replicas: 3 } });
    } finally {
      await other.stop();
    }
  });
});
