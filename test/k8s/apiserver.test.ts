import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { K8sError, KubeClient, statusMessage, type WorkloadRef } from '../../src/k8s/client.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { cloneSetYaml, TestCluster } from '../support/test-cluster.js';

/**
 * Facts about kube-apiserver (v1.36.3, with OpenKruise v1.9.0's CloneSet CRD) that prescale relies on, checked
 * against the real server with kubectl of the same version and @kubernetes/client-node: the CRD's printer
 * columns, short name and scale subresource paths; which patch types a CRD's /scale accepts; the
 * resourceVersion precondition; and the Status bodies behind K8sError's kinds and messages (statusMessage).
 */

let cluster: TestCluster;
let NS: string;
let prescale: { username: string; token: string; kubeconfig: string };
let custom: CustomObjectsApi;
const startedAt = Date.now();

const ref = (name: string) => ({ group: 'apps.kruise.io', version: 'v1alpha1', namespace: NS, plural: 'clonesets', name });
/** The same CloneSet as prescale's ScaleApi names it (kind and apiVersion, resolved through discovery). */
const cs = (name: string): WorkloadRef => ({ namespace: NS, apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name });
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('apiserver');
  prescale = await prescaleUser(cluster, NS);
  custom = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  // No status keeper: each test sets the status it needs, as kruise-manager would report it.
  await cluster.apply(['columns', 'scaled', 'patched'].map((name) => cloneSetYaml({ namespace: NS, name, replicas: 8, manualStatus: true })).join('---\n'));
  await setStatus('columns', { replicas: 7, readyReplicas: 6, availableReplicas: 6, updatedReplicas: 5, updatedReadyReplicas: 4, updatedAvailableReplicas: 3, labelSelector: 'app=columns,from=status' });
});

afterAll(async () => {
  await cluster?.release();
});

async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObjectStatus({ ...ref(name), body: { status } }, merge);
}

async function replicasOf(name: string): Promise<number> {
  return ((await custom.getNamespacedCustomObject(ref(name))) as { spec: { replicas: number } }).spec.replicas;
}

const kubectl = (args: string[], kubeconfig?: string) => cluster.kubectl(args, { kubeconfig });

describe('the CloneSet CRD as the apiserver serves it', () => {
  it("prints kubectl's columns from the CRD's additionalPrinterColumns, each from its own field", async () => {
    const r = await kubectl(['get', 'clonesets.apps.kruise.io', 'columns', '-n', NS]);
    expect(r.stderr).toBe('');
    const [header, row] = r.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'DESIRED', 'UPDATED', 'UPDATED_READY', 'UPDATED_AVAILABLE', 'READY', 'TOTAL', 'AGE']);
    // DESIRED .spec.replicas, UPDATED .status.updatedReplicas, UPDATED_READY .status.updatedReadyReplicas,
    // UPDATED_AVAILABLE .status.updatedAvailableReplicas, READY .status.readyReplicas, TOTAL .status.replicas.
    expect(row).toMatch(/^columns\s+8\s+5\s+4\s+3\s+6\s+7\s+\d+s$/);
  });

  it('resolves the short name clone', async () => {
    const r = await kubectl(['get', 'clone', 'columns', '-n', NS, '-o', 'jsonpath={.kind} {.spec.replicas}']);
    expect(r.stdout).toBe('CloneSet 8');
  });

  it('builds /scale from the CRD paths: spec.replicas, status.replicas and status.labelSelector', async () => {
    const r = await kubectl(['get', '--raw', `/apis/apps.kruise.io/v1alpha1/namespaces/${NS}/clonesets/columns/scale`]);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 8 }, status: { replicas: 7, selector: 'app=columns,from=status' } });
    const view = await KubeClient.fromOptions({ kubeconfigPath: prescale.kubeconfig }).getScale(cs('columns'));
    expect(view).toMatchObject({ replicas: 8, statusReplicas: 7 });
    expect(view.resourceVersion).toMatch(/^\d+$/);
  });

  it('lists clonesets/scale in discovery as autoscaling/v1 Scale, beside the groups prescale uses', async () => {
    const list = JSON.parse((await kubectl(['get', '--raw', '/apis/apps.kruise.io/v1alpha1'])).stdout) as { resources: Record<string, unknown>[] };
    expect(list.resources.find((x) => x.name === 'clonesets')).toMatchObject({ kind: 'CloneSet', namespaced: true, shortNames: ['clone'] });
    expect(list.resources.find((x) => x.name === 'clonesets/scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] });
    const groups = JSON.parse((await kubectl(['get', '--raw', '/apis'])).stdout) as { groups: { name: string; preferredVersion: { version: string } }[] };
    expect(groups.groups.map((g) => `${g.name}/${g.preferredVersion.version}`)).toEqual(expect.arrayContaining(['apps.kruise.io/v1alpha1', 'autoscaling/v2', 'coordination.k8s.io/v1']));
  });
});

