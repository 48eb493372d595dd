import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { writeDevCerts, type DevCertPaths } from '../../src/certs.js';
import { isCallUsed } from '../../src/k8s/rbac.js';
import { METRICS_API_K8S_CALLS } from '../../src/metrics-api/auth.js';
import { forbidden, settledAudit } from '../support/audit-calls.js';
import { ROOT, httpsGet } from '../support/cluster.js';
import { writeDeployOverlay } from '../support/deploy-overlay.js';
import { freePort } from '../support/moto.js';
import { PrescaleProcess } from '../support/prescale-process.js';
import { until as pollUntil } from '../support/until.js';
import { writeSyntheticTrace } from '../support/synthetic-trace.js';
import { cloneSetYaml, TestCluster } from '../support/test-cluster.js';

/**
 * End to end on a real control plane: deploy/ applied server-side as shipped, prescale running as its
 * ServiceAccount under that RBAC, the real aggregator reaching prescale's external metrics API with its
 * front-proxy certificate, and the real HPA controller scaling the CloneSet of deploy/examples/hpa-cloneset.yaml
 * from prescale's forecast ahead of a spike.
 *
 * What is not real, and why:
 * - No pod runs (no kubelet), so prescale runs as a process beside the control plane. A test overlay of deploy/
 *   turns the prescale Service into an ExternalName for localhost and sets the APIService's port and caBundle
 *   (the development CA of `prescale certs`); every other object is applied exactly as shipped.
 * - No kruise-manager (the Go module proxy does not serve github.com/openkruise/kruise): `keepCloneSetStatus`
 *   sets the CloneSet's status from its spec.replicas, as kruise-manager reports once the pods are ready.
 * - No metrics-server: the example HPA's CPU metric is invalid throughout. The HPA still scales up on the valid
 *   external metric (it ignores invalid metrics when the valid ones ask for more), and never scales down. A
 *   second CloneSet, api, has an HPA that reads prescale-qps alone.
 * - deploy/examples/keda-scaledobject.yaml is not applied: KEDA's CRDs are not installed here.
 * - The model is seasonal-naive instead of deploy's `auto` (which trains for minutes); the trace is
 *   synthetic: 300 QPS with a daily 30-minute spike to 3000 QPS, timestamped in wall time so the replay shows
 *   it as live. Time is not compressed: the test waits for the wall clock to reach the moment the spike is due.
 */

const SA_USER = 'system:serviceaccount:prescale:prescale';
const LEAD_MINUTES = 3; // deploy/base/config.yaml, CloneSet shop/web
const MINUTE = 60_000;

let cluster: TestCluster;
let dir: string;
let certs: DevCertPaths;
let prescale: PrescaleProcess | undefined;
let metricsPort: number;
let httpPort: number;
/** When the spike of the trace starts today (wall time), and the 5-minute boundary from which it is forecast. */
let spikeAt: number;
let dueAt: number;
const startedAt = Date.now();

type Obj = Record<string, unknown>;

function deployConfig(): Obj {
  const cm = parseAllDocuments(readFileSync(join(ROOT, 'deploy/base/config.yaml'), 'utf8'))[0].toJS() as { data: Record<string, string> };
  return parseYaml(cm.data['config.yaml']) as Obj;
}

/**
 * deploy/base/config.yaml's prescale config, changed only where a process beside the control plane must differ:
 * the kubeconfig (a ServiceAccount token), loopback ports and files, the history (a CSV replay instead of the
 * cluster's Prometheus), the model, and no Lambda actuator (this suite has no AWS).
 */
