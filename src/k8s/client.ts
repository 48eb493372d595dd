import {
  ApiException,
  AutoscalingV2Api,
  CoordinationV1Api,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { errorMessage, InputError } from '../util/errors.js';
import { httpFailure, statusMessage } from './status.js';

/**
 * The narrow Kubernetes surface prescale uses, behind interfaces so actuators and the leader elector take a
 * fake in unit tests and the real client-node implementation everywhere else. Every call listed here is in
 * `K8S_CALLS_USED` (rbac.ts), which the deploy manifests are checked against.
 */

export const CLONESET_GROUP = 'apps.kruise.io';
export const CLONESET_VERSION = 'v1alpha1';
export const CLONESET_KIND = 'CloneSet';

/** A namespaced workload with a `/scale` subresource, as an HPA's scaleTargetRef names it (plus its namespace). */
export interface WorkloadRef {
  readonly namespace: string;
  /** `GROUP/VERSION`, e.g. `apps/v1`, `apps.kruise.io/v1alpha1`, `argoproj.io/v1alpha1`. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

/** `GROUP/VERSION` → its group ('' for the core group's plain `v1`). */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** The autoscaling/v1 Scale of a workload, as its `/scale` subresource returns it. */
export interface ScaleView {
  readonly replicas: number;
  readonly statusReplicas: number;
  readonly resourceVersion: string;
}

/** What a scaler needs from a workload to see whether a rollout is in progress. */
export interface WorkloadView {
  readonly specReplicas: number;
  readonly statusReplicas: number;
  readonly updatedReplicas: number;
  /** CloneSet: spec.updateStrategy.paused; Deployment, Argo Rollout and others: spec.paused. */
  readonly paused: boolean;
  readonly resourceVersion: string;
}

export interface ScaleApi {
  getScale(ref: WorkloadRef, signal?: AbortSignal): Promise<ScaleView>;
  /** Merge-patches `/scale`; with `resourceVersion` the server refuses (409) if the object changed since. */
  patchScaleReplicas(req: { ref: WorkloadRef; replicas: number; resourceVersion?: string }, signal?: AbortSignal): Promise<ScaleView>;
  /** The workload itself (not its scale): replicas and rollout state. */
  getWorkload(ref: WorkloadRef, signal?: AbortSignal): Promise<WorkloadView>;
}

export interface HpaView {
  readonly namespace: string;
  readonly name: string;
  readonly targetApiVersion: string;
  readonly targetKind: string;
  readonly targetName: string;
}

export interface HpaApi {
  listHpas(ns: string, signal?: AbortSignal): Promise<HpaView[]>;
}

/** A coordination.k8s.io/v1 Lease, times in epoch milliseconds. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTimeMs?: number;
  readonly renewTimeMs?: number;
  readonly leaseTransitions: number;
  /** Empty for a lease not yet created. */
  readonly resourceVersion: string;
}

export interface LeaseApi {
  /** undefined when the lease does not exist. */
  getLease(ns: string, name: string, signal?: AbortSignal): Promise<LeaseRecord | undefined>;
  createLease(ns: string, name: string, lease: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the lease only if its resourceVersion is still `lease.resourceVersion` (else a 409 K8sError). */
  replaceLease(ns: string, name: string, lease: LeaseRecord): Promise<LeaseRecord>;
}

/** `unknown-kind`: discovery says the cluster does not serve a workload's apiVersion or kind (a config error, or a CRD not installed). */
export type K8sErrorKind = 'not-found' | 'unknown-kind' | 'conflict' | 'forbidden' | 'unauthorized' | 'invalid' | 'server' | 'timeout' | 'network' | 'other';

/** A failed Kubernetes call, with the HTTP status and the apiserver's Status reason and message. */
export class K8sError extends Error {
  override readonly name = 'K8sError';
  constructor(
    message: string,
    readonly kind: K8sErrorKind,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function kindOfStatus(code: number): K8sErrorKind {
  if (code === 404) return 'not-found';
  if (code === 409) return 'conflict';
  if (code === 403) return 'forbidden';
  if (code === 401) return 'unauthorized';
  if (code === 422 || code === 400 || code === 415) return 'invalid';
  if (code === 504 || code === 408) return 'timeout';
  if (code >= 500) return 'server';
  return 'other';
}

export { statusMessage };

/** Turns anything a client-node call throws into a K8sError naming the call. */
export function toK8sError(what: string, err: unknown, timedOut: boolean): K8sError {
  if (err instanceof K8sError) return err;
  if (err instanceof ApiException) {
    const code = err.code;
    return new K8sError(`${what}: ${httpFailure(code, err.body)}`, kindOfStatus(code), code, { cause: err });
  }
  if (timedOut) return new K8sError(`${what}: timed out`, 'timeout', undefined, { cause: err });
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new K8sError(`${what}: aborted`, 'timeout', undefined, { cause: err });
  }
  return new K8sError(`${what}: ${errorMessage(err)}`, 'network', undefined, { cause: err });
}

/**
 * Runs one client-node call with a time limit and the caller's signal (pass the signal on with `requestOptions`, so
 * the request itself is aborted), mapping any failure to a K8sError naming the call.
 */
export async function timedCall<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, run: (s: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    return await run(s);
  } catch (err) {
    throw toK8sError(what, err, timeout.aborted);
  }
}

export interface KubeClientOptions {
  /** A kubeconfig file; else KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  readonly kubeconfigPath?: string;
  readonly context?: string;
  /** Per-request limit, so a hung apiserver cannot stall a cycle. */
  readonly requestTimeoutMs?: number;
}

/** Loads a kubeconfig file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster); `context` picks one of its contexts. */
export function loadKubeConfig(path?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) {
      throw new InputError(`kubernetes.context: no context ${JSON.stringify(context)} in ${path ?? 'the default kubeconfig'} (has: ${names.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(context);
  }
  return kc;
}

/** Request options that abort the request on `signal` or after `timeoutMs`, plus extra header options. */
export function requestOptions(signal: AbortSignal, base?: ConfigurationOptions): ConfigurationOptions {
  const mw = {
    pre: (ctx: RequestContext): Observable<RequestContext> => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (r: ResponseContext): Observable<ResponseContext> => new Observable(Promise.resolve(r)),
  };
  return {
    ...base,
    middleware: [...(base?.middleware ?? []), mw],
    middlewareMergeStrategy: 'append',
  };
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

function toScaleView(o: unknown): ScaleView {
  const r = rec(o);
  return {
    replicas: num(rec(r.spec).replicas),
    statusReplicas: num(rec(r.status).replicas),
    resourceVersion: String(rec(r.metadata).resourceVersion ?? ''),
  };
}

/** Where a kind keeps "rollout paused": OpenKruise's CloneSet in its update strategy, Deployment and Argo Rollout (and by default any other kind) in spec.paused. */
function pausedOf(ref: WorkloadRef, spec: Record<string, unknown>): boolean {
  if (groupOf(ref.apiVersion) === CLONESET_GROUP && ref.kind === CLONESET_KIND) return rec(spec.updateStrategy).paused === true;
  return spec.paused === true;
}

/** A workload object as the apiserver returns it → what the rollout check reads; absent fields are 0 (the apiserver omits zeros). */
export function toWorkloadView(ref: WorkloadRef, o: unknown): WorkloadView {
  const r = rec(o);
  const spec = rec(r.spec);
  const status = rec(r.status);
  return {
    specReplicas: num(spec.replicas),
    statusReplicas: num(status.replicas),
    updatedReplicas: num(status.updatedReplicas),
    paused: pausedOf(ref, spec),
    resourceVersion: String(rec(r.metadata).resourceVersion ?? ''),
  };
}

/** The parts of a discovery APIResourceList (`GET /apis/GROUP/VERSION`) the kind resolution reads. */
export interface DiscoveredResource {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
}

/** A workload kind's resource, as discovery names it. */
export interface ResolvedKind {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/**
 * Finds `kind` in the resources discovery lists for `apiVersion`: its plural, which must be namespaced and have a
 * `scale` subresource that can be read and patched. Throws a K8sError naming the kind and what is missing.
 */
export function resolveKind(apiVersion: string, kind: string, resources: readonly DiscoveredResource[]): ResolvedKind {
  const [group, version] = splitApiVersion(apiVersion, kind);
  const top = resources.filter((r) => !r.name.includes('/'));
  const main = top.find((r) => r.kind === kind);
  if (!main) {
    const served = [...new Set(top.map((r) => r.kind))].sort().join(', ') || 'none';
    throw new K8sError(`workload kind ${kind} is not served by ${apiVersion} (it serves: ${served})`, 'unknown-kind', 404);
  }
  if (!main.namespaced) throw new K8sError(`workload kind ${kind} of ${apiVersion} (${main.name}) is cluster-scoped; prescale scales namespaced workloads`, 'invalid');
  const scale = resources.find((r) => r.name === `${main.name}/scale`);
  if (!scale) throw new K8sError(`workload kind ${kind} of ${apiVersion} (${main.name}) has no scale subresource; prescale scales only through /scale`, 'invalid');
  const missing = ['get', 'patch'].filter((v) => !scale.verbs.includes(v));
  if (missing.length > 0) throw new K8sError(`workload kind ${kind} of ${apiVersion}: ${main.name}/scale does not allow ${missing.join(', ')} (verbs: ${scale.verbs.join(', ')})`, 'invalid');
  return { group, version, plural: main.name };
}

function splitApiVersion(apiVersion: string, kind: string): [string, string] {
  const m = /^([^/]+)\/([^/]+)$/.exec(apiVersion);
  // The core group (plain `v1`) has no workload with /scale prescale supports, and CustomObjectsApi cannot reach it.
  if (!m) throw new K8sError(`workload ${kind}: apiVersion ${JSON.stringify(apiVersion)} must be GROUP/VERSION of a named API group, e.g. apps/v1`, 'invalid');
  return [m[1], m[2]];
}

function timeMs(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

function toLeaseRecord(l: V1Lease): LeaseRecord {
  const s = l.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTimeMs: timeMs(s.acquireTime),
    renewTimeMs: timeMs(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion ?? '',
  };
}

function toV1Lease(ns: string, name: string, r: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: ns, ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}) },
    spec: {
      holderIdentity: r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      leaseTransitions: r.leaseTransitions,
      // MicroTime: a plain Date serialises with milliseconds and the apiserver rejects it (client-node #828).
      ...(r.acquireTimeMs !== undefined ? { acquireTime: new V1MicroTime(r.acquireTimeMs) } : {}),
      ...(r.renewTimeMs !== undefined ? { renewTime: new V1MicroTime(r.renewTimeMs) } : {}),
    },
  };
}

/** ScaleApi, HpaApi and LeaseApi over @kubernetes/client-node. */
export class KubeClient implements ScaleApi, HpaApi, LeaseApi {
  private readonly custom: CustomObjectsApi;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly coordination: CoordinationV1Api;
  private readonly timeoutMs: number;
  /** `apiVersion kind` → its resource, from discovery; only successes stay (a CRD installed later is found next time). */
  private readonly kinds = new Map<string, Promise<ResolvedKind>>();

  constructor(kc: KubeConfig, options: { requestTimeoutMs?: number } = {}) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.autoscaling = kc.makeApiClient(AutoscalingV2Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  static fromOptions(o: KubeClientOptions = {}): KubeClient {
    return new KubeClient(loadKubeConfig(o.kubeconfigPath, o.context), { requestTimeoutMs: o.requestTimeoutMs });
  }

  /** Runs one call with the request timeout and the caller's signal, mapping failures to K8sError. */
  private call<T>(what: string, signal: AbortSignal | undefined, run: (s: AbortSignal) => Promise<T>): Promise<T> {
    return timedCall(what, this.timeoutMs, signal, run);
  }

  /** The plural of `ref.kind` through discovery (`GET /apis/GROUP/VERSION`), cached per apiVersion and kind. */
  resolve(ref: Pick<WorkloadRef, 'apiVersion' | 'kind'>, signal?: AbortSignal): Promise<ResolvedKind> {
    const key = `${ref.apiVersion} ${ref.kind}`;
    let p = this.kinds.get(key);
    if (!p) {
      p = this.discover(ref, signal);
      this.kinds.set(key, p);
      // A failure is not kept: the next call asks again (the CRD may be installed by then).
      void p.catch(() => this.kinds.delete(key));
    }
    return p;
  }

  private async discover(ref: Pick<WorkloadRef, 'apiVersion' | 'kind'>, signal?: AbortSignal): Promise<ResolvedKind> {
    const [group, version] = splitApiVersion(ref.apiVersion, ref.kind);
    let list: { resources?: DiscoveredResource[] };
    try {
      list = await this.call(`discover ${ref.kind} (GET /apis/${ref.apiVersion})`, signal, (s) => this.custom.getAPIResources({ group, version }, requestOptions(s)));
    } catch (err) {
      if (err instanceof K8sError && err.kind === 'not-found') {
        throw new K8sError(`workload kind ${ref.kind}: apiVersion ${ref.apiVersion} is not served by the cluster (GET /apis/${ref.apiVersion} answered 404)`, 'unknown-kind', 404, { cause: err });
      }
      throw err;
    }
    return resolveKind(ref.apiVersion, ref.kind, list.resources ?? []);
  }

  /** A call on a workload's resource, its kind resolved first. */
  private async onWorkload<T>(ref: WorkloadRef, signal: AbortSignal | undefined, what: (plural: string) => string, run: (k: ResolvedKind, s: AbortSignal) => Promise<T>): Promise<T> {
    const k = await this.resolve(ref, signal);
    return this.call(what(k.plural), signal, (s) => run(k, s));
  }

  async getScale(ref: WorkloadRef, signal?: AbortSignal): Promise<ScaleView> {
    const o = await this.onWorkload(
      ref,
      signal,
      (plural) => `get ${plural}/scale ${ref.namespace}/${ref.name}`,
      (k, s) => this.custom.getNamespacedCustomObjectScale({ group: k.group, version: k.version, namespace: ref.namespace, plural: k.plural, name: ref.name }, requestOptions(s)),
    );
    return toScaleView(o);
  }

  async patchScaleReplicas(req: { ref: WorkloadRef; replicas: number; resourceVersion?: string }, signal?: AbortSignal): Promise<ScaleView> {
    const { ref } = req;
    const body = { ...(req.resourceVersion ? { metadata: { resourceVersion: req.resourceVersion } } : {}), spec: { replicas: req.replicas } };
    const o = await this.onWorkload(
      ref,
      signal,
      (plural) => `patch ${plural}/scale ${ref.namespace}/${ref.name}`,
      (k, s) =>
        this.custom.patchNamespacedCustomObjectScale(
          { group: k.group, version: k.version, namespace: ref.namespace, plural: k.plural, name: ref.name, body },
          // Without this header client-node sends JSON Patch and a merge body is rejected (client-node issues #1398, #1499, #862).
          requestOptions(s, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
        ),
    );
    return toScaleView(o);
  }

  async getWorkload(ref: WorkloadRef, signal?: AbortSignal): Promise<WorkloadView> {
    const o = await this.onWorkload(
      ref,
      signal,
      (plural) => `get ${plural} ${ref.namespace}/${ref.name}`,
      (k, s) => this.custom.getNamespacedCustomObject({ group: k.group, version: k.version, namespace: ref.namespace, plural: k.plural, name: ref.name }, requestOptions(s)),
    );
    return toWorkloadView(ref, o);
  }

  async listHpas(ns: string, signal?: AbortSignal): Promise<HpaView[]> {
    const list = await this.call(`list horizontalpodautoscalers in ${ns}`, signal, (s) =>
      this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ns }, requestOptions(s)),
    );
    return list.items.map((h) => ({
      namespace: h.metadata?.namespace ?? ns,
      name: h.metadata?.name ?? '',
      targetApiVersion: h.spec?.scaleTargetRef.apiVersion ?? '',
      targetKind: h.spec?.scaleTargetRef.kind ?? '',
      targetName: h.spec?.scaleTargetRef.name ?? '',
    }));
  }

  async getLease(ns: string, name: string, signal?: AbortSignal): Promise<LeaseRecord | undefined> {
    try {
      const l = await this.call(`get leases ${ns}/${name}`, signal, (s) => this.coordination.readNamespacedLease({ namespace: ns, name }, requestOptions(s)));
      return toLeaseRecord(l);
    } catch (err) {
      if (err instanceof K8sError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async createLease(ns: string, name: string, lease: LeaseRecord): Promise<LeaseRecord> {
    const body = toV1Lease(ns, name, { ...lease, resourceVersion: '' });
    const l = await this.call(`create leases ${ns}/${name}`, undefined, (s) =>
      this.coordination.createNamespacedLease({ namespace: ns, body }, requestOptions(s)),
    );
    return toLeaseRecord(l);
  }

  async replaceLease(ns: string, name: string, lease: LeaseRecord): Promise<LeaseRecord> {
    const body = toV1Lease(ns, name, lease);
    const l = await this.call(`update leases ${ns}/${name}`, undefined, (s) =>
      this.coordination.replaceNamespacedLease({ namespace: ns, name, body }, requestOptions(s)),
    );
    return toLeaseRecord(l);
  }
}
