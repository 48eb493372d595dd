import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import { InputError, errorMessage } from '../util/errors.js';
import { apiFailureMessage } from '../k8s/status.js';
import type { Clock } from '../util/clock.js';

/**
 * Authentication the way an aggregated API server does it (k8s.io/apiserver "requestheader" authenticator):
 * kube-apiserver connects with its front-proxy client certificate and names the real caller in
 * `X-Remote-User`, `X-Remote-Group` and `X-Remote-Extra-*`. Those headers are believed only when the client
 * certificate chains to the request-header CA and its CN is one of the allowed names (none listed = any).
 */
export interface RequestHeaderConfig {
  /** PEM of the CA(s) that sign front-proxy client certificates. */
  readonly caPem: string;
  /** Allowed client certificate CNs; empty allows any certificate signed by the CA. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
}

export const DEFAULT_HEADERS = {
  usernameHeaders: ['X-Remote-User'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
} as const;

export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
  /** The CN of the client certificate that vouched for this user. */
  readonly via: string;
}

export type AuthResult = { readonly ok: true; readonly user: UserInfo } | { readonly ok: false; readonly code: 401 | 403; readonly message: string };

/** Checks that a PEM holds at least one certificate; the error names where it came from. */
function checkCaPem(pem: string, where: string): void {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new InputError(`${where}: no PEM certificate found`);
  try {
    new X509Certificate(pem);
  } catch (err: unknown) {
    throw new InputError(`${where}: not a valid PEM certificate (${errorMessage(err)})`, { cause: err });
  }
}

/** Outside a cluster: the CA from a file, allowed names from config. */
export async function requestHeaderConfigFromFiles(o: { clientCaFile: string; allowedNames?: readonly string[] }): Promise<RequestHeaderConfig> {
  let caPem: string;
  try {
    caPem = await readFile(o.clientCaFile, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`metricsApi.clientCaFile: cannot read ${o.clientCaFile} (${errorMessage(err)})`, { cause: err });
  }
  checkCaPem(caPem, `metricsApi.clientCaFile ${o.clientCaFile}`);
  return { caPem, allowedNames: [...(o.allowedNames ?? [])], ...DEFAULT_HEADERS };
}

/** The one Kubernetes read this module needs, so tests pass a fake and the rest of client-node stays out. */
export interface ConfigMapReader {
  /** The ConfigMap's `data`, or undefined when it does not exist. */
  read(namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined>;
}

/** The slice of client-node's `CoreV1Api` used here (2.x object-parameter style). */
export interface CoreV1ConfigMaps {
  readNamespacedConfigMap(p: { name: string; namespace: string }): Promise<{ data?: Record<string, string> }>;
}

/** A ConfigMapReader over client-node: `new CoreV1Api(...)` or `kubeConfig.makeApiClient(CoreV1Api)`. */
export function configMapReaderFor(api: CoreV1ConfigMaps): ConfigMapReader {
  return {
    async read(namespace, name) {
      try {
        const cm = await api.readNamespacedConfigMap({ name, namespace });
        return cm.data ?? {};
      } catch (err: unknown) {
        const code = (err as { code?: number }).code;
        if (code === 404) return undefined;
        const hint =
          code === 403 && namespace === AUTH_CONFIGMAP.namespace && name === AUTH_CONFIGMAP.name
            ? '; bind the service account to Role kube-system/extension-apiserver-authentication-reader (deploy/base/rbac.yaml does)'
            : '';
        throw new Error(`reading ConfigMap ${namespace}/${name}: ${apiFailureMessage(err)}${hint}`, { cause: err });
      }
    },
  };
}

export const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

function jsonStringArray(data: Readonly<Record<string, string>>, key: string, fallback: readonly string[]): readonly string[] {
  const raw = data[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err: unknown) {
    throw new InputError(`ConfigMap ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name} key ${key}: not JSON (${errorMessage(err)})`, { cause: err });
  }
  if (v === null) return fallback;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new InputError(`ConfigMap ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name} key ${key}: must be a JSON array of strings, got ${raw.slice(0, 80)}`);
  }
  return v as string[];
}

