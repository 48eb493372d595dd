import type { V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerBehavior, V2MetricSpec } from '@kubernetes/client-node';
import { ADOPT_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, PS_API_VERSION, PS_KIND, type PredictiveScalerObject, type PredictiveScalerSpec } from '../crd/predictive-scaler.js';
import { METRIC_NAMES } from '../metrics-api/server.js';
import { errorMessage } from '../util/errors.js';
import type { ControllerKubeApi } from '../k8s/predictive-scalers.js';

/**
 * The HPAs a PredictiveScaler owns in external-metric mode, as KEDA owns `keda-hpa-<name>`: one per scale target,
 * named after the PredictiveScaler (`<name>` for the first, `<name>-<i>` for the others), with an ownerReference so
 * the garbage collector removes them with it. Each keeps the spec's reactive metrics beside `prescale-qps`, so the
 * HPA takes the max of the two. An HPA of that name that prescale does not own is taken over only when it is
 * annotated `prescale.io/adopt: "<PredictiveScaler name>"`.
 */

export const OWNER_LABEL = 'prescale.io/predictivescaler';

export interface DesiredHpa {
  /** The actuator id of the scale target it serves (src/actuators/cloneset.ts). */
  readonly actuatorId: string;
  readonly hpa: V2HorizontalPodAutoscaler;
}

/** `kind:namespace/name`, the id the CloneSet actuator gives itself (see CloneSetActuator). */
export function actuatorIdOf(kind: string, namespace: string, name: string): string {
  return `${kind.toLowerCase()}:${namespace}/${name}`;
}

export function hpaName(psName: string, index: number): string {
  return index === 0 ? psName : `${psName}-${index}`;
}

/** The HPAs the spec asks for (external-metric scale targets, in Auto mode). */
export function desiredHpas(obj: PredictiveScalerObject, spec: PredictiveScalerSpec, targetName: string): DesiredHpa[] {
  if (spec.mode !== 'Auto') return [];
  const { namespace, name, uid } = obj.metadata;
  return spec.scaleTargets.flatMap((s, i) => {
    if (s.mode !== 'external-metric') return [];
    const ref = s.scaleTargetRef;
    const predictive: V2MetricSpec = {
      type: 'External',
      external: {
        metric: { name: METRIC_NAMES[0], selector: { matchLabels: { target: targetName, cloneset: ref.name } } },
        target: { type: 'AverageValue', averageValue: quantity(s.qpsPerReplica) },
      },
    };
    const hpa: V2HorizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {
        name: hpaName(name, i),
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [OWNER_LABEL]: name },
        ownerReferences: [{ apiVersion: PS_API_VERSION, kind: PS_KIND, name, uid, controller: true }],
      },
      spec: {
        scaleTargetRef: { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name },
        minReplicas: s.minReplicas,
        maxReplicas: s.maxReplicas,
        metrics: [...(s.metrics as unknown as V2MetricSpec[]), predictive],
        ...(s.behavior ? { behavior: s.behavior as V2HorizontalPodAutoscalerBehavior } : {}),
      },
    };
    return [{ actuatorId: actuatorIdOf(ref.kind, namespace, ref.name), hpa }];
  });
}

/** A Kubernetes quantity for a QPS: whole numbers as they are, else milli-units (100.5 → "100500m"). */
export function quantity(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return `${Math.round(x * 1000)}m`;
}

export type EnsureResult =
  | { readonly ok: true; readonly created: string[]; readonly updated: string[]; readonly deleted: string[] }
  | { readonly ok: false; readonly reason: 'HPAConflict' | 'HPAError'; readonly message: string };

function ownedBy(h: V2HorizontalPodAutoscaler, uid: string): boolean {
  return (h.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

/**
 * What of an HPA prescale sets, in a canonical form (keys sorted), to decide whether to write: the apiserver fills
 * in defaults (e.g. `behavior`) that the desired HPA leaves out, so only the fields prescale sets are compared.
 */
function managedPart(h: V2HorizontalPodAutoscaler, like: V2HorizontalPodAutoscaler): string {
  const s = h.spec;
  return canonical({
    ref: s?.scaleTargetRef,
    min: s?.minReplicas,
    max: s?.maxReplicas,
    metrics: s?.metrics,
    behavior: like.spec?.behavior ? s?.behavior : undefined,
    labels: Object.fromEntries(Object.keys(like.metadata?.labels ?? {}).map((k) => [k, h.metadata?.labels?.[k]])),
    owners: (h.metadata?.ownerReferences ?? []).map((r) => r.uid),
  });
}

/** JSON with object keys sorted and undefined left out, so two equal objects built in any order compare equal. */
export function canonical(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, e]) => e !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Makes the HPAs in the namespace what the spec asks: creates the missing, updates those that drifted (an edit of
 * the PredictiveScaler, or of the HPA by hand), adopts an annotated one, and deletes owned HPAs the spec no longer
 * asks for (a removed scale target, or mode Preview). Never touches an HPA it does not own and may not adopt.
 */
export async function ensureHpas(api: ControllerKubeApi, obj: PredictiveScalerObject, desired: readonly DesiredHpa[]): Promise<EnsureResult> {
  const { namespace, name, uid } = obj.metadata;
  const done = { created: [] as string[], updated: [] as string[], deleted: [] as string[] };
  try {
    for (const d of desired) {
      const r = await ensureOne(api, obj, d.hpa);
      if (r === 'conflict') {
        const hname = d.hpa.metadata!.name!;
        return {
          ok: false,
          reason: 'HPAConflict',
          message: `HPA ${namespace}/${hname} exists and is not owned by this PredictiveScaler; annotate it ${ADOPT_ANNOTATION}=${name} to let prescale take it over, or delete it`,
        };
      }
      if (r !== 'kept') done[r].push(d.hpa.metadata!.name!);
    }
    const want = new Set(desired.map((d) => d.hpa.metadata!.name!));
    for (const h of await api.listHpas(namespace, `${OWNER_LABEL}=${name}`)) {
      const hname = h.metadata?.name ?? '';
      if (want.has(hname) || !ownedBy(h, uid)) continue;
      await api.deleteHpa(namespace, hname);
      done.deleted.push(hname);
    }
    return { ok: true, ...done };
  } catch (err) {
    return { ok: false, reason: 'HPAError', message: `cannot keep the HPAs of ${namespace}/${name}: ${errorMessage(err)}` };
  }
}

/** One desired HPA: created, updated (drifted, or adopted), kept as it is, or a conflict (not ours, not annotated). */
async function ensureOne(api: ControllerKubeApi, obj: PredictiveScalerObject, want: V2HorizontalPodAutoscaler): Promise<'created' | 'updated' | 'kept' | 'conflict'> {
  const { namespace, name, uid } = obj.metadata;
  const have = await api.getHpa(namespace, want.metadata!.name!);
  if (!have) {
    await api.createHpa(want);
    return 'created';
  }
  const mine = ownedBy(have, uid);
  if (!mine && have.metadata?.annotations?.[ADOPT_ANNOTATION] !== name) return 'conflict';
  if (mine && managedPart(have, want) === managedPart(want, want)) return 'kept';
  // The HPA's own annotations (the adopt annotation, a user's) stay; resourceVersion makes the write a compare-and-swap.
  await api.replaceHpa({ ...want, metadata: { ...want.metadata, annotations: have.metadata?.annotations ?? {}, resourceVersion: have.metadata?.resourceVersion } });
  return 'updated';
}
