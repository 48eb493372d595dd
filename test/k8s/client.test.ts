import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { K8sError, loadKubeConfig, statusMessage, toK8sError } from '../../src/k8s/client.js';

describe('toK8sError', () => {
  const status409 = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the object has been modified', reason: 'Conflict', code: 409 });
  it.each([
    // client-node leaves the body as raw text for status codes the API spec does not declare.
    ['409 Status as raw text', new ApiException(409, 'x', status409, {}), 'conflict', 409, 'patch x: HTTP 409 Conflict: the object has been modified'],
    ['503 from a proxy, plain text', new ApiException(503, 'x', 'upstream connect error or disconnect/reset before headers', {}), 'server', 503, 'patch x: HTTP 503 upstream connect error or disconnect/reset before headers'],
    ['404 Status object', new ApiException(404, 'x', { kind: 'Status', reason: 'NotFound', message: 'clonesets.apps.kruise.io "a" not found' }, {}), 'not-found', 404, 'patch x: HTTP 404 NotFound: clonesets.apps.kruise.io "a" not found'],
    ['403 empty body', new ApiException(403, 'x', '', {}), 'forbidden', 403, 'patch x: HTTP 403 (empty body)'],
    // 401 is declared in client-node's API spec without a body: it throws with body undefined.
    ['401 as client-node throws it', new ApiException(401, 'Unauthorized', undefined, {}), 'unauthorized', 401, 'patch x: HTTP 401 Unauthorized'],
    ['415 JSON without reason', new ApiException(415, 'x', '{"message":"unknown format"}', {}), 'invalid', 415, 'patch x: HTTP 415 unknown format'],
    ['504', new ApiException(504, 'x', 'gateway timeout', {}), 'timeout', 504, 'patch x: HTTP 504 gateway timeout'],
    ['AbortError', Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }), 'timeout', undefined, 'patch x: aborted'],
    ['network failure', new TypeError('fetch failed'), 'network', undefined, 'patch x: fetch failed'],
  ])('%s', (_label, err, kind, status, message) => {
    const e = toK8sError('patch x', err, false);
    expect(e).toBeInstanceOf(K8sError);
    expect([e.kind, e.status, e.message]).toEqual([kind, status, message]);
    expect(e.cause).toBe(err);
  });

  it('says timed out when our own deadline fired', () => {
    expect(toK8sError('get y', new Error('aborted'), true)).toMatchObject({ kind: 'timeout', message: 'get y: timed out' });
  });

  it('statusMessage keeps long raw bodies short', () => {
    expect(statusMessage('x'.repeat(1000))).toHaveLength(300);
  });
});

describe('loadKubeConfig', () => {
  it('names a missing kubeconfig file', () => {
    expect(() => loadKubeConfig('/nonexistent/kubeconfig')).toThrow(/\/nonexistent\/kubeconfig/);
  });
});

describe('loadKubeConfig contexts', () => {
  it('selects a named context, and names the ones there are when it is missing', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'prescale-kc-'));
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: a, cluster: {server: "https://127.0.0.1:1"}}, {name: b, cluster: {server: "https://127.0.0.1:2"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: one, context: {cluster: a, user: u}}, {name: two, context: {cluster: b, user: u}}]',
        'current-context: one',
      ].join('\n'),
    );
    try {
      expect(loadKubeConfig(file).getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
      expect(loadKubeConfig(file, 'two').getCurrentCluster()?.server).toBe('https://127.0.0.1:2');
      expect(() => loadKubeConfig(file, 'three')).toThrow('kubernetes.context: no context "three" in ' + file + ' (has: one, two)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('statusMessage and toK8sError on any body (property-based)', () => {
  it('never throw, and always give a short message', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue(), fc.jsonValue().map((v) => JSON.stringify(v))), fc.integer({ min: 100, max: 599 }), (body, code) => {
        const m = statusMessage(body);
        expect(typeof m).toBe('string');
        const e = toK8sError('get x', new ApiException(code, 'm', body, {}), false);
        expect(e.status).toBe(code);
        expect(e.message.startsWith(`get x: HTTP ${code} `)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
