import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadKubeConfig } from '../../src/k8s/client.js';
import { kubernetesAuth, METRICS_API_K8S_CALLS, requestHeaderConfigFromConfigMap, type UserInfo } from '../../src/metrics-api/auth.js';
import { ManualClock } from '../../src/util/clock.js';
import { callKey, callOf, forbidden, settledAudit } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { TestCluster } from '../support/test-cluster.js';

/**
 * The metrics API's in-cluster wiring, `kubernetesAuth(kc, clock)`, against the real kube-apiserver: the
 * request-header ConfigMap kube-system/extension-apiserver-authentication as the apiserver publishes it, and
 * delegated authorization by SubjectAccessReview decided by the real RBAC. prescale runs as a service account
 * bound by deploy/base/rbac.yaml's rules (the system:auth-delegator ClusterRoleBinding and the RoleBinding to
 * extension-apiserver-authentication-reader in kube-system, renamed for this suite).
 */

let cluster: TestCluster;
let NS: string;
let prescale: { username: string; kubeconfig: string };
let auth: Awaited<ReturnType<typeof kubernetesAuth>>;
const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0));
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('kube-auth');
  prescale = await prescaleUser(cluster, NS);
  auth = await kubernetesAuth(loadKubeConfig(prescale.kubeconfig), clock);
});

afterAll(async () => {
  // What prescale's account called: exactly the metrics API's two calls, both allowed by the deploy RBAC.
  const events = await settledAudit(cluster, { user: prescale.username, since: startedAt });
  await cluster.release();
  expect([...new Set(events.map((e) => callKey(callOf(e))))].sort()).toEqual(
    [...new Set(METRICS_API_K8S_CALLS.map((c) => callKey({ apiGroup: c.apiGroup, resource: c.resource, subresource: '', verb: c.verb })))].sort(),
  );
  expect(events.filter((e) => e.objectRef?.resource === 'configmaps').map((e) => `${e.objectRef?.namespace}/${e.objectRef?.name}`)).toEqual(
    expect.arrayContaining(['kube-system/extension-apiserver-authentication']),
  );
  expect(forbidden(events)).toEqual([]);
});

/** A service account as the apiserver names it to an aggregated API server (X-Remote-User, X-Remote-Group). */
const serviceAccount = (ns: string, name: string): UserInfo => ({
  name: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
  extra: {},
  via: 'front-proxy-client',
});