/** In a cluster: everything from `kube-system/extension-apiserver-authentication`, as kube-apiserver publishes it. */
export async function requestHeaderConfigFromConfigMap(reader: ConfigMapReader): Promise<RequestHeaderConfig> {
  const where = `ConfigMap ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}`;
  const data = await reader.read(AUTH_CONFIGMAP.namespace, AUTH_CONFIGMAP.name);
  if (!data) throw new InputError(`${where} not found: is this an aggregation-enabled cluster, and may the service account read it (RoleBinding to extension-apiserver-authentication-reader)?`);
  const caPem = data['requestheader-client-ca-file'];
  if (!caPem) throw new InputError(`${where} has no key requestheader-client-ca-file: the apiserver runs without --requestheader-client-ca-file`);
  checkCaPem(caPem, `${where} key requestheader-client-ca-file`);
  return {
    caPem,
    allowedNames: jsonStringArray(data, 'requestheader-allowed-names', []),
    usernameHeaders: jsonStringArray(data, 'requestheader-username-headers', DEFAULT_HEADERS.usernameHeaders),
    groupHeaders: jsonStringArray(data, 'requestheader-group-headers', DEFAULT_HEADERS.groupHeaders),
    extraHeaderPrefixes: jsonStringArray(data, 'requestheader-extra-headers-prefix', DEFAULT_HEADERS.extraHeaderPrefixes),
  };
}

/** Per connection: the verdict on its certificate, so keep-alive requests do not re-inspect it. */
type CertVerdict = { ok: true; cn: string } | { ok: false; code: 401 | 403; message: string };
const verdicts = new WeakMap<object, { cfg: RequestHeaderConfig; v: CertVerdict }>();

function certVerdict(socket: TLSSocket, cfg: RequestHeaderConfig): CertVerdict {
  const cached = verdicts.get(socket);
  if (cached && cached.cfg === cfg) return cached.v;
  const v = computeVerdict(socket, cfg);
  verdicts.set(socket, { cfg, v });
  return v;
}

function computeVerdict(socket: TLSSocket, cfg: RequestHeaderConfig): CertVerdict {
  if (typeof socket.getPeerCertificate !== 'function') return { ok: false, code: 401, message: 'Unauthorized: TLS with a client certificate is required' };
  const cert: PeerCertificate = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, code: 401, message: 'Unauthorized: no client certificate presented' };
  if (!socket.authorized) {
    return { ok: false, code: 401, message: `Unauthorized: client certificate not signed by the request-header CA (${String(socket.authorizationError)})` };
  }
  const cnRaw = cert.subject?.CN;
  const cn = Array.isArray(cnRaw) ? cnRaw[0] : cnRaw;
  if (!cn) return { ok: false, code: 403, message: 'Forbidden: client certificate has no common name' };
  if (cfg.allowedNames.length > 0 && !cfg.allowedNames.includes(cn)) {
    return { ok: false, code: 403, message: `Forbidden: client certificate CN "${cn}" is not one of the allowed request-header names` };
  }
  return { ok: true, cn };
}

/** Repeated headers stay separate values (headersDistinct), so a group name may contain a comma. */
function headerValues(req: IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name.toLowerCase()] ?? []).filter((s) => s.length > 0);
}

/**
 * Authenticates one request. A certificate that chains and carries an allowed name makes the X-Remote-*
 * headers trusted; without X-Remote-User the certificate's own CN is the user (so an operator can query
 * with the front-proxy client certificate directly, as `kubectl get --raw` does in the docs).
 */
