import type { ScalableTargetState, ScalingApi, ScheduledActionState, TargetKey } from '../aws/clients.js';
import { parseAt } from '../actuators/lambda-pc.js';
import type { TargetConfig } from '../config/schema.js';
import { workloadActuatorId, DEFAULT_WORKLOAD, type WorkloadKind } from '../actuators/cloneset.js';
import { K8sError, type HpaApi, type HpaView, type ScaleApi, type ScaleView, type WorkloadRef, type WorkloadView } from '../k8s/client.js';
import { capacityFor } from '../plan/planner.js';
import type { Clock } from '../util/clock.js';
import { MINUTE_MS } from '../util/clock.js';
import { CloneSetSimulator } from './cloneset.js';
import { HPA_SYNC_MS, HpaSimulator, type HpaBehavior } from './hpa.js';
import { LambdaSimulator, type LambdaMinute } from './lambda.js';

/**
 * A simulated AWS and Kubernetes that prescale's real actuators write to, for the backtest and for `simulated:
 * true` configs (the embedded demo):
 * - Application Auto Scaling carries out each `at(...)` scheduled action at its time, into a simulated Lambda
 *   alias with provisioned concurrency (allocation delay, target tracking: src/sim/lambda.ts);
 * - a CloneSet in `external-metric` mode has an HPA that syncs every 15 s and reads two External metrics, the
 *   observed load (the reactive metric) and `prescale-qps` exactly as the metrics API serves it; its pods become
 *   ready after a delay (src/sim/cloneset.ts, hpa.ts). In `direct` mode there is no HPA: prescale's patches set
 *   the replicas.
 *
 * Time is the injected clock. The world catches up lazily: every call first simulates the whole minutes up to
 * now, so the HPA reads, during minute m, what the last cycle before it published.
 */

export interface WorldParams {
  /** Pod creation to Ready. */
  readonly podReadySeconds: number;
  readonly hpaBehavior?: HpaBehavior;
  readonly hpaTolerance?: number;
  /** Requested provisioned concurrency to ready. */
  readonly lambdaAllocationSeconds: number;
  /** Whether the alias has a target-tracking policy besides prescale's MinCapacity. */
  readonly lambdaTargetTracking: boolean;
}

export interface WorldInputs {
  readonly clock: Clock;
  readonly params: WorldParams;
  /** The load of a target during the minute starting at `tMs`, in requests per second: the world's reality. */
  readonly demand: (target: string, tMs: number) => number;
  /** The sum of `prescale-qps` items the HPA of a CloneSet gets at `tMs`, undefined when the fetch fails. */
  readonly served: (target: string, actuatorId: string, tMs: number) => number | undefined;
  /** Keep what every minute did (podMinutes, lambdaMinutes): the backtest scores them; a long-running service must not. */
  readonly keepMinutes?: boolean;
}

export interface CloneSetSpec {
  readonly namespace: string;
  readonly name: string;
  /**
   * The kind the actuator names (default an OpenKruise CloneSet). Every kind is simulated as the same set of pods;
   * the kind only gives the actuator's id and the HPA's scaleTargetRef.
   */
  readonly workload?: WorkloadKind;
  readonly mode: 'external-metric' | 'direct';
  /** The HPA's AverageValue target of both metrics; prescale sizes on it too. */
  readonly qpsPerReplica: number;
  readonly min: number;
  readonly max: number;
  /** Whether the HPA also reads prescale's metric (false: a reactive-only HPA, the backtest's baseline). */
  readonly predictive: boolean;
}

export interface LambdaSpec {
  readonly function: string;
  readonly qualifier: string;
  readonly meanDurationMs: number;
  readonly targetUtilization: number;
  readonly min: number;
  readonly max: number;
}

/** What one CloneSet did in one minute. */
export interface PodMinute {
  readonly atMs: number;
  /** Ready pods, mean of the minute's HPA syncs. */
  readonly readyPods: number;
  /** Pods that exist at the end of the minute. */
  readonly pods: number;
  /** Pod-seconds paid for during the minute. */
  readonly podSeconds: number;
}

