import { CLONESET_GROUP, CLONESET_KIND, CLONESET_VERSION, groupOf, K8sError, type HpaApi, type HpaView, type K8sErrorKind, type ScaleApi, type ScaleView, type WorkloadRef, type WorkloadView } from '../k8s/client.js';
import { log } from '../obs/log.js';
import type { CapacityModel, Plan, PlanPolicy } from '../plan/planner.js';
import { errorMessage } from '../util/errors.js';
import type { ActionRecord, Actuator, ApplyContext } from './actuator.js';

/**
 * Replicas of a workload with a `/scale` subresource: an OpenKruise CloneSet by default, or any kind named by
 * `workload` (Deployment apps/v1, Argo Rollout argoproj.io/v1alpha1, ...), found through API discovery.
 * `external-metric` (default): an HPA owns the replicas and reads prescale's forecast as an external metric;
 * this actuator only records what is served. `direct`: prescale merge-patches `/scale` itself, which is only
 * safe when no HPA targets the workload (two writers would fight), and never scales down while a rollout is in
 * progress (the controller is replacing pods; removing some now could drop below what serves the load).
 */
export type CloneSetMode = 'external-metric' | 'direct';

export interface CloneSetActuatorOptions {
  readonly namespace: string;
  readonly name: string;
  /** The kind scaled; default apps.kruise.io/v1alpha1 CloneSet. */
  readonly workload?: WorkloadKind;
  readonly mode: CloneSetMode;
  readonly model: Extract<CapacityModel, { kind: 'cloneset' }>;
  readonly policy: PlanPolicy;
  readonly scale: ScaleApi;
  readonly hpas: HpaApi;
}

/** The kind of a scaled workload, as in an HPA's scaleTargetRef. */
export interface WorkloadKind {
  /** `GROUP/VERSION`. */
  readonly apiVersion: string;
  readonly kind: string;
}

export const DEFAULT_WORKLOAD: WorkloadKind = { apiVersion: `${CLONESET_GROUP}/${CLONESET_VERSION}`, kind: CLONESET_KIND };

function isCloneSet(w: WorkloadKind): boolean {
  return groupOf(w.apiVersion) === CLONESET_GROUP && w.kind === CLONESET_KIND;
}

/** `cloneset:ns/name` for an OpenKruise CloneSet (ids other code knows), else the lower-cased kind: `deployment:ns/name`. */
export function workloadActuatorId(w: WorkloadKind, namespace: string, name: string): string {
  return `${isCloneSet(w) ? 'cloneset' : w.kind.toLowerCase()}:${namespace}/${name}`;
}

/** An HPA's scaleTargetRef names this workload: same namespace, name, kind and API group (any version). */
export function hpaTargets(h: HpaView, ref: WorkloadRef): boolean {
  return h.namespace === ref.namespace && groupOf(h.targetApiVersion) === groupOf(ref.apiVersion) && h.targetKind === ref.kind && h.targetName === ref.name;
}

/** Why a scale-down must wait, or undefined when no rollout is in progress. */
export function rolloutInProgress(w: WorkloadView): string | undefined {
  if (w.paused) return 'the rollout is paused (on hold)';
  if (w.updatedReplicas < w.statusReplicas) return `rollout in progress (${w.updatedReplicas} of ${w.statusReplicas} replicas updated)`;
  return undefined;
}

function isK8s(err: unknown, kind: K8sErrorKind): boolean {
  return err instanceof K8sError && err.kind === kind;
}

export class CloneSetActuator implements Actuator {
  readonly id: string;
  readonly kind = 'cloneset' as const;
  readonly model: CapacityModel;
  readonly policy: PlanPolicy;
  /** The workload scaled, with its namespace and name. */
  readonly ref: WorkloadRef;
  private warnedNoHpa = false;

  constructor(private readonly o: CloneSetActuatorOptions) {
    const w = o.workload ?? DEFAULT_WORKLOAD;
    this.ref = { namespace: o.namespace, apiVersion: w.apiVersion, kind: w.kind, name: o.name };
    this.id = workloadActuatorId(w, o.namespace, o.name);
    this.model = o.model;
    this.policy = o.policy;
  }

  get mode(): CloneSetMode {
    return this.o.mode;
  }

  async currentCapacity(signal?: AbortSignal): Promise<number | undefined> {
    try {
      return (await this.o.scale.getScale(this.ref, signal)).replicas;
    } catch (err) {
      log.warn({ actuator: this.id, kind: this.ref.kind, err: errorMessage(err) }, 'cannot read the workload scale');
      return undefined;
    }
  }

  async apply(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]> {
    const mode = this.o.mode;
    switch (mode) {
      case 'external-metric':
        return this.applyExternalMetric(plan, ctx);
      case 'direct':
        return this.applyDirect(plan, ctx);
      default: {
        const never: never = mode;
        throw new Error(`unknown CloneSet mode ${String(never)}`);
      }
    }
  }

  private rec(ctx: ApplyContext, r: Pick<ActionRecord, 'action' | 'result' | 'detail' | 'data'>): ActionRecord {
    return { atMs: ctx.nowMs, target: ctx.target, actuator: this.id, ...r };
  }

