import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeDevCerts, type DevCertPaths } from '../../src/certs.js';
import { ROOT } from '../support/cluster.js';
import { writeDeployOverlay } from '../support/deploy-overlay.js';
import { freePort } from '../support/moto.js';
import { PrescaleProcess } from '../support/prescale-process.js';
import { writeSyntheticTrace } from '../support/synthetic-trace.js';
import { until as pollUntil } from '../support/until.js';
import { cloneSetYaml, TestCluster } from '../support/test-cluster.js';

/**
 * The PredictiveScaler controller on a real control plane (etcd, kube-apiserver, kube-controller-manager with the
 * HPA controller and the garbage collector): `prescale serve` runs as a process beside it, as its ServiceAccount
 * under deploy/base's RBAC, with the controller on and no target in its config, and serves the external metrics API
 * through the real aggregator. Everything is driven with kubectl, as a user would.
 *
 * This suite runs its own control plane: it registers the cluster-wide external metrics APIService, as the e2e
 * suite does on the shared one. No pod runs (no kubelet); the CloneSets' status is kept in step with their spec by
 * `keepCloneSetStatus`, as kruise-manager would report it. The model is seasonal-naive on a synthetic trace (300
 * QPS, a daily spike), and the cycle runs every 5 s instead of every minute.
 */

const NS = 'shop';
const SA_USER = 'system:serviceaccount:prescale:prescale';
let cluster: TestCluster;
let dir: string;
let certs: DevCertPaths;
let prescale: PrescaleProcess | undefined;
let metricsPort: number;
let httpPort: number;
let trace: string;

type Obj = Record<string, unknown>;
interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface Ps {
  metadata: { uid: string; generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    model?: { kind: string };
    forecast?: { peakP50: number; peakP90: number; windowMinutes: number };
    capacity?: { target: string; planned: number; hpa?: string }[];
    plannedReplicas?: number;
  };
}
interface Hpa {
  metadata: { name: string; ownerReferences?: { uid: string; kind: string; controller?: boolean }[]; labels?: Record<string, string> };
  spec: { maxReplicas: number; minReplicas: number; metrics: Obj[] };
  status?: { currentMetrics?: { type: string; external?: { current?: { averageValue?: string } } }[] };
}

function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  return pollUntil(what, probe, { limitMs, intervalMs: 500, context: () => (prescale ? `prescale log:\n${prescale.tail(20)}` : '') });
}