export const OBSERVED_METRIC = 'observed-qps';
export const PRESCALE_METRIC = 'prescale-qps';

interface PodEntry {
  readonly target: string;
  readonly id: string;
  readonly spec: CloneSetSpec;
  readonly sim: CloneSetSimulator;
  readonly hpa?: HpaSimulator;
  rv: number;
  readonly minutes: PodMinute[];
}

interface LambdaEntry {
  readonly target: string;
  readonly spec: LambdaSpec;
  readonly sim: LambdaSimulator;
  min: number;
  max: number;
  readonly actions: Map<string, ScheduledActionState>;
  readonly minutes: LambdaMinute[];
}

const SYNCS_PER_MINUTE = MINUTE_MS / HPA_SYNC_MS;

export class SimulatedWorld implements ScalingApi, ScaleApi, HpaApi {
  private readonly pods = new Map<string, PodEntry>();
  private readonly lambdas = new Map<string, LambdaEntry>();
  /** Start of the first minute not simulated yet. */
  private nowMs: number;

  constructor(private readonly o: WorldInputs) {
    this.nowMs = Math.floor(o.clock.now() / MINUTE_MS) * MINUTE_MS;
  }

  /** A CloneSet of `target`, warm: sized for the load of the minute before now. */
  addCloneSet(target: string, spec: CloneSetSpec): void {
    const start = Math.min(spec.max, Math.max(spec.min, capacityFor(this.o.demand(target, this.nowMs - MINUTE_MS), { kind: 'cloneset', qpsPerReplica: spec.qpsPerReplica })));
    const metrics = [{ name: OBSERVED_METRIC, target: { type: 'AverageValue' as const, averageValue: spec.qpsPerReplica } }];
    if (spec.predictive) metrics.push({ name: PRESCALE_METRIC, target: { type: 'AverageValue', averageValue: spec.qpsPerReplica } });
    const hpa =
      spec.mode === 'external-metric'
        ? new HpaSimulator({ minReplicas: spec.min, maxReplicas: spec.max, metrics, behavior: this.o.params.hpaBehavior, tolerance: this.o.params.hpaTolerance })
        : undefined;
    const id = workloadActuatorId(spec.workload ?? DEFAULT_WORKLOAD, spec.namespace, spec.name);
    this.pods.set(podKey(spec.namespace, spec.name), { target, id, spec, sim: new CloneSetSimulator(this.o.params.podReadySeconds * 1000, start), hpa, rv: 1, minutes: [] });
  }

  /** A Lambda alias of `target`, registered with Application Auto Scaling, warm for the load of the minute before now. */
  addLambda(target: string, spec: LambdaSpec): void {
    const initial = capacityFor(this.o.demand(target, this.nowMs - MINUTE_MS), { kind: 'lambda-provisioned-concurrency', meanDurationMs: spec.meanDurationMs, targetUtilization: spec.targetUtilization });
    const sim = new LambdaSimulator({
      meanDurationMs: spec.meanDurationMs,
      targetUtilization: spec.targetUtilization,
      allocationMs: this.o.params.lambdaAllocationSeconds * 1000,
      min: spec.min,
      max: spec.max,
      targetTracking: this.o.params.lambdaTargetTracking,
      initial,
    });
    this.lambdas.set(lambdaResourceId(spec.function, spec.qualifier), { target, spec, sim, min: spec.min, max: spec.max, actions: new Map(), minutes: [] });
  }

  /** What each workload did, minute by minute, by its actuator's id (`cloneset:ns/name`, `deployment:ns/name`). */
  podMinutes(id: string): readonly PodMinute[] {
    return [...this.pods.values()].find((p) => p.id === id)?.minutes ?? [];
  }

  /** What each Lambda alias did, minute by minute, by resource id `function:NAME:QUALIFIER`. */
  lambdaMinutes(resourceId: string): readonly LambdaMinute[] {
    return this.lambdas.get(resourceId)?.minutes ?? [];
  }

