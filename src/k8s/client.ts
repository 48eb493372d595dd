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
export const CLONESET_PLURAL = 'clonesets';

/** The autoscaling/v1 Scale of a CloneSet, as its `/scale` subresource returns it. */
export interface ScaleView {
  readonly replicas: number;
  readonly statusReplicas: number;
  readonly resourceVersion: string;
}

/** What a scaler needs from a CloneSet to see whether a rollout is in progress. */
export interface CloneSetView {
  readonly specReplicas: number;
  readonly statusReplicas: number;
  readonly updatedReplicas: number;
  readonly paused: boolean;
  readonly resourceVersion: string;
}

export interface ScaleApi {
  getScale(ns: string, name: string, signal?: AbortSignal): Promise<ScaleView>;
  /** Merge-patches `/scale`; with `resourceVersion` the server refuses (409) if the object changed since. */
  patchScaleReplicas(req: { ns: string; name: string; replicas: number; resourceVersion?: string }, signal?: AbortSignal): Promise<ScaleView>;
  getCloneSet(ns: string, name: string, signal?: AbortSignal): Promise<CloneSetView>;
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

export type K8sErrorKind = 'not-found' | 'conflict' | 'forbidden' | 'unauthorized' | 'invalid' | 'server' | 'timeout' | 'network' | 'other';

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
function requestOptions(signal: AbortSignal, base?: ConfigurationOptions): ConfigurationOptions {
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

function toCloneSetView(o: unknown): CloneSetView {
  const r = rec(o);
  const spec = rec(r.spec);
  const status = rec(r.status);
  return {
    specReplicas: num(spec.replicas),
    statusReplicas: num(status.replicas),
    updatedReplicas: num(status.updatedReplicas),
    paused: rec(spec.updateStrategy).paused === true,
    resourceVersion: String(rec(r.metadata).resourceVersion ?? ''),
  };
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
  private async call<T>(what: string, signal: AbortSignal | undefined, run: (s: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await run(s);
    } catch (err) {
      throw toK8sError(what, err, timeout.aborted);
    }
  }

  async getScale(ns: string, name: string, signal?: AbortSignal): Promise<ScaleView> {
    const o = await this.call(`get clonesets/scale ${ns}/${name}`, signal, (s) =>
      this.custom.getNamespacedCustomObjectScale(
        { group: CLONESET_GROUP, version: CLONESET_VERSION, namespace: ns, plural: CLONESET_PLURAL, name },
        requestOptions(s),
      ),
    );
    return toScaleView(o);
  }

  async patchScaleReplicas(req: { ns: string; name: string; replicas: number; resourceVersion?: string }, signal?: AbortSignal): Promise<ScaleView> {
    const body = { ...(req.resourceVersion ? { metadata: { resourceVersion: req.resourceVersion } } : {}), spec: { replicas: req.replicas } };
    const o = await this.call(`patch clonesets/scale ${req.ns}/${req.name}`, signal, (s) =>
      this.custom.patchNamespacedCustomObjectScale(
        { group: CLONESET_GROUP, version: CLONESET_VERSION, namespace: req.ns, plural: CLONESET_PLURAL, name: req.name, body },
        // Without this header client-node sends JSON Patch and a merge body is rejected (client-node issues #1398, #1499, #862).
        requestOptions(s, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      ),
    );
    return toScaleView(o);
  }

  async getCloneSet(ns: string, name: string, signal?: AbortSignal): Promise<CloneSetView> {
    const o = await this.call(`get clonesets ${ns}/${name}`, signal, (s) =>
      this.custom.getNamespacedCustomObject(
        { group: CLONESET_GROUP, version: CLONESET_VERSION, namespace: ns, plural: CLONESET_PLURAL, name },
        requestOptions(s),
      ),
    );
    return toCloneSetView(o);
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