function e2eConfig(kubeconfig: string, trace: string): string {
  const c = deployConfig() as Obj & { targets: Obj[] };
  const t = c.targets[0] as Obj & { actuators: Obj[]; forecast: Obj };
  c.kubernetes = { kubeconfig };
  c.http = { host: '127.0.0.1', port: httpPort };
  c.metricsApi = { ...(c.metricsApi as Obj), host: '127.0.0.1', port: metricsPort, certFile: certs.serverCert, keyFile: certs.serverKey };
  c.keda = { enabled: false };
  c.modelsDir = join(dir, 'models');
  c.audit = { file: join(dir, 'audit.log') };
  c.aws = undefined;
  t.history = { source: 'csv', path: trace, valueColumn: 'qps', unit: 'per-second', days: 14, replay: { align: 'week' } };
  t.forecast = { ...t.forecast, model: 'seasonal-naive' };
  t.eventsFile = undefined;
  const web = t.actuators.find((a) => a.kind === 'cloneset');
  if (!web) throw new Error('deploy/base/config.yaml has no CloneSet actuator');
  // A second CloneSet, whose HPA reads prescale-qps alone (see the last test).
  t.actuators = [web, { ...web, name: 'api' }];
  return stringify(JSON.parse(JSON.stringify(c)));
}

interface HpaStatus {
  desiredReplicas?: number;
  currentReplicas?: number;
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

async function hpaStatus(name = 'web'): Promise<HpaStatus> {
  return (JSON.parse(await cluster.kubectlOk(['get', 'hpa', name, '-n', 'shop', '-o', 'json'])) as { status?: HpaStatus }).status ?? {};
}

async function cloneSetReplicas(name = 'web'): Promise<number> {
  return Number(await cluster.kubectlOk(['get', 'clonesets.apps.kruise.io', name, '-n', 'shop', '-o', 'jsonpath={.spec.replicas}']));
}

interface ApiTarget {
  actuators: { id: string; plannedCapacity: number | null; plannedQps: number | null }[];
  actions: { atMs: number; actuator: string; action: string; result: string; detail: string }[];
}

async function target(): Promise<ApiTarget> {
  const r = await prescale?.json<ApiTarget>('/api/targets/shop');
  if (!r || r.status !== 200) throw new Error(`GET /api/targets/shop: ${r?.status ?? 'no answer'}`);
  return r.body;
}

async function planned(): Promise<number> {
  return Number((await target()).actuators.find((a) => a.id === 'cloneset:shop/web')?.plannedCapacity);
}

/** Polls until the probe gives a value; on time-out the error carries the processes' logs. */
function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs: number): Promise<T> {
  return pollUntil(what, probe, { limitMs, intervalMs: 500, context: () => (prescale ? `prescale log:\n${prescale.tail(15)}` : '') });
}

const rawPath = '/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/prescale-qps?labelSelector=target%3Dshop%2Ccloneset%3Dweb';