describe('patching /scale of a CRD', () => {
  it('kubectl scale goes through /scale, so the deploy RBAC (clonesets get, clonesets/scale patch) is enough for it', async () => {
    const r = await kubectl(['scale', 'clonesets/scaled', '-n', NS, '--replicas=5'], prescale.kubeconfig);
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, 'cloneset.apps.kruise.io/scaled scaled', '']);
    expect(await replicasOf('scaled')).toBe(5);
    const writes = cluster.audit({ user: prescale.username, since: startedAt }).filter((e) => e.objectRef?.name === 'scaled' && e.verb !== 'get');
    expect(writes.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource} ${e.responseStatus?.code}`)).toEqual(['patch clonesets/scale 200']);
  });

  it.each([
    ['merge', '{"spec":{"replicas":9}}', 9],
    ['json', '[{"op":"replace","path":"/spec/replicas","value":4}]', 4],
  ])('accepts kubectl patch --type=%s --subresource=scale', async (type, patch, expected) => {
    const r = await kubectl(['patch', 'clonesets/patched', '-n', NS, `--type=${type}`, '--subresource=scale', '-p', patch]);
    expect([r.code, r.stdout.trim()]).toEqual([0, 'scale.autoscaling/patched patched']);
    expect(await replicasOf('patched')).toBe(expected);
  });

  it('refuses a strategic merge patch with 415 UnsupportedMediaType (CRDs have no patch strategies)', async () => {
    const before = await replicasOf('patched');
    const r = await kubectl(['patch', 'clonesets/patched', '-n', NS, '--type=strategic', '--subresource=scale', '-p', '{"spec":{"replicas":1}}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      'error: application/strategic-merge-patch+json is not supported by apps.kruise.io/v1alpha1, Kind=CloneSet: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
    expect(await replicasOf('patched')).toBe(before);
  });

  it("with client-node: a merge body works only with the MergePatch content type (client-node's default is JSON Patch)", async () => {
    const body = { spec: { replicas: 6 } };
    const asJsonPatch = await custom.patchNamespacedCustomObjectScale({ ...ref('patched'), body }).catch((e: unknown) => e);
    expect(asJsonPatch).toMatchObject({ code: 400 });
    expect(statusMessage((asJsonPatch as { body: unknown }).body)).toBe('BadRequest: error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
    const asStrategic = await custom.patchNamespacedCustomObjectScale({ ...ref('patched'), body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)).catch((e: unknown) => e);
    expect(asStrategic).toMatchObject({ code: 415 });
    expect(statusMessage((asStrategic as { body: unknown }).body)).toBe(
      'UnsupportedMediaType: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
    const ok = (await custom.patchNamespacedCustomObjectScale({ ...ref('patched'), body }, merge)) as { spec: { replicas: number } };
    expect(ok.spec.replicas).toBe(6);
    expect(await replicasOf('patched')).toBe(6);
  });

  it("takes a patch's resourceVersion as a precondition: a stale one is a 409 Conflict (K8sError conflict), the current one succeeds", async () => {
    const client = KubeClient.fromOptions({ kubeconfigPath: prescale.kubeconfig });
    const cur = await client.getScale(cs('patched'));
    await kubectl(['label', 'clonesets.apps.kruise.io', 'patched', '-n', NS, 'touched=yes']);
    const err = await client.patchScaleReplicas({ ref: cs('patched'), replicas: 2, resourceVersion: cur.resourceVersion }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sError);
    expect(err).toMatchObject({ kind: 'conflict', status: 409 });
    expect((err as Error).message).toBe(
      `patch clonesets/scale ${NS}/patched: HTTP 409 Conflict: Operation cannot be fulfilled on clonesets.apps.kruise.io "patched": the object has been modified; please apply your changes to the latest version and try again`,
    );
    expect(await replicasOf('patched')).toBe(cur.replicas);
    const fresh = await client.getScale(cs('patched'));
    expect(Number(fresh.resourceVersion)).toBeGreaterThan(Number(cur.resourceVersion));
    const ok = await client.patchScaleReplicas({ ref: cs('patched'), replicas: 2, resourceVersion: fresh.resourceVersion });
    expect(ok.replicas).toBe(2);
    expect(Number(ok.resourceVersion)).toBeGreaterThan(Number(fresh.resourceVersion));
  });

  it('refuses negative replicas with 422 Invalid from the CRD schema', async () => {
    const err = await KubeClient.fromOptions({ kubeconfigPath: prescale.kubeconfig })
      .patchScaleReplicas({ ref: cs('patched'), replicas: -1 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'invalid', status: 422 });
    expect((err as Error).message).toBe(`patch clonesets/scale ${NS}/patched: HTTP 422 Invalid: CloneSet.apps.kruise.io "patched" is invalid: .spec.replicas: Invalid value: -1: should be a non-negative integer`);
  });
});

describe('Status bodies behind K8sError', () => {
  it('NotFound: kubectl and K8sError show the same Status message', async () => {
    const nf = await kubectl(['get', 'clonesets', 'nope', '-n', NS]);
    expect(nf.stderr.trim()).toBe('Error from server (NotFound): clonesets.apps.kruise.io "nope" not found');
    const err = await KubeClient.fromOptions({ kubeconfigPath: prescale.kubeconfig }).getScale(cs('nope')).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'not-found', status: 404, message: `get clonesets/scale ${NS}/nope: HTTP 404 NotFound: clonesets.apps.kruise.io "nope" not found` });
  });

  it('Forbidden names the user, the verb, the resource with its subresource, the group and the namespace', async () => {
    const nobody = await cluster.serviceAccountUser(NS, 'nobody');
    const fb = await kubectl(['get', 'clonesets', 'columns', '-n', NS], nobody.kubeconfig);
    expect(fb.stderr.trim()).toBe(
      `Error from server (Forbidden): clonesets.apps.kruise.io "columns" is forbidden: User "${nobody.username}" cannot get resource "clonesets" in API group "apps.kruise.io" in the namespace "${NS}"`,
    );
    const client = KubeClient.fromOptions({ kubeconfigPath: nobody.kubeconfig });
    await expect(client.getScale(cs('columns'))).rejects.toMatchObject({
      kind: 'forbidden',
      status: 403,
      message: `get clonesets/scale ${NS}/columns: HTTP 403 Forbidden: clonesets.apps.kruise.io "columns" is forbidden: User "${nobody.username}" cannot get resource "clonesets/scale" in API group "apps.kruise.io" in the namespace "${NS}"`,
    });
    await expect(client.listHpas(NS)).rejects.toMatchObject({
      kind: 'forbidden',
      message: `list horizontalpodautoscalers in ${NS}: HTTP 403 Forbidden: horizontalpodautoscalers.autoscaling is forbidden: User "${nobody.username}" cannot list resource "horizontalpodautoscalers" in API group "autoscaling" in the namespace "${NS}"`,
    });
  });

  it('a token the apiserver does not know is 401 Unauthorized; no credentials at all is the anonymous user, 403', async () => {
    // The first request of a fresh client is the kind's discovery (GET /apis/GROUP/VERSION), so that is what fails.
    // client-node drops a 401's Status body (its API spec declares 401 without one): K8sError says the HTTP reason.
    const bad = KubeClient.fromOptions({ kubeconfigPath: cluster.kubeconfigFor(`${NS}-bad-token`, { token: 'not-a-token' }) });
    await expect(bad.getScale(cs('columns'))).rejects.toMatchObject({ kind: 'unauthorized', status: 401, message: 'discover CloneSet (GET /apis/apps.kruise.io/v1alpha1): HTTP 401 Unauthorized' });
    // Discovery is granted to authenticated users only (ClusterRole system:discovery), not to anonymous ones.
    const anon = KubeClient.fromOptions({ kubeconfigPath: cluster.kubeconfigFor(`${NS}-anonymous`, { token: '' }) });
    await expect(anon.getScale(cs('columns'))).rejects.toMatchObject({
      kind: 'forbidden',
      status: 403,
      message: 'discover CloneSet (GET /apis/apps.kruise.io/v1alpha1): HTTP 403 Forbidden: forbidden: User "system:anonymous" cannot get path "/apis/apps.kruise.io/v1alpha1"',
    });
  });

  it('a Lease update without resourceVersion is refused (422), so a replace can never overwrite unconditionally', async () => {
    const client = KubeClient.fromOptions({ kubeconfigPath: prescale.kubeconfig });
    const lease = { holderIdentity: 'pod-a', leaseDurationSeconds: 15, renewTimeMs: Date.UTC(2026, 10, 27, 12, 0), leaseTransitions: 0, resourceVersion: '' };
    await client.createLease(NS, 'unconditional', lease);
    await expect(client.replaceLease(NS, 'unconditional', { ...lease, holderIdentity: 'pod-b' })).rejects.toMatchObject({
      kind: 'invalid',
      status: 422,
      message: `update leases ${NS}/unconditional: HTTP 422 Invalid: leases.coordination.k8s.io "unconditional" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`,
    });
    expect((await client.getLease(NS, 'unconditional'))?.holderIdentity).toBe('pod-a');
    // A second create is 409 AlreadyExists, which the elector counts as a lost race like a Conflict.
    await expect(client.createLease(NS, 'unconditional', lease)).rejects.toMatchObject({ kind: 'conflict', status: 409, message: `create leases ${NS}/unconditional: HTTP 409 AlreadyExists: leases.coordination.k8s.io "unconditional" already exists` });
  });
});
