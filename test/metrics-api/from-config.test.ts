import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema.js';
import { StateStore } from '../../src/service/state.js';
import { ManualClock } from '../../src/util/clock.js';
import { externalMetricsOptions, kedaRouterFromConfig, startExternalMetricsServerFromConfig } from '../../src/metrics-api/from-config.js';
import { get, T0 } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'prescale-h6-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: Config['metricsApi'] = { enabled: true, host: '127.0.0.1', port: 0, allowedNames: [], fromConfigMap: false, staleAfterSeconds: 180, stale: 'observed' };
const deps = { store: new StateStore(), clock: new ManualClock(T0) };

describe('external metrics API from config', () => {
  it('creates development certificates in devCertsDir and trusts its front-proxy client', async () => {
    const certs = join(dir, 'dev');
    const o = await externalMetricsOptions({ ...base, devCertsDir: certs }, deps);
    expect(o.tls).toEqual({ certFile: join(certs, 'server.crt'), keyFile: join(certs, 'server.key') });
    expect(o.auth).toEqual({ clientCaFile: join(certs, 'ca.crt'), allowedNames: ['front-proxy-client'] });
    const s = await startExternalMetricsServerFromConfig({ ...base, devCertsDir: certs }, deps);
    try {
      const r = await get({ port: s?.port ?? 0, path: '/apis/external.metrics.k8s.io/v1beta1', ca: readFileSync(join(certs, 'ca.crt'), 'utf8'), client: { cert: readFileSync(join(certs, 'client.crt'), 'utf8'), key: readFileSync(join(certs, 'client.key'), 'utf8') } });
      expect(r.status).toBe(200);
    } finally {
      await s?.close();
    }
  });

  it('uses explicit files and the ConfigMap wiring when configured', async () => {
    const o = await externalMetricsOptions({ ...base, certFile: '/c/tls.crt', keyFile: '/c/tls.key', clientCaFile: '/c/ca.crt', allowedNames: ['x'] }, deps);
    expect(o).toMatchObject({ tls: { certFile: '/c/tls.crt', keyFile: '/c/tls.key' }, auth: { clientCaFile: '/c/ca.crt', allowedNames: ['x'] }, authorizer: undefined });
    const configMap = { read: async () => undefined };
    const authorizer = { authorize: async () => ({ allowed: true }) };
    const k = await externalMetricsOptions({ ...base, certFile: '/c/tls.crt', keyFile: '/c/tls.key', fromConfigMap: true }, { ...deps, kubernetesAuth: async () => ({ configMap, authorizer }) });
    expect(k.auth).toEqual({ configMap });
    expect(k.authorizer).toBe(authorizer);
  });

  it.each([
    [{ certFile: '/c/tls.crt' }, /certFile and keyFile go together; only certFile is set/],
    [{}, /set certFile and keyFile .* or devCertsDir/],
    [{ certFile: '/a', keyFile: '/b' }, /set clientCaFile .*fromConfigMap: true/],
    [{ certFile: '/a', keyFile: '/b', fromConfigMap: true }, /fromConfigMap needs Kubernetes access/],
  ])('%p → InputError', async (over, message) => {
    await expect(externalMetricsOptions({ ...base, ...over }, deps)).rejects.toThrow(message);
  });

  it('starts nothing when disabled', async () => {
    expect(await startExternalMetricsServerFromConfig({ ...base, enabled: false }, deps)).toBeUndefined();
  });
});

describe('KEDA router from config', () => {
  it('reads the token file and refuses an empty or missing one', async () => {
    writeFileSync(join(dir, 'token'), 's3cret\n');
    writeFileSync(join(dir, 'empty'), '\n');
    expect(await kedaRouterFromConfig({ keda: { enabled: false }, metricsApi: base }, deps)).toBeUndefined();
    expect(await kedaRouterFromConfig({ keda: { enabled: true, tokenFile: join(dir, 'token') }, metricsApi: base }, deps)).toBeDefined();
    await expect(kedaRouterFromConfig({ keda: { enabled: true, tokenFile: join(dir, 'empty') }, metricsApi: base }, deps)).rejects.toThrow(/keda.tokenFile: .*empty is empty/);
    await expect(kedaRouterFromConfig({ keda: { enabled: true, tokenFile: join(dir, 'nope') }, metricsApi: base }, deps)).rejects.toThrow(/keda.tokenFile: cannot read/);
  });
});