  /** Simulates every whole minute before `tMs`, then carries out the scheduled actions due by `tMs`. */
  advanceTo(tMs: number): void {
    const end = Math.floor(tMs / MINUTE_MS) * MINUTE_MS;
    for (; this.nowMs < end; this.nowMs += MINUTE_MS) this.simulateMinute(this.nowMs);
    for (const l of this.lambdas.values()) this.runDue(l, tMs);
  }

  private simulateMinute(m: number): void {
    for (const l of this.lambdas.values()) this.runDue(l, m);
    const keep = this.o.keepMinutes === true;
    for (const p of this.pods.values()) {
      const r = this.podMinute(p, m);
      if (keep) p.minutes.push(r);
    }
    for (const l of this.lambdas.values()) {
      const r = l.sim.minute(m, this.o.demand(l.target, m));
      if (keep) l.minutes.push(r);
    }
  }

  private podMinute(p: PodEntry, m: number): PodMinute {
    // The reactive metric is what the pods report: the load of the minute before.
    const observed = this.o.demand(p.target, m - MINUTE_MS);
    let ready = 0;
    let podSeconds = 0;
    for (let k = 0; k < SYNCS_PER_MINUTE; k++) {
      const ts = m + k * HPA_SYNC_MS;
      if (p.hpa) {
        const metrics: Record<string, number | undefined> = { [OBSERVED_METRIC]: observed };
        if (p.spec.predictive) metrics[PRESCALE_METRIC] = this.o.served(p.target, p.id, ts);
        const d = p.hpa.sync(ts, { specReplicas: p.sim.specReplicas(), statusReplicas: p.sim.statusReplicas(), readyPods: p.sim.readyReplicas(ts), metrics });
        if (d.replicas !== p.sim.specReplicas()) this.scalePods(p, ts, d.replicas);
      }
      ready += p.sim.readyReplicas(ts);
      podSeconds += p.sim.statusReplicas() * (HPA_SYNC_MS / 1000);
    }
    return { atMs: m, readyPods: ready / SYNCS_PER_MINUTE, pods: p.sim.statusReplicas(), podSeconds };
  }

  private scalePods(p: PodEntry, atMs: number, replicas: number): void {
    p.sim.scale(atMs, replicas);
    p.rv++;
  }

  /** Carries out, oldest first, the actions due by `tMs`, and removes them (one-time `at()` actions). */
  private runDue(l: LambdaEntry, tMs: number): void {
    if (l.actions.size === 0) return;
    const due = [...l.actions.values()]
      .map((a) => ({ a, at: parseAt(a.schedule) }))
      .filter((x) => x.at <= tMs)
      .sort((x, y) => x.at - y.at);
    for (const { a, at } of due) {
      if (a.maxCapacity !== undefined) this.setMax(l, a.maxCapacity);
      if (a.minCapacity !== undefined) this.setMin(l, at, a.minCapacity);
      l.actions.delete(a.name);
    }
  }

  private setMin(l: LambdaEntry, atMs: number, min: number): void {
    l.min = min;
    l.sim.setMinCapacity(atMs, min);
  }

  private setMax(l: LambdaEntry, max: number): void {
    l.max = max;
    l.sim.setMaxCapacity(max);
  }

  private now(): number {
    const t = this.o.clock.now();
    this.advanceTo(t);
    return t;
  }

  private lambda(k: TargetKey): LambdaEntry | undefined {
    return k.serviceNamespace === 'lambda' ? this.lambdas.get(k.resourceId) : undefined;
  }

  private mustLambda(k: TargetKey): LambdaEntry {
    const l = this.lambda(k);
    if (!l) throw Object.assign(new Error(`No scalable target registered for service namespace: ${k.serviceNamespace}, resource ID: ${k.resourceId}`), { name: 'ObjectNotFoundException' });
    return l;
  }

  describeScalableTarget(k: TargetKey): Promise<ScalableTargetState | undefined> {
    this.now();
    const l = this.lambda(k);
    return Promise.resolve(l ? { minCapacity: l.min, maxCapacity: l.max } : undefined);
  }

  registerScalableTarget(k: TargetKey, c: { minCapacity?: number; maxCapacity?: number }): Promise<void> {
    return attempt(() => {
      const t = this.now();
      const l = this.mustLambda(k);
      if (c.maxCapacity !== undefined) this.setMax(l, c.maxCapacity);
      if (c.minCapacity !== undefined) this.setMin(l, t, c.minCapacity);
    });
  }

