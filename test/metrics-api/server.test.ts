import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StateStore } from '../../src/service/state.js';
import { ManualClock } from '../../src/util/clock.js';
import { startExternalMetricsServer, type ExternalMetricsServer, type ExternalMetricsServerOptions } from '../../src/metrics-api/server.js';
import { parseQuantity } from '../../src/metrics-api/quantity.js';
import type { Authorizer, AccessRequest, ConfigMapReader } from '../../src/metrics-api/auth.js';
import { generateDevCerts } from '../../src/certs.js';
import { cloneset, get, lambda, makeCerts, T0, target, type TestCerts } from './helpers.js';

/** Runs a command with stdin closed: kubectl prompts for a password on 401 when stdin is open. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve({ stdout }) : reject(Object.assign(new Error(`${cmd} exited ${code}`), { code, stderr }))));
  });
}
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'k8s');
const fixture = (f: string): unknown => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));
const BASE = '/apis/external.metrics.k8s.io/v1beta1';

/** Every key of the upstream example exists in ours with the same JSON type (a null there allows an object). */
function expectSameShape(ours: unknown, upstream: unknown, path = '$'): void {
  if (upstream === null) {
    expect([null, 'object'].includes(ours === null ? null : typeof ours)).toBe(true);
    return;
  }
  if (Array.isArray(upstream)) {
    expect(Array.isArray(ours)).toBe(true);
    for (const item of ours as unknown[]) expectSameShape(item, upstream[0], `${path}[]`);
    return;
  }
  expect({ path, type: typeof ours }).toEqual({ path, type: typeof upstream });
  if (typeof upstream === 'object') {
    for (const [k, v] of Object.entries(upstream as Record<string, unknown>)) {
      expect({ path, keys: Object.keys(ours as object) }).toEqual({ path, keys: expect.arrayContaining([k]) });
      expectSameShape((ours as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  }
}

function store(): StateStore {
  const s = new StateStore();
  s.put(target('web', [cloneset('default', 'web', { plannedQps: 1234.5, plannedCapacity: 13 }), lambda()]));
  s.put(target('api', [cloneset('default', 'api', { plannedQps: 80, plannedCapacity: 1 })], { observedQps: 333 }));
  s.put(target('batch', [cloneset('prod', 'batch', { plannedQps: 10, plannedCapacity: 2 })]));
  return s;
}

let certs: TestCerts;
const servers: ExternalMetricsServer[] = [];
const clock = new ManualClock(T0 + 30_000);

async function start(over: Partial<ExternalMetricsServerOptions> = {}): Promise<ExternalMetricsServer> {
  const s = await startExternalMetricsServer({
    store: store(),
    port: 0,
    host: '127.0.0.1',
    tls: { certFile: certs.paths['server.crt'], keyFile: certs.paths['server.key'] },
    auth: { clientCaFile: certs.paths['ca.crt'], allowedNames: ['front-proxy-client'] },
    staleAfterSeconds: 180,
    stale: 'observed',
    clock,
    reloadSeconds: 0,
    ...over,
  });
  servers.push(s);
  return s;
}

let main: ExternalMetricsServer;

beforeAll(async () => {
  certs = makeCerts();
  main = await start();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(certs.dir, { recursive: true, force: true });
});

describe('kubectl get --raw as a real Kubernetes client', () => {
  function kubeconfig(name: string, withCert: boolean): string {
    // Without a certificate the user holds a bearer token: with no credentials at all kubectl would prompt for a password.
    const user = withCert ? `    client-certificate: ${certs.paths['client.crt']}\n    client-key: ${certs.paths['client.key']}\n` : '    token: not-a-certificate\n';
    const text = `apiVersion: v1
kind: Config
clusters:
- name: prescale
  cluster:
    server: https://127.0.0.1:${main.port}
    certificate-authority: ${certs.paths['ca.crt']}
users:
- name: u
  user:
${user}contexts:
- name: c
  context: {cluster: prescale, user: u}
current-context: c
`;
    const p = join(certs.dir, name);
    writeFileSync(p, text);
    return p;
  }
  const kubectl = (cfg: string, path: string) => run('kubectl', ['--kubeconfig', cfg, 'get', '--raw', path], { PATH: process.env.PATH, HOME: certs.dir });

  it('reads discovery and the metric with the client certificate; shapes match the upstream examples', async () => {
    const cfg = kubeconfig('kc-cert.yaml', true);
    const disc = JSON.parse((await kubectl(cfg, BASE)).stdout) as { resources: { name: string }[] };
    const upstreamDisc = fixture('api-resource-list.external-metrics.keda-docs.json') as Record<string, unknown>;
    expectSameShape(disc, upstreamDisc);
    expect(disc).toMatchObject({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'external.metrics.k8s.io/v1beta1' });
    expect(disc.resources.map((r) => r.name)).toEqual(['prescale-qps', 'prescale-replicas']);

    const list = JSON.parse((await kubectl(cfg, `${BASE}/namespaces/default/prescale-qps`)).stdout) as { items: { metricLabels: Record<string, string>; value: string }[] };
    expectSameShape(list, fixture('external-metric-value-list.keda-docs.json'));
    expect(list).toMatchObject({ kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {} });
    expect(list.items).toEqual([
      { metricName: 'prescale-qps', metricLabels: { target: 'web', namespace: 'default', cloneset: 'web' }, timestamp: '2026-11-27T10:00:00Z', window: 60, value: '1234500m' },
      { metricName: 'prescale-qps', metricLabels: { target: 'api', namespace: 'default', cloneset: 'api' }, timestamp: '2026-11-27T10:00:00Z', window: 60, value: '80' },
    ]);

    const sel = encodeURIComponent('cloneset in (web, nothing),target!=api');
    const one = JSON.parse((await kubectl(cfg, `${BASE}/namespaces/default/prescale-replicas?labelSelector=${sel}`)).stdout) as { items: { value: string }[] };
    expect(one.items.map((i) => i.value)).toEqual(['13']);
  });

  it('is refused with 401 without a client certificate', async () => {
    const cfg = kubeconfig('kc-nocert.yaml', false);
    await expect(kubectl(cfg, BASE)).rejects.toMatchObject({ stderr: expect.stringContaining('You must be logged in to the server (Unauthorized: no client certificate presented)') });
  });
});

describe('authentication', () => {
  it.each([
    ['no certificate → 401', undefined, 401, /no client certificate/],
    ['a certificate from another CA → 401', 'rogue', 401, /not signed by the request-header CA/],
    ['a CN that is not allowed → 403', 'wrongCn', 403, /CN "intruder" is not one of the allowed/],
  ] as const)('%s Status', async (_what, who, code, message) => {
    const client = who === undefined ? undefined : certs[who];
    for (const path of [BASE, `${BASE}/namespaces/default/prescale-qps`]) {
      const r = await get({ port: main.port, path, ca: certs.ca, client });
      expect(r.status).toBe(code);
      expect(r.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason: code === 401 ? 'Unauthorized' : 'Forbidden', message: expect.stringMatching(message) });
    }
  });

  it('with an empty allowed-names list any certificate from the CA is trusted', async () => {
    const s = await start({ auth: { clientCaFile: certs.paths['ca.crt'], allowedNames: [] } });
    expect((await get({ port: s.port, path: BASE, ca: certs.ca, client: certs.wrongCn })).status).toBe(200);
    expect((await get({ port: s.port, path: BASE, ca: certs.ca, client: certs.rogue })).status).toBe(401);
  });

  it('trusts X-Remote-* only behind an allowed certificate and hands them to the authorizer', async () => {
    const seen: AccessRequest[] = [];
    const authorizer: Authorizer = {
      authorize: async (r) => {
        seen.push(r);
        return r.user.name === 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' ? { allowed: true } : { allowed: false, reason: 'no RBAC rule' };
      },
    };
    const s = await start({ authorizer });
    const hpa = { 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'X-Remote-Group': ['system:serviceaccounts', 'system:authenticated'], 'X-Remote-Extra-Authentication.kubernetes.io%2fpod-name': 'x' };
    const ok = await get({ port: s.port, path: `${BASE}/namespaces/default/prescale-replicas`, ca: certs.ca, client: certs.client, headers: hpa });
    expect(ok.status).toBe(200);
    expect(seen[0]).toMatchObject({ verb: 'get', namespace: 'default', resource: 'prescale-replicas', user: { name: hpa['X-Remote-User'], groups: ['system:serviceaccounts', 'system:authenticated'], via: 'front-proxy-client', extra: { 'authentication.kubernetes.io/pod-name': ['x'] } } });
    const denied = await get({ port: s.port, path: `${BASE}/namespaces/default/prescale-replicas`, ca: certs.ca, client: certs.client, headers: { 'X-Remote-User': 'mallory' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ reason: 'Forbidden', message: expect.stringContaining('User "mallory" cannot get resource "prescale-replicas"') });
    // Headers from a client whose certificate is not allowed never reach the authorizer.
    seen.length = 0;
    const spoof = await get({ port: s.port, path: `${BASE}/namespaces/default/prescale-replicas`, ca: certs.ca, client: certs.wrongCn, headers: hpa });
    expect(spoof.status).toBe(403);
    expect(seen).toEqual([]);
  });

  it('takes the CA and allowed names from kube-system/extension-apiserver-authentication', async () => {
    const reads: string[] = [];
    const configMap: ConfigMapReader = {
      read: async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return { 'requestheader-client-ca-file': certs.ca, 'requestheader-allowed-names': '["aggregator"]', 'requestheader-username-headers': '["X-Remote-User"]' };
      },
    };
    const s = await start({ auth: { configMap } });
    expect(reads).toEqual(['kube-system/extension-apiserver-authentication']);
    // front-proxy-client is not "aggregator" here.
    expect((await get({ port: s.port, path: BASE, ca: certs.ca, client: certs.client })).status).toBe(403);
  });
});

describe('rotation', () => {
  it('re-reads the request-header CA and allowed names from the ConfigMap and applies them to new connections', async () => {
    const next = generateDevCerts();
    let data: Record<string, string> = { 'requestheader-client-ca-file': certs.ca, 'requestheader-allowed-names': '["front-proxy-client"]' };
    const s = await start({ auth: { configMap: { read: async () => data } }, reloadSeconds: 0.05 });
    const as = (client: { cert: string; key: string }) => get({ port: s.port, path: BASE, ca: certs.ca, client });
    expect((await as(certs.client)).status).toBe(200);
    expect((await as({ cert: next.files['client.crt'], key: next.files['client.key'] })).status).toBe(401);
    data = { 'requestheader-client-ca-file': next.files['ca.crt'], 'requestheader-allowed-names': '["front-proxy-client"]' };
    // Wait (bounded) for the reloader to pick the new CA up.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await as({ cert: next.files['client.crt'], key: next.files['client.key'] })).status;
    }
    expect(status).toBe(200);
    expect((await as(certs.client)).status).toBe(401);
  });
});

describe('metric requests', () => {
  const c = () => ({ ca: certs.ca, client: certs.client, port: main.port });

  it.each([
    [`${BASE}/namespaces/default/prescale-cpu`, 404, /unknown external metric "prescale-cpu"/],
    [`${BASE}/namespaces/nowhere/prescale-qps`, 404, /no CloneSet of a prescale target in namespace "nowhere"/],
    [`${BASE}/namespaces/default/prescale-qps?labelSelector=target%3Dnope`, 404, /matches labelSelector "target=nope"/],
    [`${BASE}/namespaces/default/prescale-qps?labelSelector=target%20in%20(a`, 400, /position \d+.*unbalanced/],
    [`${BASE}/namespaces/default/prescale-qps?labelSelector=${encodeURIComponent('a=b;rm -rf /')}`, 400, /label value/],
    [`${BASE}/namespaces/default/prescale-qps?labelSelector=x…(5000 characters)`, 400, /longer than the 4096/],
    [`${BASE}/namespaces/default/prescale-qps?labelSelector=${encodeURIComponent('ключ=значение')}`, 400, /label key/],
    [`${BASE}/namespaces/%E0%A4%A/prescale-qps`, 400, /percent-encoding/],
    ['/openapi/v2', 404, /could not find/],
    ['/openapi/v3', 404, /could not find/],
  ])('GET %s → %d Status', async (shownPath, code, message) => {
    const path = shownPath.replace('x…(5000 characters)', 'x'.repeat(5000));
    const r = await get({ ...c(), path });
    expect(r.status).toBe(code);
    expect(r.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, message: expect.stringMatching(message) });
  });

  it('answers /healthz without a certificate and refuses writes', async () => {
    expect((await get({ port: main.port, path: '/healthz', ca: certs.ca })).text).toBe('ok');
    const post = await get({ ...c(), path: `${BASE}/namespaces/default/prescale-qps`, method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.body).toMatchObject({ reason: 'MethodNotAllowed' });
  });

  it('serves the other namespace only its own CloneSets, and discovery lists both metrics', async () => {
    const r = await get({ ...c(), path: `${BASE}/namespaces/prod/prescale-replicas` });
    expect((r.body as { items: unknown[] }).items).toEqual([expect.objectContaining({ metricLabels: { target: 'batch', namespace: 'prod', cloneset: 'batch' }, value: '2' })]);
  });
});

describe('stale forecasts', () => {
  it('serves the observed load, flagged, once the forecast is older than staleAfterSeconds', async () => {
    const own = new ManualClock(T0 + 180_000);
    const s = await start({ clock: own });
    const path = `${BASE}/namespaces/default/prescale-replicas?labelSelector=target%3Dapi`;
    const fresh = (await get({ port: s.port, path, ca: certs.ca, client: certs.client })).body as { items: { value: string; metricLabels: object }[] };
    expect(fresh.items).toEqual([expect.objectContaining({ value: '1', metricLabels: { target: 'api', namespace: 'default', cloneset: 'api' } })]);
    own.advance(1_000);
    const stale = (await get({ port: s.port, path, ca: certs.ca, client: certs.client })).body as { items: { value: string; metricLabels: object }[] };
    // observed 333 QPS at 100 QPS per replica → 4 replicas.
    expect(stale.items).toEqual([expect.objectContaining({ value: '4', metricLabels: { target: 'api', namespace: 'default', cloneset: 'api', stale: 'true' } })]);
    const qps = (await get({ port: s.port, path: path.replace('replicas', 'qps'), ca: certs.ca, client: certs.client })).body as { items: { value: string }[] };
    expect(parseQuantity(qps.items[0].value)).toBe(333);
  });

  it('answers 503 with stale: error, and never a number', async () => {
    const own = new ManualClock(T0 + 181_000);
    const s = await start({ clock: own, stale: 'error' });
    const r = await get({ port: s.port, path: `${BASE}/namespaces/default/prescale-qps`, ca: certs.ca, client: certs.client });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', message: expect.stringMatching(/forecast of target "(web|api)" is 181 s old/) });
  });
});
