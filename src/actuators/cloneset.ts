import { CLONESET_GROUP, K8sError, type CloneSetView, type HpaApi, type HpaView, type K8sErrorKind, type ScaleApi, type ScaleView } from '../k8s/client.js';
import { log } from '../obs/log.js';
import type { CapacityModel, Plan, PlanPolicy } from '../plan/planner.js';
import { errorMessage } from '../util/errors.js';
import type { ActionRecord, Actuator, ApplyContext } from './actuator.js';

/**
 * `external-metric` (default): an HPA owns the replicas and reads prescale's forecast as an external metric;
 * this actuator only records what is served. `direct`: prescale merge-patches `/scale` itself, which is only
 * safe when no HPA targets the CloneSet (two writers would fight), and never scales down while a rollout is in
 * progress (the controller is replacing pods; removing some now could drop below what serves the load).
 */
export type CloneSetMode = 'external-metric' | 'direct';

export interface CloneSetActuatorOptions {
  readonly namespace: string;
  readonly name: string;
  readonly mode: CloneSetMode;
  readonly model: Extract<CapacityModel, { kind: 'cloneset' }>;
  readonly policy: PlanPolicy;
  readonly scale: ScaleApi;
  readonly hpas: HpaApi;
}

/** An HPA's scaleTargetRef names this CloneSet (any apps.kruise.io version). */
export function hpaTargets(h: HpaView, namespace: string, name: string): boolean {
  const group = h.targetApiVersion.split('/')[0];
  return h.namespace === namespace && group === CLONESET_GROUP && h.targetKind === 'CloneSet' && h.targetName === name;
}

/** Why a scale-down must wait, or undefined when no rollout is in progress. */
export function rolloutInProgress(cs: CloneSetView): string | undefined {
  if (cs.paused) return 'the update strategy is paused (a rollout is on hold)';
  if (cs.updatedReplicas < cs.statusReplicas) return `rollout in progress (${cs.updatedReplicas} of ${cs.statusReplicas} replicas updated)`;
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
  private warnedNoHpa = false;

  constructor(private readonly o: CloneSetActuatorOptions) {
    this.id = `cloneset:${o.namespace}/${o.name}`;
    this.model = o.model;
    this.policy = o.policy;
  }

  get mode(): CloneSetMode {
    return this.o.mode;
  }

  async currentCapacity(signal?: AbortSignal): Promise<number | undefined> {
    try {
      return (await this.o.scale.getScale(this.o.namespace, this.o.name, signal)).replicas;
    } catch (err) {
      log.warn({ actuator: this.id, err: errorMessage(err) }, 'cannot read CloneSet scale');
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
    return all.filter((h) => hpaTargets(h, this.o.namespace, this.o.name));
  }

  private async applyExternalMetric(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]> {
    const desired = plan.current.capacity;
    const data = { desiredReplicas: desired, servedQps: plan.current.qps, mode: 'external-metric' };
    const out: ActionRecord[] = [];
    try {
      const hpas = await this.owningHpas(ctx);
      if (hpas.length === 0) {
        // Nothing will act on the metric; say so (once in the log, every cycle in the record) but change nothing.
        if (!this.warnedNoHpa) log.warn({ actuator: this.id }, 'no HPA targets this CloneSet: the served forecast scales nothing');
        this.warnedNoHpa = true;
        out.push(this.rec(ctx, { action: 'warn', result: 'ok', detail: `no HPA in ${this.o.namespace} targets CloneSet ${this.o.name}; the external metric is served but nothing scales on it` }));
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
          detail: `mode direct refused: HPA ${names} in ${this.o.namespace} targets CloneSet ${this.o.name} and owns its replicas; use mode external-metric or remove the HPA`,
          data: { desiredReplicas: desired, hpas: hpas.map((h) => h.name) },
        }),
      ];
    }
    return this.scaleTo(desired, ctx, true);
  }

  /** Reads the CloneSet and its scale, then patches replicas with the read resourceVersion as a precondition. */
  private async scaleTo(desired: number, ctx: ApplyContext, retryOnConflict: boolean): Promise<ActionRecord[]> {
    let cs: CloneSetView;
    let sc: ScaleView;
    try {
      cs = await this.o.scale.getCloneSet(this.o.namespace, this.o.name, ctx.signal);
      sc = await this.o.scale.getScale(this.o.namespace, this.o.name, ctx.signal);
    } catch (err) {
      const gone = isK8s(err, 'not-found');
      return [this.rec(ctx, { action: 'error', result: 'error', detail: gone ? `CloneSet ${this.o.namespace}/${this.o.name} not found (deleted?): ${errorMessage(err)}` : `cannot read CloneSet: ${errorMessage(err)}` })];
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
      await this.o.scale.patchScaleReplicas({ ns: this.o.namespace, name: this.o.name, replicas: desired, resourceVersion: sc.resourceVersion }, ctx.signal);
      return [this.rec(ctx, { action: 'patch-scale', result: 'ok', detail: `scaled ${current} → ${desired}`, data })];
    } catch (err) {
      if (isK8s(err, 'conflict') && retryOnConflict) {
        // Someone changed the CloneSet between read and write: decide again on a fresh read, once.
        const first = this.rec(ctx, { action: 'conflict', result: 'error', detail: `conflict scaling ${current} → ${desired}, re-reading: ${errorMessage(err)}`, data });
        return [first, ...(await this.scaleTo(desired, ctx, false))];
      }
      const gone = isK8s(err, 'not-found');
      return [
        this.rec(ctx, {
          action: 'error',
          result: 'error',
          detail: `${gone ? 'CloneSet deleted before the patch' : 'patch failed'}, replicas left at ${current}: ${errorMessage(err)}`,
          data,
        }),
      ];
    }
  }
}