export function authenticate(req: IncomingMessage, cfg: RequestHeaderConfig): AuthResult {
  const v = certVerdict(req.socket as TLSSocket, cfg);
  if (!v.ok) return v;
  const name = cfg.usernameHeaders.map((h) => headerValues(req, h)[0]).find((s) => s !== undefined) ?? v.cn;
  const groups = cfg.groupHeaders.flatMap((h) => headerValues(req, h));
  const extra: Record<string, string[]> = {};
  for (const [h, values] of Object.entries(req.headersDistinct)) {
    const prefix = cfg.extraHeaderPrefixes.find((p) => h.startsWith(p.toLowerCase()));
    if (!prefix || values === undefined) continue;
    // Extra keys are percent-encoded in header names (k8s.io/apiserver requestheader).
    const key = safeDecode(h.slice(prefix.length));
    extra[key] = [...(extra[key] ?? []), ...values];
  }
  return { ok: true, user: { name, groups, extra, via: v.cn } };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What a SubjectAccessReview asks: may this user `verb` this metric in this namespace? */
export interface AccessRequest {
  readonly user: UserInfo;
  readonly verb: 'get' | 'list';
  readonly namespace: string;
  /** The metric name, as the resource of group external.metrics.k8s.io. */
  readonly resource: string;
}

export interface Authorizer {
  authorize(r: AccessRequest): Promise<{ allowed: boolean; reason?: string }>;
}

/** The slice of client-node's `AuthorizationV1Api` used for delegated authorization. */
export interface SubjectAccessReviews {
  createSubjectAccessReview(p: { body: SubjectAccessReviewBody }): Promise<{ status?: { allowed: boolean; denied?: boolean; reason?: string } }>;
}

export interface SubjectAccessReviewBody {
  apiVersion: 'authorization.k8s.io/v1';
  kind: 'SubjectAccessReview';
  spec: {
    user: string;
    groups: string[];
    extra: Record<string, string[]>;
    resourceAttributes: { group: string; version: string; resource: string; namespace: string; verb: string };
  };
}

/**
 * Delegated authorization through SubjectAccessReview, with the short decision cache k8s.io/apiserver uses
 * (10 s for both answers) so the HPA's every-15-s reads cost at most one review each.
 */
export function subjectAccessReviewAuthorizer(o: { api: SubjectAccessReviews; clock: Clock; cacheSeconds?: number }): Authorizer {
  const ttl = (o.cacheSeconds ?? 10) * 1000;
  const cache = new Map<string, { atMs: number; allowed: boolean; reason?: string }>();
  return {
    async authorize(r) {
      const key = JSON.stringify([r.user.name, [...r.user.groups].sort(), r.verb, r.namespace, r.resource]);
      const now = o.clock.now();
      const hit = cache.get(key);
      if (hit && now - hit.atMs < ttl) return { allowed: hit.allowed, reason: hit.reason };
      const body: SubjectAccessReviewBody = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: r.user.name,
          groups: [...r.user.groups],
          extra: Object.fromEntries(Object.entries(r.user.extra).map(([k, v]) => [k, [...v]])),
          resourceAttributes: { group: 'external.metrics.k8s.io', version: 'v1beta1', resource: r.resource, namespace: r.namespace, verb: r.verb },
        },
      };
      let res: Awaited<ReturnType<SubjectAccessReviews['createSubjectAccessReview']>>;
      try {
        res = await o.api.createSubjectAccessReview({ body });
      } catch (err: unknown) {
        const hint = (err as { code?: number }).code === 403 ? '; bind the service account to ClusterRole system:auth-delegator (deploy/base/rbac.yaml does)' : '';
        throw new Error(`SubjectAccessReview: ${apiFailureMessage(err)}${hint}`, { cause: err });
      }
      const allowed = res.status?.allowed === true && res.status.denied !== true;
      const reason = res.status?.reason;
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { atMs: now, allowed, reason });
      return { allowed, reason };
    },
  };
}

/**
 * The in-cluster wiring: a ConfigMapReader and a SubjectAccessReview authorizer over client-node, from the
 * KubeConfig the service already loaded (`loadFromDefault()` covers the pod's service account). client-node is
 * loaded lazily so importing this module stays cheap.
 */
export async function kubernetesAuth(kc: import('@kubernetes/client-node').KubeConfig, clock: Clock): Promise<{ configMap: ConfigMapReader; authorizer: Authorizer }> {
  const k8s = await import('@kubernetes/client-node');
  return {
    configMap: configMapReaderFor(kc.makeApiClient(k8s.CoreV1Api)),
    authorizer: subjectAccessReviewAuthorizer({ api: kc.makeApiClient(k8s.AuthorizationV1Api), clock }),
  };
}

/**
 * The Kubernetes calls the metrics API itself makes, with the bootstrap role that grants each; the deploy
 * manifests bind both roles (checked by test/deploy/manifests.test.ts).
 */
export const METRICS_API_K8S_CALLS = [
  { apiGroup: '', resource: 'configmaps', verb: 'get', namespace: 'kube-system', name: 'extension-apiserver-authentication', grantedBy: 'Role kube-system/extension-apiserver-authentication-reader' },
  { apiGroup: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create', grantedBy: 'ClusterRole system:auth-delegator' },
] as const;