beforeAll(async () => {
  cluster = await TestCluster.attach();
  dir = join(cluster.info.dir, `e2e-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  certs = await writeDevCerts(join(dir, 'certs'));
  [metricsPort, httpPort] = await Promise.all([freePort(), freePort()]);
  // The spike is forecast from the 5-minute step before it (stepMinutes 5, lead 3: the planner looks two
  // steps ahead); choose it so that prescale's first cycles come before that, and the test sees the rise.
  dueAt = Math.ceil((Date.now() + 80_000) / (5 * MINUTE)) * 5 * MINUTE;
  spikeAt = dueAt + 5 * MINUTE;
});

afterAll(async () => {
  await prescale?.stop();
  await cluster.release();
});

describe('deploy/ on a real control plane', () => {
  it('applies server-side through a test overlay (ExternalName Service for localhost, the dev CA as caBundle)', async () => {
    const overlay = writeDeployOverlay(dir, { caCertFile: certs.caCert, metricsPort });
    await cluster.kubectlOk(['apply', '--server-side', '-k', overlay]);
    await cluster.kubectlOk(['create', 'namespace', 'shop']);
    cluster.keepCloneSetStatus('shop');
    await cluster.apply(cloneSetYaml({ namespace: 'shop', name: 'web', replicas: 2 }));
    await cluster.kubectlOk(['apply', '--server-side', '-f', join(ROOT, 'deploy/examples/hpa-cloneset.yaml')]);
    await cluster.apply(cloneSetYaml({ namespace: 'shop', name: 'api', replicas: 2 }));
    await cluster.apply(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps.kruise.io/v1alpha1, kind: CloneSet, name: api}
  minReplicas: 2
  maxReplicas: 50
  metrics:
    - type: External
      external:
        metric: {name: prescale-qps, selector: {matchLabels: {target: shop, cloneset: api}}}
        target: {type: AverageValue, averageValue: "100"}
`);
    expect(JSON.parse(await cluster.kubectlOk(['get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'json'])).spec.service).toEqual({ name: 'prescale', namespace: 'prescale', port: metricsPort });
  });

  it('deploy/base as shipped also passes the real server validation (server-side dry run, now that its namespace exists)', async () => {
    const out = await cluster.kubectlOk(['apply', '--server-side', '--dry-run=server', '-k', join(ROOT, 'deploy/base')]);
    for (const kind of ['namespace/prescale', 'serviceaccount/prescale', 'clusterrole.rbac.authorization.k8s.io/prescale', 'rolebinding.rbac.authorization.k8s.io/prescale-auth-reader', 'configmap/prescale-config', 'deployment.apps/prescale', 'service/prescale', 'apiservice.apiregistration.k8s.io/v1beta1.external.metrics.k8s.io']) {
      expect(out).toContain(kind);
    }
  });

  it('prescale starts as the ServiceAccount (kubectl create token) and the APIService becomes Available', async () => {
    const token = await cluster.token('prescale', 'prescale');
    const kubeconfig = cluster.kubeconfigFor('prescale-sa', { token });
    const trace = join(dir, 'trace.csv');
    writeSyntheticTrace(trace, { baseQps: 300, spikeQps: 3000, spikeAt, spikeMinutes: 30 });
    const config = join(dir, 'config.yaml');
    writeFileSync(config, e2eConfig(kubeconfig, trace));
    prescale = PrescaleProcess.start({ config, httpPort, log: join(dir, 'prescale.log') });
    await prescale.ready();
    expect(Date.now()).toBeLessThan(dueAt); // its first cycle came before the spike was due
    await cluster.kubectlOk(['wait', '--for=condition=Available', '--timeout=60s', 'apiservice/v1beta1.external.metrics.k8s.io']);
  }, 180_000);

  it('kubectl get --raw through the apiserver reads prescale-qps as a user RBAC allows, and is refused for one it does not', async () => {
    await cluster.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-read-prescale-qps}
rules:
  - apiGroups: [external.metrics.k8s.io]
    resources: [prescale-qps]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-alice-reads-prescale-qps, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-read-prescale-qps}
subjects: [{kind: ServiceAccount, name: alice, namespace: shop}]
`);
    const alice = await cluster.serviceAccountUser('shop', 'alice');
    const bob = await cluster.serviceAccountUser('shop', 'bob');
    const list = JSON.parse(await cluster.kubectlOk(['get', '--raw', rawPath], { kubeconfig: alice.kubeconfig })) as { kind: string; items: { metricLabels: Record<string, string>; value: string }[] };
    expect(list.kind).toBe('ExternalMetricValueList');
    expect(list.items.map((i) => i.metricLabels)).toEqual([{ target: 'shop', namespace: 'shop', cloneset: 'web' }]);
    const refused = await cluster.kubectl(['get', '--raw', rawPath], { kubeconfig: bob.kubeconfig });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/forbidden/i);
    // prescale decides for itself too (delegated authorization, SubjectAccessReview): asked directly with the
    // front-proxy certificate on bob's behalf, it refuses; on alice's, it answers.
    const direct = (user: string) =>
      httpsGet(`https://127.0.0.1:${metricsPort}${rawPath}`, {
        ca: certs.caCert,
        cert: cluster.info.pki.frontProxyClientCert,
        key: cluster.info.pki.frontProxyClientKey,
        headers: { 'X-Remote-User': user, 'X-Remote-Group': 'system:serviceaccounts' },
      });
    expect((await direct(bob.username)).status).toBe(403);
    expect((await direct(alice.username)).status).toBe(200);
  });

  it('the real HPA controller sets the CloneSet replicas from the forecast, at least the lead time before the spike', async () => {
    const timeline: { atMs: number; planned: number; desired?: number; current?: number; cloneset: number }[] = [];
    const sample = async (): Promise<void> => {
      const s = await hpaStatus();
      timeline.push({ atMs: Date.now(), planned: await planned(), desired: s.desiredReplicas, current: s.currentReplicas, cloneset: await cloneSetReplicas() });
    };
    // Before the spike is due: the plan is the normal load's, and the HPA follows it.
    const before = await until('HPA desiredReplicas at the normal plan', async () => {
      await sample();
      const last = timeline[timeline.length - 1];
      return last.desired !== undefined && last.desired === last.planned ? last : undefined;
    }, 60_000);
    expect(before.planned).toBeLessThan(10);
    expect(Date.now()).toBeLessThan(dueAt);
    // Then the cycle at the due step plans for the spike, and the HPA follows within its scale-up policy.
    const reached = await until('HPA desiredReplicas at the spike plan', async () => {
      await sample();
      const last = timeline[timeline.length - 1];
      return last.planned >= 25 && last.desired === last.planned && last.cloneset === last.planned ? last : undefined;
    }, dueAt - Date.now() + 4 * MINUTE);
    const leadMs = spikeAt - reached.atMs;
    const rows = timeline
      .filter((p, i) => i === 0 || p.desired !== timeline[i - 1].desired || p.planned !== timeline[i - 1].planned || i === timeline.length - 1)
      .map((p) => `  spike ${((p.atMs - spikeAt) / 1000).toFixed(0).padStart(5)} s  planned ${String(p.planned).padStart(3)}  desiredReplicas ${String(p.desired).padStart(3)}  CloneSet spec.replicas ${p.cloneset}`);
    process.stderr.write(
      `\nHPA shop/web following prescale (spike at ${new Date(spikeAt).toISOString()}, lead time ${LEAD_MINUTES} min):\n${rows.join('\n')}\n` +
        `desiredReplicas reached the planned ${reached.planned} replicas ${(leadMs / 1000).toFixed(0)} s before the spike (lead time ${LEAD_MINUTES * 60} s)\n`,
    );
    expect(leadMs).toBeGreaterThanOrEqual(LEAD_MINUTES * MINUTE);
  }, 12 * MINUTE);

  it('every call prescale made as its ServiceAccount was allowed by deploy/base RBAC, and is one the code lists', async () => {
    const events = await settledAudit(cluster, { user: SA_USER, since: startedAt });
    const listed = (e: (typeof events)[number]): boolean =>
      isCallUsed({ apiGroup: e.objectRef?.apiGroup ?? '', resource: e.objectRef?.resource ?? '', subresource: e.objectRef?.subresource ?? '', verb: e.verb }) ||
      METRICS_API_K8S_CALLS.some((c) => c.apiGroup === (e.objectRef?.apiGroup ?? '') && c.resource === e.objectRef?.resource && c.verb === e.verb);
    const seen = new Set(events.map((e) => `${e.verb} ${e.objectRef?.apiGroup ?? ''}/${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`));
    // Leases, the HPA list, the CloneSet scale, the request-header ConfigMap and SubjectAccessReviews, at least.
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(['create authorization.k8s.io/subjectaccessreviews', 'get /configmaps', 'get apps.kruise.io/clonesets/scale', 'get coordination.k8s.io/leases', 'list autoscaling/horizontalpodautoscalers']),
    );
    expect(forbidden(events)).toEqual([]);
    expect(events.filter((e) => !listed(e)).map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });

  it('with one rule removed from its ClusterRole, the 403 is recorded and the metric is still served (RELIABILITY.md)', async () => {
    const rbac = parseAllDocuments(readFileSync(join(ROOT, 'deploy/base/rbac.yaml'), 'utf8')).map((d) => d.toJS() as Obj & { kind: string; metadata: { name: string }; rules?: { resources: string[] }[] });
    const role = rbac.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'prescale');
    if (!role?.rules) throw new Error('deploy/base/rbac.yaml has no ClusterRole prescale');
    const without = { ...role, rules: role.rules.filter((r) => !r.resources.includes('horizontalpodautoscalers')) };
    expect(without.rules.length).toBe(role.rules.length - 1);
    // Not server-side apply: kustomize's labels make its field manager own other fields; replace the rules only.
    await cluster.kubectlOk(['replace', '-f', '-'], { input: stringify({ ...without, metadata: { ...without.metadata, labels: { 'app.kubernetes.io/part-of': 'prescale' } } }) });
    const since = Date.now();
    try {
      const rec = await until('a cycle recording the refused HPA list', async () => (await target()).actions.find((a) => a.atMs >= since && a.actuator === 'cloneset:shop/web' && a.action === 'error'), 2 * MINUTE);
      expect(rec.detail).toMatch(/^cannot list HPAs: list horizontalpodautoscalers in shop: HTTP 403 Forbidden: .*horizontalpodautoscalers/);
      const served = (await target()).actions.find((a) => a.atMs === rec.atMs && a.action === 'serve-metric');
      expect(served?.result).toBe('ok');
      const denied = (await settledAudit(cluster, { user: SA_USER, since })).filter((e) => e.responseStatus?.code === 403);
      expect(denied.map((e) => `${e.verb} ${e.objectRef?.resource}`)).toContain('list horizontalpodautoscalers');
      const raw = JSON.parse(await cluster.kubectlOk(['get', '--raw', rawPath])) as { items: unknown[] };
      expect(raw.items).toHaveLength(1);
    } finally {
      await cluster.kubectlOk(['replace', '-f', '-'], { input: stringify({ ...role, metadata: { ...role.metadata, labels: { 'app.kubernetes.io/part-of': 'prescale' } } }) });
    }
  }, 3 * MINUTE);

  it('when prescale stops, the HPA keeps its replicas (ScalingActive=False, FailedGetExternalMetric): no scale-down on a missing metric', async () => {
    // Without a stabilization window a scale-down would happen at once, so keeping the replicas is the HPA's
    // handling of the missing metric, not the window's doing.
    for (const hpa of ['web', 'api']) await cluster.kubectlOk(['patch', 'hpa', hpa, '-n', 'shop', '--type=merge', '-p', '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":0}}}}']);
    const replicas = await cloneSetReplicas();
    const apiReplicas = await cloneSetReplicas('api');
    expect(apiReplicas).toBeGreaterThanOrEqual(25); // api followed the spike forecast too
    await prescale?.stop();
    prescale = undefined;
    const since = Date.now();
    const inactive = await until('ScalingActive=False', async () => (await hpaStatus()).conditions?.find((c) => c.type === 'ScalingActive' && c.status === 'False'), 90_000);
    // The HPA controller's own reads of prescale-qps, as the apiserver recorded them, fail from now on: the
    // error it turns into FailedGetExternalMetric. (Its Events cannot show it: client-go's event correlator lets
    // an object emit 25 events, then one per 5 minutes, and the invalid CPU metric spent that budget long ago.)
    const hpaUser = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';
    const failed = await until(
      "the HPA controller's failed reads of prescale-qps",
      async () => {
        const reads = cluster.audit({ user: hpaUser, since }).filter((e) => e.objectRef?.apiGroup === 'external.metrics.k8s.io' && e.objectRef.resource === 'prescale-qps');
        return reads.length >= 2 ? reads : undefined;
      },
      60_000,
    );
    expect(failed.map((e) => e.responseStatus?.code).filter((c) => c === 200)).toEqual([]);
    // With every metric invalid, the condition names the first one of the spec: CPU here (no metrics-server).
    expect(inactive.reason).toBe('FailedGetResourceMetric');
    // The HPA whose only metric is prescale-qps names it.
    const api = await until('ScalingActive=False on HPA api', async () => (await hpaStatus('api')).conditions?.find((c) => c.type === 'ScalingActive' && c.status === 'False'), 60_000);
    expect(api.reason).toBe('FailedGetExternalMetric');
    expect(api.message).toContain('prescale-qps');
    process.stderr.write(
      `after prescale stopped: ScalingActive=False (${inactive.reason}: ${inactive.message.slice(0, 120)}); the HPA's reads of prescale-qps answered ${[...new Set(failed.map((e) => e.responseStatus?.code))].join(', ')}\n`,
    );
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      expect(await cloneSetReplicas()).toBe(replicas);
      expect((await hpaStatus()).desiredReplicas).toBe(replicas);
      expect(await cloneSetReplicas('api')).toBe(apiReplicas);
    }
  }, 3 * MINUTE);
});