async function getJson<T>(args: string[]): Promise<T | undefined> {
  const r = await cluster.kubectl(['get', ...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

const ps = (name: string): Promise<Ps | undefined> => getJson<Ps>(['predictivescalers.prescale.io', name, '-n', NS]);
const hpa = (name: string): Promise<Hpa | undefined> => getJson<Hpa>(['hpa', name, '-n', NS]);
const cond = (p: Ps | undefined, type: string): Condition | undefined => p?.status?.conditions?.find((c) => c.type === type);

/** Server-side apply taking over fields an earlier `kubectl patch` set (a user re-applying their manifest). */
const forceApply = (yaml: string): Promise<string> => cluster.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=prescale-tests', '-f', '-'], { input: yaml });

function psYaml(name: string, o: { cloneSet: string; maxReplicas?: number; minReplicas?: number; mode?: string; annotations?: Obj; workload?: { apiVersion: string; kind: string } }): string {
  return stringify({
    apiVersion: 'prescale.io/v1alpha1',
    kind: 'PredictiveScaler',
    metadata: { name, namespace: NS, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      ...(o.mode ? { mode: o.mode } : {}),
      history: { source: 'csv', path: trace, valueColumn: 'qps', unit: 'per-second', days: 14, replay: { align: 'week' } },
      forecast: { model: 'seasonal-naive', horizonMinutes: 30, stepMinutes: 5 },
      scaleTargets: [
        {
          scaleTargetRef: { ...(o.workload ?? { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet' }), name: o.cloneSet },
          qpsPerReplica: 100,
          minReplicas: o.minReplicas ?? 2,
          maxReplicas: o.maxReplicas ?? 50,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      ],
    },
  });
}

beforeAll(async () => {
  cluster = await TestCluster.own();
  dir = join(cluster.info.dir, `controller-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  certs = await writeDevCerts(join(dir, 'certs'));
  [metricsPort, httpPort] = await Promise.all([freePort(), freePort()]);
  trace = join(dir, 'trace.csv');
  writeSyntheticTrace(trace, { baseQps: 300, spikeQps: 3000, spikeAt: Date.now() + 6 * 3600_000, spikeMinutes: 30 });
  // deploy/ as shipped, with the Service an ExternalName for localhost and the APIService on this suite's port and CA.
  const overlay = writeDeployOverlay(dir, { caCertFile: certs.caCert, metricsPort });
  await cluster.kubectlOk(['apply', '--server-side', '-f', join(ROOT, 'deploy/crd/prescale.io_predictivescalers.yaml')]);
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/predictivescalers.prescale.io']);
  await cluster.kubectlOk(['apply', '--server-side', '-k', overlay]);
  await cluster.kubectlOk(['create', 'namespace', NS]);
  cluster.keepCloneSetStatus(NS);
  await cluster.apply(cloneSetYaml({ namespace: NS, name: 'web', replicas: 2 }));
  await cluster.apply(cloneSetYaml({ namespace: NS, name: 'api', replicas: 2 }));

  const token = await cluster.token('prescale', 'prescale');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    stringify({
      kubernetes: { kubeconfig: cluster.kubeconfigFor('prescale-sa', { token }) },
      http: { host: '127.0.0.1', port: httpPort },
      metricsApi: { enabled: true, host: '127.0.0.1', port: metricsPort, certFile: certs.serverCert, keyFile: certs.serverKey, fromConfigMap: true },
      keda: { enabled: false },
      modelsDir: join(dir, 'models'),
      schedule: { forecast: '*/5 * * * * *', retrain: '0 3 * * *' },
      controller: { enabled: true, namespaces: [NS], resyncSeconds: 10, allowLocalFiles: true },
      targets: [],
    }),
  );
  prescale = PrescaleProcess.start({ config, httpPort, log: join(dir, 'prescale.log') });
  await prescale.ready();
  await cluster.kubectlOk(['wait', '--for=condition=Available', '--timeout=60s', 'apiservice/v1beta1.external.metrics.k8s.io']);
}, 240_000);

afterAll(async () => {
  await prescale?.stop();
  await cluster?.release();
});

describe('PredictiveScaler on a real control plane', () => {
  let uid: string;

  it('kubectl apply: Ready with a forecast, an owned HPA that reads prescale-qps beside the reactive metric, the metric served', async () => {
    const appliedAt = Date.now();
    await cluster.apply(psYaml('web', { cloneSet: 'web' }));
    // Within its first cycle: Ready, forecast by the seasonal baseline while its own model trains in the background.
    const first = await until('PredictiveScaler web Ready with a forecast', async () => {
      const p = await ps('web');
      return cond(p, 'Ready')?.status === 'True' && cond(p, 'ForecastReady')?.status === 'True' ? p : undefined;
    });
    const seconds = (Date.now() - appliedAt) / 1000;
    process.stderr.write(`controller: PredictiveScaler Ready with a forecast (${cond(first, 'ForecastReady')?.reason}) ${seconds.toFixed(1)} s after kubectl apply (cycle every 5 s)\n`);
    expect(first.status?.forecast?.peakP90).toBeGreaterThan(100);
    // Then with its model.
    const ready = await until('PredictiveScaler web forecast by its model', async () => {
      const p = await ps('web');
      return cond(p, 'ForecastReady')?.reason === 'ModelForecast' ? p : undefined;
    });
    uid = ready!.metadata.uid;
    expect(ready!.status?.observedGeneration).toBe(ready!.metadata.generation);
    expect(ready!.status?.model?.kind).toBe('seasonal-naive');
    expect(ready!.status?.forecast?.peakP90).toBeGreaterThan(100);
    expect(ready!.status?.forecast?.windowMinutes).toBe(30);
    expect(cond(ready, 'Fallback')).toMatchObject({ status: 'False', reason: 'ForecastInUse' });
    expect(cond(ready, 'Paused')).toMatchObject({ status: 'False' });
    expect(ready!.status?.capacity?.[0]).toMatchObject({ target: 'cloneset/web', hpa: 'web' });

    const h = (await hpa('web'))!;
    expect(h.metadata.ownerReferences).toEqual([expect.objectContaining({ uid, kind: 'PredictiveScaler', controller: true })]);
    expect(h.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'prescale' });
    expect(h.spec.metrics.map((m) => m.type)).toEqual(['Resource', 'External']);
    expect(h.spec.metrics[1]).toMatchObject({ external: { metric: { name: 'prescale-qps', selector: { matchLabels: { target: 'shop.web', cloneset: 'web' } } }, target: { type: 'AverageValue', averageValue: '100' } } });

    // Served through the aggregator, as the HPA reads it.
    const raw = JSON.parse(await cluster.kubectlOk(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/prescale-qps?labelSelector=target%3Dshop.web%2Ccloneset%3Dweb`])) as { items: { metricLabels: Obj; value: string }[] };
    expect(raw.items.map((i) => i.metricLabels)).toEqual([{ target: 'shop.web', namespace: NS, cloneset: 'web' }]);
    // And the real HPA controller reads it.
    await until('the HPA reads prescale-qps', async () => {
      const s = (await hpa('web'))?.status;
      return s?.currentMetrics?.some((m) => m.type === 'External' && m.external?.current?.averageValue !== undefined) ? true : undefined;
    });
  }, 120_000);

  it('kubectl get psc shows the printer columns', async () => {
    const out = await cluster.kubectlOk(['get', 'psc', '-n', NS]);
    const [header, row] = out.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'TARGET', 'MODE', 'MODEL', 'P90', 'PLANNED', 'READY', 'AGE']);
    expect(row.split(/\s+/).slice(0, 4)).toEqual(['web', 'web', 'Auto', 'seasonal-naive']);
    expect(row.split(/\s+/)[6]).toBe('True');
    // And kubectl explain reads the field descriptions the CRD carries from the zod schema.
    expect(await cluster.kubectlOk(['explain', 'psc.spec.scaleTargets.qpsPerReplica'])).toMatch(/Requests per second one replica serves/);
  });

  it('an edit takes effect without a restart: the HPA follows, the status reports the new generation', async () => {
    const pid = prescale!.pid;
    await cluster.kubectlOk(['patch', 'psc', 'web', '-n', NS, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/scaleTargets/0/maxReplicas', value: 7 }])]);
    await until('HPA maxReplicas 7', async () => ((await hpa('web'))?.spec.maxReplicas === 7 ? true : undefined));
    const p = await until('status of generation 2', async () => {
      const x = await ps('web');
      return x?.status?.observedGeneration === 2 && cond(x, 'Ready')?.observedGeneration === 2 ? x : undefined;
    });
    expect(cond(p, 'Ready')?.status).toBe('True');
    expect(prescale!.pid).toBe(pid);
  });

  it('a spec the CRD schema refuses is rejected by kubectl, naming the field', async () => {
    const bad = psYaml('broken', { cloneSet: 'web' }).replace('qpsPerReplica: 100', 'qpsPerReplica: lots');
    const r = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: bad });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.scaleTargets\[0\]\.qpsPerReplica/);
  });

  it('a spec only prescale can judge is reported in a condition naming the field, and the last valid one keeps running', async () => {
    await forceApply(psYaml('web', { cloneSet: 'web', maxReplicas: 7, minReplicas: 9 }));
    const p = await until('Ready False InvalidSpec', async () => {
      const x = await ps('web');
      return cond(x, 'Ready')?.reason === 'InvalidSpec' ? x : undefined;
    });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', observedGeneration: 3 });
    expect(cond(p, 'Ready')?.message).toMatch(/^spec\.scaleTargets\[0\]\.minReplicas: minReplicas must not exceed maxReplicas \(9 given\); still running generation 2/);
    expect((await hpa('web'))?.spec.maxReplicas).toBe(7);
    const events = await cluster.kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=web,involvedObject.kind=PredictiveScaler', '-o', 'jsonpath={.items[*].reason}']);
    expect(events.split(' ')).toEqual(expect.arrayContaining(['HPACreated', 'ModelChosen', 'HPAUpdated', 'InvalidSpec']));
    await forceApply(psYaml('web', { cloneSet: 'web', maxReplicas: 7 }));
    await until('Ready again', async () => (cond(await ps('web'), 'Ready')?.status === 'True' ? true : undefined));
  });

  it('an HPA of the workload it does not own, under any name, is left alone until annotated; adopted, it keeps its name', async () => {
    // Two HPAs on one workload stop its autoscaling (AmbiguousSelector): prescale must not add its own beside this one.
    await cluster.apply(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api-cpu, namespace: ${NS}}
spec:
  scaleTargetRef: {apiVersion: apps.kruise.io/v1alpha1, kind: CloneSet, name: api}
  minReplicas: 1
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
`);
    await cluster.apply(psYaml('api', { cloneSet: 'api' }));
    const conflict = await until('Ready False HPAConflict', async () => {
      const x = await ps('api');
      return cond(x, 'Ready')?.reason === 'HPAConflict' ? x : undefined;
    });
    expect(cond(conflict, 'Ready')?.message).toMatch(/^HPA shop\/api-cpu targets CloneSet api too .*annotate it prescale\.io\/adopt=api/);
    expect(await hpa('api')).toBeUndefined();
    expect((await hpa('api-cpu'))?.spec.maxReplicas).toBe(3);
    await cluster.kubectlOk(['annotate', 'hpa', 'api-cpu', '-n', NS, 'prescale.io/adopt=api']);
    const adopted = await until('the HPA adopted', async () => {
      const h = await hpa('api-cpu');
      return h?.spec.maxReplicas === 50 ? h : undefined;
    });
    expect(adopted.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'PredictiveScaler', controller: true });
    const ready = await until('Ready', async () => ((x) => (cond(x, 'Ready')?.status === 'True' ? x : undefined))(await ps('api')));
    expect(cond(ready, 'Ready')?.reason).toBe('Planning');
    expect(ready.status?.capacity?.[0].hpa).toBe('api-cpu');
    expect(await hpa('api')).toBeUndefined();
  });

  it('the owned HPA is not rewritten at each resync although the apiserver fills in its behavior', async () => {
    const count = async (): Promise<number> =>
      (await cluster.kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=api,involvedObject.kind=PredictiveScaler,reason=HPAUpdated', '-o', 'jsonpath={.items[*].reason}'])).split(' ').filter(Boolean).length;
    const before = await count();
    await new Promise((r) => setTimeout(r, 25_000)); // two resyncs (resyncSeconds 10)
    expect(await count()).toBe(before);
  }, 40_000);

  it('paused by annotation: the served metric is the observed load, so the HPA scales reactively only', async () => {
    await cluster.kubectlOk(['annotate', 'psc', 'api', '-n', NS, 'prescale.io/paused=true']);
    const p = await until('Paused by the annotation', async () => ((x) => (cond(x, 'Paused')?.reason === 'Annotation' ? x : undefined))(await ps('api')));
    expect(p.status?.forecast?.peakP90).toBeGreaterThan(0);
    const served = await until('observed load served', async () => {
      const raw = JSON.parse(await cluster.kubectlOk(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/prescale-qps?labelSelector=target%3Dshop.api`])) as { items: { metricLabels: Obj }[] };
      return raw.items[0]?.metricLabels.stale === 'true' ? raw.items[0] : undefined;
    });
    expect(served.metricLabels).toMatchObject({ target: 'shop.api', cloneset: 'api' });
    expect((await cluster.kubectlOk(['get', 'psc', 'api', '-n', NS, '-o', 'jsonpath={.status.mode}'])).trim()).toBe('Paused');
    await cluster.kubectlOk(['annotate', 'psc', 'api', '-n', NS, 'prescale.io/paused-']);
  });

  it('Preview: it forecasts and reports, and its HPA keeps only the reactive metrics (nothing acts on the forecast)', async () => {
    await cluster.apply(psYaml('api', { cloneSet: 'api', mode: 'Preview' }));
    const h = await until('the HPA without prescale-qps', async () => ((x) => (x && x.spec.metrics.every((m) => m.type !== 'External') ? x : undefined))(await hpa('api-cpu')));
    expect(h.spec.metrics.map((m) => m.type)).toEqual(['Resource']);
    const preview = await until('Paused by Preview', async () => {
      const x = await ps('api');
      return cond(x, 'Paused')?.reason === 'Preview' && cond(x, 'Ready')?.reason === 'Previewing' && cond(x, 'ForecastReady')?.status === 'True' ? x : undefined;
    });
    expect(preview.status?.forecast?.peakP90).toBeGreaterThan(0);
  });

  it('a Deployment is a scale target too: its HPA targets it and its metric is served', async () => {
    await cluster.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: front, namespace: ${NS}}
spec:
  replicas: 2
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec: {containers: [{name: front, image: registry.example/front:1}]}
`);
    await cluster.apply(psYaml('front', { cloneSet: 'front', workload: { apiVersion: 'apps/v1', kind: 'Deployment' } }));
    const p = await until('PredictiveScaler front Ready with a forecast', async () => {
      const x = await ps('front');
      return cond(x, 'Ready')?.status === 'True' && cond(x, 'ForecastReady')?.status === 'True' ? x : undefined;
    });
    expect(p.status?.capacity?.[0]).toMatchObject({ target: 'deployment/front', hpa: 'front' });
    expect((await getJson<{ spec: { scaleTargetRef: Obj } }>(['hpa', 'front', '-n', NS]))?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'front' });
    const raw = JSON.parse(await cluster.kubectlOk(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/prescale-qps?labelSelector=target%3Dshop.front`])) as { items: { metricLabels: Obj }[] };
    expect(raw.items.map((i) => i.metricLabels)).toEqual([{ target: 'shop.front', namespace: NS, cloneset: 'front' }]);
  });

  it('kubectl delete: the HPA is garbage-collected and the target dropped', async () => {
    await cluster.kubectlOk(['delete', 'psc', 'web', '-n', NS]);
    await until('HPA web garbage-collected', async () => ((await hpa('web')) === undefined ? true : undefined));
    await until('target shop.web dropped', async () => ((await prescale!.json('/api/targets/shop.web'))?.status === 404 ? true : undefined));
    const r = await cluster.kubectl(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/prescale-qps?labelSelector=target%3Dshop.web`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/NotFound|not found|no CloneSet/i);
  });

  it('every call prescale made is one its RBAC grants (the apiserver audit log)', () => {
    const denied = cluster.audit({ user: SA_USER }).filter((e) => (e.responseStatus?.code ?? 200) === 403);
    expect(denied.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});