  private async owningHpas(ctx: ApplyContext): Promise<HpaView[]> {
    const all = await this.o.hpas.listHpas(this.o.namespace, ctx.signal);
    return all.filter((h) => hpaTargets(h, this.ref));
  }

  private async applyExternalMetric(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]> {
    const desired = plan.current.capacity;
    const data = { desiredReplicas: desired, servedQps: plan.current.qps, mode: 'external-metric' };
    const out: ActionRecord[] = [];
    try {
      const hpas = await this.owningHpas(ctx);
      if (hpas.length === 0) {
        // Nothing will act on the metric; say so (once in the log, every cycle in the record) but change nothing.
        if (!this.warnedNoHpa) log.warn({ actuator: this.id, kind: this.ref.kind }, 'no HPA targets this workload: the served forecast scales nothing');
        this.warnedNoHpa = true;
        out.push(this.rec(ctx, { action: 'warn', result: 'ok', detail: `no HPA in ${this.o.namespace} targets ${this.ref.kind} ${this.o.name}; the external metric is served but nothing scales on it` }));
      } else {
        this.warnedNoHpa = false;
      }
    } catch (err) {
      out.push(this.rec(ctx, { action: 'error', result: 'error', detail: `cannot list HPAs: ${errorMessage(err)}` }));
    }
    out.push(this.rec(ctx, { action: 'serve-metric', result: ctx.dryRun ? 'dry-run' : 'ok', detail: `serving ${plan.current.qps.toFixed(1)} QPS for ${desired} replicas; the HPA owns replicas`, data }));
    return out;
  }

  private async applyDirect(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]> {
    const desired = plan.current.capacity;
    let hpas: HpaView[];
    try {
      hpas = await this.owningHpas(ctx);
    } catch (err) {
      // Without knowing whether an HPA owns the replicas, writing them could fight it: keep what is there.
      return [this.rec(ctx, { action: 'error', result: 'error', detail: `cannot list HPAs, replicas left as they are: ${errorMessage(err)}` })];
    }
    if (hpas.length > 0) {
      const names = hpas.map((h) => h.name).join(', ');
      return [
        this.rec(ctx, {
          action: 'refused',
          result: 'error',
          detail: `mode direct refused: HPA ${names} in ${this.o.namespace} targets ${this.ref.kind} ${this.o.name} and owns its replicas; use mode external-metric or remove the HPA`,
          data: { desiredReplicas: desired, hpas: hpas.map((h) => h.name) },
        }),
      ];
    }
    return this.scaleTo(desired, ctx, true);
  }

  /** Reads the workload and its scale, then patches replicas with the read resourceVersion as a precondition. */
  private async scaleTo(desired: number, ctx: ApplyContext, retryOnConflict: boolean): Promise<ActionRecord[]> {
    const kind = this.ref.kind;
    let cs: WorkloadView;
    let sc: ScaleView;
    try {
      cs = await this.o.scale.getWorkload(this.ref, ctx.signal);
      sc = await this.o.scale.getScale(this.ref, ctx.signal);
    } catch (err) {
      const gone = isK8s(err, 'not-found');
      return [this.rec(ctx, { action: 'error', result: 'error', detail: gone ? `${kind} ${this.o.namespace}/${this.o.name} not found (deleted?): ${errorMessage(err)}` : `cannot read ${kind}: ${errorMessage(err)}` })];
    }
    const current = sc.replicas;
    const data = { currentReplicas: current, desiredReplicas: desired, resourceVersion: sc.resourceVersion };
    if (desired === current) return [this.rec(ctx, { action: 'noop', result: 'ok', detail: `already at ${current} replicas`, data })];
    if (desired < current) {
      const why = rolloutInProgress(cs);
      if (why) return [this.rec(ctx, { action: 'hold', result: 'skipped', detail: `not scaling down ${current} → ${desired}: ${why}`, data })];
    }
    if (ctx.dryRun) return [this.rec(ctx, { action: 'patch-scale', result: 'dry-run', detail: `would scale ${current} → ${desired}`, data })];
    try {
      await this.o.scale.patchScaleReplicas({ ref: this.ref, replicas: desired, resourceVersion: sc.resourceVersion }, ctx.signal);
      return [this.rec(ctx, { action: 'patch-scale', result: 'ok', detail: `scaled ${current} → ${desired}`, data })];
    } catch (err) {
      if (isK8s(err, 'conflict') && retryOnConflict) {
        // Someone changed the workload between read and write: decide again on a fresh read, once.
        const first = this.rec(ctx, { action: 'conflict', result: 'error', detail: `conflict scaling ${current} → ${desired}, re-reading: ${errorMessage(err)}`, data });
        return [first, ...(await this.scaleTo(desired, ctx, false))];
      }
      const gone = isK8s(err, 'not-found');
      return [
        this.rec(ctx, {
          action: 'error',
          result: 'error',
          detail: `${gone ? `${kind} deleted before the patch` : 'patch failed'}, replicas left at ${current}: ${errorMessage(err)}`,
          data,
        }),
      ];
    }
  }
}
