import { describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';
import {
  configMapReaderFor,
  requestHeaderConfigFromConfigMap,
  requestHeaderConfigFromFiles,
  subjectAccessReviewAuthorizer,
  type ConfigMapReader,
  type SubjectAccessReviewBody,
  type UserInfo,
} from '../../src/metrics-api/auth.js';
import { generateDevCerts } from '../../src/certs.js';

const CA = generateDevCerts().files['ca.crt'];
const reader = (data: Record<string, string> | undefined): ConfigMapReader => ({ read: async () => data });

describe('request-header config from kube-system/extension-apiserver-authentication', () => {
  it('reads the CA, allowed names and header names as kube-apiserver publishes them', async () => {
    const cfg = await requestHeaderConfigFromConfigMap(
      reader({
        'client-ca-file': 'ignored',
        'requestheader-client-ca-file': CA,
        'requestheader-allowed-names': '["front-proxy-client","aggregator"]',
        'requestheader-username-headers': '["X-Remote-User"]',
        'requestheader-group-headers': '["X-Remote-Group"]',
        'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      }),
    );
    expect(cfg).toEqual({ caPem: CA, allowedNames: ['front-proxy-client', 'aggregator'], usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group'], extraHeaderPrefixes: ['X-Remote-Extra-'] });
  });

  it('defaults the header names and treats missing allowed names as any', async () => {
    const cfg = await requestHeaderConfigFromConfigMap(reader({ 'requestheader-client-ca-file': CA }));
    expect(cfg.allowedNames).toEqual([]);
    expect(cfg.usernameHeaders).toEqual(['X-Remote-User']);
  });

  it.each([
    ['no ConfigMap', undefined, /not found.*extension-apiserver-authentication-reader/],
    ['no CA key', { 'client-ca-file': CA }, /no key requestheader-client-ca-file/],
    ['a CA that is not PEM', { 'requestheader-client-ca-file': 'hello' }, /requestheader-client-ca-file: no PEM certificate/],
    ['allowed names not JSON', { 'requestheader-client-ca-file': CA, 'requestheader-allowed-names': '[front-proxy' }, /requestheader-allowed-names: not JSON/],
    ['allowed names not strings', { 'requestheader-client-ca-file': CA, 'requestheader-allowed-names': '[1]' }, /must be a JSON array of strings/],
  ])('%s → InputError naming the key', async (_what, data, message) => {
    const p = requestHeaderConfigFromConfigMap(reader(data));
    await expect(p).rejects.toBeInstanceOf(InputError);
    await expect(p).rejects.toThrow(message);
  });

  it('maps client-node 404 to absent and wraps other failures', async () => {
    const notFound = configMapReaderFor({ readNamespacedConfigMap: async () => Promise.reject(Object.assign(new Error('HTTP-Code: 404'), { code: 404 })) });
    await expect(notFound.read('kube-system', 'x')).resolves.toBeUndefined();
    const calls: unknown[] = [];
    const ok = configMapReaderFor({
      readNamespacedConfigMap: async (p) => {
        calls.push(p);
        return { data: { a: 'b' } };
      },
    });
    await expect(ok.read('kube-system', 'extension-apiserver-authentication')).resolves.toEqual({ a: 'b' });
    expect(calls).toEqual([{ name: 'extension-apiserver-authentication', namespace: 'kube-system' }]);
    const broken = configMapReaderFor({ readNamespacedConfigMap: async () => Promise.reject(Object.assign(new Error('forbidden'), { code: 403 })) });
    await expect(broken.read('kube-system', 'x')).rejects.toThrow('reading ConfigMap kube-system/x: forbidden');
  });
});

describe('request-header config from files', () => {
  it('names the file when it is missing or not a certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescale-h6-auth-'));
    try {
      await expect(requestHeaderConfigFromFiles({ clientCaFile: join(dir, 'none.crt') })).rejects.toThrow(/metricsApi.clientCaFile: cannot read .*none.crt/);
      writeFileSync(join(dir, 'bad.crt'), '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n');
      await expect(requestHeaderConfigFromFiles({ clientCaFile: join(dir, 'bad.crt') })).rejects.toThrow(/bad.crt: not a valid PEM certificate/);
      writeFileSync(join(dir, 'ca.crt'), CA);
      await expect(requestHeaderConfigFromFiles({ clientCaFile: join(dir, 'ca.crt'), allowedNames: ['x'] })).resolves.toMatchObject({ caPem: CA, allowedNames: ['x'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SubjectAccessReview authorizer', () => {
  const user: UserInfo = { name: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', groups: ['system:authenticated'], extra: { scopes: ['a'] }, via: 'front-proxy-client' };

  it('asks for get on the metric in the namespace and caches the answer for 10 s', async () => {
    const bodies: SubjectAccessReviewBody[] = [];
    let allowed = true;
    const clock = new ManualClock(0);
    const authz = subjectAccessReviewAuthorizer({
      clock,
      api: {
        createSubjectAccessReview: async ({ body }) => {
          bodies.push(body);
          return { status: { allowed, reason: allowed ? undefined : 'RBAC: no rule' } };
        },
      },
    });
    const req = { user, verb: 'get' as const, namespace: 'default', resource: 'prescale-qps' };
    expect(await authz.authorize(req)).toEqual({ allowed: true, reason: undefined });
    expect(bodies[0]).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: user.name, groups: ['system:authenticated'], extra: { scopes: ['a'] }, resourceAttributes: { group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'prescale-qps', namespace: 'default', verb: 'get' } },
    });
    allowed = false;
    clock.advance(9_999);
    expect((await authz.authorize(req)).allowed).toBe(true);
    expect(bodies).toHaveLength(1);
    clock.advance(1);
    expect(await authz.authorize(req)).toEqual({ allowed: false, reason: 'RBAC: no rule' });
    expect(bodies).toHaveLength(2);
    // Another metric is another question.
    await authz.authorize({ ...req, resource: 'prescale-replicas' });
    expect(bodies).toHaveLength(3);
  });

  it('treats denied or a missing status as not allowed', async () => {
    const authz = subjectAccessReviewAuthorizer({ clock: new ManualClock(0), api: { createSubjectAccessReview: async () => ({ status: { allowed: true, denied: true } }) } });
    expect((await authz.authorize({ user, verb: 'get', namespace: 'x', resource: 'prescale-qps' })).allowed).toBe(false);
    const none = subjectAccessReviewAuthorizer({ clock: new ManualClock(0), api: { createSubjectAccessReview: async () => ({}) } });
    expect((await none.authorize({ user, verb: 'get', namespace: 'x', resource: 'prescale-qps' })).allowed).toBe(false);
  });
});