  describeScheduledActions(k: TargetKey): Promise<ScheduledActionState[]> {
    this.now();
    return Promise.resolve([...(this.lambda(k)?.actions.values() ?? [])]);
  }

  putScheduledAction(k: TargetKey, a: ScheduledActionState): Promise<void> {
    return attempt(() => {
      this.now();
      this.mustLambda(k).actions.set(a.name, a);
    });
  }

  deleteScheduledAction(k: TargetKey, name: string): Promise<void> {
    return attempt(() => {
      this.now();
      this.mustLambda(k).actions.delete(name);
    });
  }

  /** The simulated pods of a workload; the kind is not checked (one simulation serves every kind). */
  private workload(ref: WorkloadRef): PodEntry {
    const p = this.pods.get(podKey(ref.namespace, ref.name));
    if (!p) throw new K8sError(`${ref.kind} "${ref.name}" not found in namespace ${ref.namespace}`, 'not-found', 404);
    return p;
  }

  getScale(ref: WorkloadRef): Promise<ScaleView> {
    return attempt(() => {
      this.now();
      const p = this.workload(ref);
      return { replicas: p.sim.specReplicas(), statusReplicas: p.sim.statusReplicas(), resourceVersion: String(p.rv) };
    });
  }

  patchScaleReplicas(req: { ref: WorkloadRef; replicas: number; resourceVersion?: string }): Promise<ScaleView> {
    return attempt(() => {
      const t = this.now();
      const p = this.workload(req.ref);
      if (req.resourceVersion !== undefined && req.resourceVersion !== String(p.rv)) throw new K8sError(`Operation cannot be fulfilled on ${req.ref.kind} "${req.ref.name}": the object has been modified`, 'conflict', 409);
      this.scalePods(p, t, req.replicas);
      return { replicas: p.sim.specReplicas(), statusReplicas: p.sim.statusReplicas(), resourceVersion: String(p.rv) };
    });
  }

  getWorkload(ref: WorkloadRef): Promise<WorkloadView> {
    return attempt(() => {
      this.now();
      const p = this.workload(ref);
      const status = p.sim.statusReplicas();
      return { specReplicas: p.sim.specReplicas(), statusReplicas: status, updatedReplicas: status, paused: false, resourceVersion: String(p.rv) };
    });
  }

  listHpas(ns: string): Promise<HpaView[]> {
    const views = [...this.pods.values()]
      .filter((p) => p.hpa !== undefined && p.spec.namespace === ns)
      .map((p) => {
        const w = p.spec.workload ?? DEFAULT_WORKLOAD;
        return { namespace: ns, name: p.spec.name, targetApiVersion: w.apiVersion, targetKind: w.kind, targetName: p.spec.name };
      });
    return Promise.resolve(views);
  }
}

function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err: unknown) {
    return Promise.reject(err as Error);
  }
}

/** The actuator id of an OpenKruise CloneSet (the backtest's kind). */
export function cloneSetId(namespace: string, name: string): string {
  return workloadActuatorId(DEFAULT_WORKLOAD, namespace, name);
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function lambdaResourceId(fn: string, qualifier: string): string {
  return `function:${fn}:${qualifier}`;
}

/** The CloneSets and Lambda aliases of one configured target, in the world. `predictive: false`: an HPA that reads only the observed load. */
export function addTargetTo(world: SimulatedWorld, t: TargetConfig, o: { predictive: boolean }): void {
  for (const a of t.actuators) {
    if (a.kind === 'cloneset') {
      world.addCloneSet(t.name, { namespace: a.namespace, name: a.name, workload: a.workload, mode: a.mode, qpsPerReplica: a.qpsPerReplica, min: a.min, max: a.max, predictive: o.predictive });
    } else {
      world.addLambda(t.name, { function: a.function, qualifier: a.qualifier, meanDurationMs: a.meanDurationMs, targetUtilization: a.targetUtilization, min: a.min, max: a.max });
    }
  }
}
