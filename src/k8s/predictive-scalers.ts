import {
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { PS_GROUP, PS_PLURAL, PS_VERSION, type PredictiveScalerObject, type PredictiveScalerStatus } from '../crd/predictive-scaler.js';
import { K8sError, requestOptions, timedCall } from './client.js';

/**
 * The Kubernetes calls of the PredictiveScaler controller (src/controller), behind one narrow interface: watch
 * PredictiveScalers, write their status, record Events on them, and keep the HPAs they own. Every call is in
 * K8S_CALLS_USED (rbac.ts).
 */

export type PsObject = PredictiveScalerObject & KubernetesObject;

/** A watch of PredictiveScalers with the objects it has seen; client-node's informer. */
export type PsInformer = Informer<PsObject> & ObjectCache<PsObject>;

export interface PsEvent {
  readonly object: PredictiveScalerObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface ControllerKubeApi {
  /** A watch of PredictiveScalers in `namespace`, or in every namespace; not started. */
  informer(namespace?: string): PsInformer;
  /** Merge-patches the status subresource. */
  patchStatus(ns: string, name: string, status: PredictiveScalerStatus): Promise<void>;
  createEvent(e: PsEvent): Promise<void>;
  createHpa(h: V2HorizontalPodAutoscaler): Promise<void>;
  /** Replaces the HPA; `h.metadata.resourceVersion` makes it a compare-and-swap. */
  replaceHpa(h: V2HorizontalPodAutoscaler): Promise<void>;
  deleteHpa(ns: string, name: string): Promise<void>;
  listHpas(ns: string, labelSelector: string): Promise<V2HorizontalPodAutoscaler[]>;
}

export class PredictiveScalerClient implements ControllerKubeApi {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly autoscaling: AutoscalingV2Api;

  constructor(
    private readonly kc: KubeConfig,
    private readonly o: { readonly component: string; readonly instance: string; readonly timeoutMs?: number },
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.autoscaling = kc.makeApiClient(AutoscalingV2Api);
  }

  informer(namespace?: string): PsInformer {
    const path = namespace ? `/apis/${PS_GROUP}/${PS_VERSION}/namespaces/${namespace}/${PS_PLURAL}` : `/apis/${PS_GROUP}/${PS_VERSION}/${PS_PLURAL}`;
    const list = async (): Promise<KubernetesListObject<PsObject>> => {
      const req = { group: PS_GROUP, version: PS_VERSION, plural: PS_PLURAL };
      const r: unknown = namespace ? await this.custom.listNamespacedCustomObject({ ...req, namespace }) : await this.custom.listClusterCustomObject(req);
      return r as KubernetesListObject<PsObject>;
    };
    return makeInformer(this.kc, path, list);
  }

  async patchStatus(ns: string, name: string, status: PredictiveScalerStatus): Promise<void> {
    await this.call(`patch ${PS_PLURAL}/status ${ns}/${name}`, (sig) =>
      this.custom.patchNamespacedCustomObjectStatus(
        // A merge patch keeps what it does not name: an optional field gone from the status (no model after a history
        // change, no scale target left) is sent as null so it is removed, not left showing its old value.
        { group: PS_GROUP, version: PS_VERSION, namespace: ns, plural: PS_PLURAL, name, body: { status: { model: null, forecast: null, plannedReplicas: null, mode: null, ...status } } },
        requestOptions(sig, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      ),
    );
  }

  async createEvent(e: PsEvent): Promise<void> {
    const m = e.object.metadata;
    const now = new Date();
    await this.call(`create events ${m.namespace}`, (sig) =>
      this.core.createNamespacedEvent(
        {
          namespace: m.namespace,
          body: {
            metadata: { generateName: `${m.name}.`, namespace: m.namespace },
            involvedObject: { apiVersion: `${PS_GROUP}/${PS_VERSION}`, kind: 'PredictiveScaler', name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
            type: e.type,
            reason: e.reason,
            message: e.message.slice(0, 1024),
            source: { component: this.o.component },
            reportingComponent: this.o.component,
            reportingInstance: this.o.instance.slice(0, 128),
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        },
        requestOptions(sig),
      ),
    );
  }

  async createHpa(h: V2HorizontalPodAutoscaler): Promise<void> {
    const ns = h.metadata?.namespace ?? '';
    await this.call(`create horizontalpodautoscalers ${ns}/${h.metadata?.name ?? ''}`, (sig) => this.autoscaling.createNamespacedHorizontalPodAutoscaler({ namespace: ns, body: h }, requestOptions(sig)));
  }

  async replaceHpa(h: V2HorizontalPodAutoscaler): Promise<void> {
    const ns = h.metadata?.namespace ?? '';
    const name = h.metadata?.name ?? '';
    await this.call(`update horizontalpodautoscalers ${ns}/${name}`, (sig) => this.autoscaling.replaceNamespacedHorizontalPodAutoscaler({ namespace: ns, name, body: h }, requestOptions(sig)));
  }

  async deleteHpa(ns: string, name: string): Promise<void> {
    try {
      await this.call(`delete horizontalpodautoscalers ${ns}/${name}`, (sig) => this.autoscaling.deleteNamespacedHorizontalPodAutoscaler({ namespace: ns, name }, requestOptions(sig)));
    } catch (err) {
      if (!(err instanceof K8sError && err.kind === 'not-found')) throw err;
    }
  }

  async listHpas(ns: string, labelSelector: string): Promise<V2HorizontalPodAutoscaler[]> {
    const l = await this.call(`list horizontalpodautoscalers in ${ns}`, (sig) => this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ns, labelSelector }, requestOptions(sig)));
    return l.items;
  }

  private call<T>(what: string, run: (s: AbortSignal) => Promise<T>): Promise<T> {
    return timedCall(what, this.o.timeoutMs ?? 10_000, undefined, run);
  }

}