describe('request-header config from the real ConfigMap', () => {
  it('is the front-proxy CA (not the cluster CA), the allowed name front-proxy-client and the X-Remote-* headers', async () => {
    const cfg = await requestHeaderConfigFromConfigMap(auth.configMap);
    // The apiserver publishes the certificates of --requestheader-client-ca-file re-encoded (LF line ends where
    // the file has CRLF), so the certificate is compared, not the text.
    const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');
    expect(der(cfg.caPem)).toBe(der(readFileSync(cluster.info.pki.frontProxyCaCert, 'utf8')));
    expect(der(cfg.caPem)).not.toBe(der(readFileSync(cluster.info.pki.caCert, 'utf8')));
    expect(new X509Certificate(cfg.caPem).subject).toBe('CN=prescale-test-front-proxy-ca');
    expect(cfg).toMatchObject({ allowedNames: ['front-proxy-client'], usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group'], extraHeaderPrefixes: ['X-Remote-Extra-'] });
  });

  it('without the RoleBinding to extension-apiserver-authentication-reader, fails with a clear 403', async () => {
    // Bound to system:auth-delegator only: reviews work, the ConfigMap is out of reach.
    const sa = await cluster.serviceAccountUser(NS, 'no-reader');
    await cluster.kubectlOk(['create', 'clusterrolebinding', `no-reader-${NS}`, '--clusterrole=system:auth-delegator', `--serviceaccount=${NS}:no-reader`]);
    const a = await kubernetesAuth(loadKubeConfig(sa.kubeconfig), clock);
    await expect(requestHeaderConfigFromConfigMap(a.configMap)).rejects.toThrow(
      `reading ConfigMap kube-system/extension-apiserver-authentication: HTTP 403 Forbidden: configmaps "extension-apiserver-authentication" is forbidden: User "${sa.username}" cannot get resource "configmaps" in API group "" in the namespace "kube-system"; bind the service account to Role kube-system/extension-apiserver-authentication-reader (deploy/base/rbac.yaml does)`,
    );
    expect(await a.authorizer.authorize({ user: serviceAccount('kube-system', 'horizontal-pod-autoscaler'), verb: 'get', namespace: NS, resource: 'prescale-qps' })).toMatchObject({ allowed: true });
  });
});

describe('SubjectAccessReview against the real RBAC', () => {
  beforeAll(async () => {
    // A reader of prescale's external metric in this namespace only, as a cluster admin would grant it.
    await cluster.kubectlOk(['create', 'serviceaccount', 'metrics-reader', '-n', NS]);
    await cluster.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: prescale-qps-reader-${NS}}
rules:
  - apiGroups: [external.metrics.k8s.io]
    resources: [prescale-qps]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prescale-qps-reader, namespace: ${NS}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: prescale-qps-reader-${NS}}
subjects:
  - {kind: ServiceAccount, name: metrics-reader, namespace: ${NS}}
`);
  });

  const ask = (user: UserInfo, o: { namespace?: string; resource?: string } = {}) => auth.authorizer.authorize({ user, verb: 'get', namespace: o.namespace ?? NS, resource: o.resource ?? 'prescale-qps' });

  it('allows a user RBAC allows to get external.metrics.k8s.io/prescale-qps in the namespace, and denies the rest', async () => {
    const reader = serviceAccount(NS, 'metrics-reader');
    expect(await ask(reader)).toEqual({
      allowed: true,
      reason: `RBAC: allowed by RoleBinding "prescale-qps-reader/${NS}" of ClusterRole "prescale-qps-reader-${NS}" to ServiceAccount "metrics-reader/${NS}"`,
    });
    expect((await ask(reader, { namespace: 'default' })).allowed).toBe(false);
    expect((await ask(reader, { resource: 'prescale-replicas' })).allowed).toBe(false);
    expect((await ask(serviceAccount(NS, 'stranger'))).allowed).toBe(false);
  });

  it("allows the HPA controller's own account by the bootstrap RBAC, in any namespace (no extra binding needed)", async () => {
    const hpa = serviceAccount('kube-system', 'horizontal-pod-autoscaler');
    expect(await ask(hpa, { namespace: 'default' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "system:controller:horizontal-pod-autoscaler" of ClusterRole "system:controller:horizontal-pod-autoscaler" to ServiceAccount "horizontal-pod-autoscaler/kube-system"',
    });
  });

  it('asks the apiserver once per question within the cache time (10 s), again after it', async () => {
    const user = serviceAccount(NS, 'cache-probe');
    const since = Date.now();
    const reviews = async () => (await settledAudit(cluster, { user: prescale.username, since })).filter((e) => e.objectRef?.resource === 'subjectaccessreviews').length;
    await ask(user);
    await ask(user);
    expect(await reviews()).toBe(1);
    clock.advance(10_000);
    await ask(user);
    expect(await reviews()).toBe(2);
  });

  it('without system:auth-delegator the review itself fails with a clear 403', async () => {
    const sa = await cluster.serviceAccountUser(NS, 'no-delegator');
    const a = await kubernetesAuth(loadKubeConfig(sa.kubeconfig), clock);
    await expect(a.authorizer.authorize({ user: serviceAccount(NS, 'metrics-reader'), verb: 'get', namespace: NS, resource: 'prescale-qps' })).rejects.toThrow(
      `SubjectAccessReview: HTTP 403 Forbidden: subjectaccessreviews.authorization.k8s.io is forbidden: User "${sa.username}" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope; bind the service account to ClusterRole system:auth-delegator (deploy/base/rbac.yaml does)`,
    );
  });
});
