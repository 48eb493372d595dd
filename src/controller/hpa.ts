import type { V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerBehavior, V2MetricSpec } from '@kubernetes/client-node';
import { ADOPT_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, PS_API_VERSION, PS_KIND, type PredictiveScalerObject, type PredictiveScalerSpec } from '../crd/predictive-scaler.js';
import { hpaTargets } from '../actuators/cloneset.js';
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

/**
 * The HPAs the spec asks for: one per external-metric scale target. In Preview the HPA keeps only the spec's
 * reactive metrics (nothing acts on the forecast, and the workload still scales on CPU); a Preview target with no
 * reactive metrics gets no HPA.
 */
export function desiredHpas(obj: PredictiveScalerObject, spec: PredictiveScalerSpec, targetName: string): DesiredHpa[] {
  const { namespace, name, uid } = obj.metadata;
  return spec.scaleTargets.flatMap((s, i) => {
    if (s.mode !== 'external-metric') return [];
    if (spec.mode === 'Preview' && s.metrics.length === 0) return [];
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
        metrics: [...(s.metrics as unknown as V2MetricSpec[]), ...(spec.mode === 'Auto' ? [predictive] : [])],
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
  | { readonly ok: true; readonly created: string[]; readonly updated: string[]; readonly deleted: string[]; readonly names: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly reason: 'HPAConflict' | 'HPAError'; readonly message: string };

function ownedBy(h: V2HorizontalPodAutoscaler, uid: string): boolean {
  return (h.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

/**
 * Whether the HPA already is what prescale would write: every field prescale sets has the wanted value. The
 * apiserver fills in defaults (every unset `behavior` field once `behavior` is given, a policy's
 * `selectPolicy`), so a wanted object is compared as a subset of what is stored, not for equality.
 */
function upToDate(have: V2HorizontalPodAutoscaler, want: V2HorizontalPodAutoscaler): boolean {
  const part = (h: V2HorizontalPodAutoscaler, like: V2HorizontalPodAutoscaler): unknown =>
    JSON.parse(
      canonical({
        spec: { scaleTargetRef: h.spec?.scaleTargetRef, minReplicas: h.spec?.minReplicas, maxReplicas: h.spec?.maxReplicas, metrics: h.spec?.metrics, behavior: like.spec?.behavior ? h.spec?.behavior : undefined },
        labels: Object.fromEntries(Object.keys(like.metadata?.labels ?? {}).map((k) => [k, h.metadata?.labels?.[k]])),
        owners: (h.metadata?.ownerReferences ?? []).map((r) => r.uid),
      }),
    ) as unknown;
  return isSubset(part(want, want), part(have, want));
}

/** `want` ⊆ `have`: every key of every object in `want` has an equal value in `have`; arrays match element by element. */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => isSubset(w, have[i]));
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want as Record<string, unknown>).every(([k, v]) => isSubset(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
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
  const done = { created: [] as string[], updated: [] as string[], deleted: [] as string[], names: new Map<string, string>() };
  try {
    const existing = await api.listHpas(namespace, '');
    for (const d of desired) {
      const r = await ensureOne(api, obj, d.hpa, existing);
      if (r.kind === 'conflict') return { ok: false, reason: 'HPAConflict', message: r.message };
      done.names.set(d.actuatorId, r.name);
      if (r.kind !== 'kept') done[r.kind].push(r.name);
    }
    const want = new Set(done.names.values());
    for (const h of existing) {
      const hname = h.metadata?.name ?? '';
      if (want.has(hname) || !ownedBy(h, uid) || h.metadata?.labels?.[OWNER_LABEL] !== name) continue;
      await api.deleteHpa(namespace, hname);
      done.deleted.push(hname);
    }
    return { ok: true, ...done };
  } catch (err) {
    return { ok: false, reason: 'HPAError', message: `cannot keep the HPAs of ${namespace}/${name}: ${errorMessage(err)}` };
  }
}

type One = { readonly kind: 'created' | 'updated' | 'kept'; readonly name: string } | { readonly kind: 'conflict'; readonly message: string };

/** Whether an HPA targets the workload `want` scales (any version of its group), as the workload actuator judges it. */
function sameTarget(h: V2HorizontalPodAutoscaler, want: V2HorizontalPodAutoscaler): boolean {
  const a = h.spec?.scaleTargetRef;
  const b = want.spec?.scaleTargetRef;
  if (!a || !b) return false;
  const view = { namespace: h.metadata?.namespace ?? '', name: h.metadata?.name ?? '', targetApiVersion: a.apiVersion ?? '', targetKind: a.kind, targetName: a.name };
  return hpaTargets(view, { namespace: want.metadata?.namespace ?? '', apiVersion: b.apiVersion ?? '', kind: b.kind, name: b.name });
}

/**
 * One desired HPA. An HPA of the workload already there (under any name: two HPAs on one workload make the HPA
 * controller stop scaling it, AmbiguousSelector) is ours, adoptable (annotated `prescale.io/adopt: <name>`, then
 * kept under its own name), or a conflict that names it.
 */
async function ensureOne(api: ControllerKubeApi, obj: PredictiveScalerObject, want: V2HorizontalPodAutoscaler, existing: readonly V2HorizontalPodAutoscaler[]): Promise<One> {
  const { namespace, name, uid } = obj.metadata;
  const ref = want.spec!.scaleTargetRef;
  const conflict = (h: V2HorizontalPodAutoscaler, why: string): One => ({
    kind: 'conflict',
    message: `HPA ${namespace}/${h.metadata?.name ?? ''} ${why} and is not owned by this PredictiveScaler; annotate it ${ADOPT_ANNOTATION}=${name} to let prescale take it over, or delete it`,
  });
  const onWorkload = existing.filter((h) => sameTarget(h, want));
  const ours = onWorkload.find((h) => ownedBy(h, uid)) ?? onWorkload.find((h) => h.metadata?.annotations?.[ADOPT_ANNOTATION] === name);
  const other = onWorkload.find((h) => h !== ours);
  if (other) return conflict(other, `targets ${ref.kind} ${ref.name} too (two HPAs on one workload stop its autoscaling)`);
  if (!ours) {
    const taken = existing.find((h) => h.metadata?.name === want.metadata?.name);
    if (taken) return conflict(taken, 'has the name prescale gives its HPA');
    await api.createHpa(want);
    return { kind: 'created', name: want.metadata!.name! };
  }
  const hname = ours.metadata?.name ?? '';
  // Adopted HPAs keep their name; the HPA's own annotations stay; resourceVersion makes the write a compare-and-swap.
  const next = { ...want, metadata: { ...want.metadata, name: hname, annotations: ours.metadata?.annotations ?? {}, resourceVersion: ours.metadata?.resourceVersion } };
  if (ownedBy(ours, uid) && upToDate(ours, next)) return { kind: 'kept', name: hname };
  await api.replaceHpa(next);
  return { kind: 'updated', name: hname };
}
