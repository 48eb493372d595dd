/**
 * A simulator of the Kubernetes HorizontalPodAutoscaler (autoscaling/v2) for External metrics, following
 * pkg/controller/podautoscaler (horizontal.go, replica_calculator.go).
 * It is a pure state machine: the caller passes the time and what the HPA would read at each sync, and gets
 * the replicas the HPA would write to the scale subresource. Time is never read from the system.
 */

export type MetricTarget =
  /** `target.type: AverageValue`: the metric total divided by `status.replicas` should equal this. */
  | { readonly type: 'AverageValue'; readonly averageValue: number }
  /** `target.type: Value`: the metric total should equal this; proposals scale the ready pod count. */
  | { readonly type: 'Value'; readonly value: number };

export interface ExternalMetricSpec {
  readonly name: string;
  readonly target: MetricTarget;
}

export interface HpaScalingPolicy {
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  readonly periodSeconds: number;
}

export interface HpaScalingRules {
  readonly stabilizationWindowSeconds?: number;
  readonly selectPolicy?: 'Max' | 'Min' | 'Disabled';
  readonly policies?: readonly HpaScalingPolicy[];
}

export interface HpaBehavior {
  readonly scaleUp?: HpaScalingRules;
  readonly scaleDown?: HpaScalingRules;
}

export interface HpaSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly metrics: readonly ExternalMetricSpec[];
  /** Absent: the legacy path (5 min max-stabilization, scale-up limit max(2 x cur, 4)). */
  readonly behavior?: HpaBehavior;
  /** Default 0.1 (kube-controller-manager `--horizontal-pod-autoscaler-tolerance`). */
  readonly tolerance?: number;
}

/** What the HPA reads at one sync. */
export interface HpaObservation {
  /** `scale.spec.replicas`: what the HPA (or anyone) last wrote. */
  readonly specReplicas: number;
  /** `scale.status.replicas`: pods that exist (ready or not). */
  readonly statusReplicas: number;
  /** Running and Ready pods of the target's selector (used by `Value` targets). */
  readonly readyPods: number;
  /** Sum of the items the external metrics API returns per metric name; undefined = the fetch failed. */
  readonly metrics: Readonly<Record<string, number | undefined>>;
}

export type HpaOutcome =
  | 'scaled'
  | 'unchanged'
  | 'invalid-metrics'
  | 'scaling-disabled'
  | 'clamped-to-min'
  | 'clamped-to-max';

export interface HpaDecision {
  readonly atMs: number;
  /** Replicas the HPA writes (equal to specReplicas when it does not scale). */
  readonly replicas: number;
  readonly outcome: HpaOutcome;
  /** Proposal per metric name; undefined for an invalid metric. */
  readonly proposals: Readonly<Record<string, number | undefined>>;
}

/** The controller's default sync period. */
export const HPA_SYNC_MS = 15_000;
const DEFAULT_TOLERANCE = 0.1;
const LEGACY_DOWNSCALE_WINDOW_MS = 300_000;
const DEFAULT_SCALE_UP: Required<HpaScalingRules> = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
const DEFAULT_SCALE_DOWN: Required<HpaScalingRules> = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

interface Recommendation {
  readonly atMs: number;
  readonly replicas: number;
}
interface ScaleEvent {
  readonly atMs: number;
  readonly change: number;
}

/** The upstream rules with defaults filled in field by field, as the API server's defaulting does. */
function withDefaults(r: HpaScalingRules | undefined, d: Required<HpaScalingRules>): Required<HpaScalingRules> {
  return {
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? d.stabilizationWindowSeconds,
    selectPolicy: r?.selectPolicy ?? d.selectPolicy,
    policies: r?.policies ?? d.policies,
  };
}

/** Milli-units, as the controller holds quantities (`MilliValue` rounds up). */
function milli(x: number): number {
  return Math.ceil(Math.round(x * 1e6) / 1e3);
}

export class HpaSimulator {
  private readonly up: Required<HpaScalingRules>;
  private readonly down: Required<HpaScalingRules>;
  private readonly tolerance: number;
  private recommendations: Recommendation[] = [];
  private upEvents: ScaleEvent[] = [];
  private downEvents: ScaleEvent[] = [];

  constructor(private readonly spec: HpaSpec) {
    this.up = withDefaults(spec.behavior?.scaleUp, DEFAULT_SCALE_UP);
    this.down = withDefaults(spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN);
    this.tolerance = spec.tolerance ?? DEFAULT_TOLERANCE;
  }

  /** One sync of the controller at `nowMs`. Syncs must come in time order. */
  sync(nowMs: number, obs: HpaObservation): HpaDecision {
    const cur = obs.specReplicas;
    const { minReplicas: min, maxReplicas: max } = this.spec;
    const done = (replicas: number, outcome: HpaOutcome, proposals: Record<string, number | undefined> = {}): HpaDecision => {
      if (replicas !== cur) this.storeScaleEvent(nowMs, cur, replicas);
      return { atMs: nowMs, replicas, outcome, proposals };
    };
    // cur == 0 with min > 0 means someone scaled the workload to zero by hand: autoscaling is off.
    if (cur === 0 && min > 0) return done(cur, 'scaling-disabled');
    if (cur > max) return done(max, 'clamped-to-max');
    if (cur < min) return done(min, 'clamped-to-min');
    const { proposal, proposals } = this.computeForMetrics(obs);
    if (proposal === undefined) return done(cur, 'invalid-metrics', proposals);
    const desired = this.spec.behavior
      ? this.normalizeWithBehaviors(nowMs, cur, proposal)
      : this.normalizeLegacy(nowMs, cur, proposal);
    return done(desired, desired === cur ? 'unchanged' : 'scaled', proposals);
  }

  /** The max proposal over metrics, or undefined when all are invalid or some are and the max scales down. */
  private computeForMetrics(obs: HpaObservation): { proposal: number | undefined; proposals: Record<string, number | undefined> } {
    const proposals: Record<string, number | undefined> = {};
    let replicas = 0;
    let invalid = 0;
    for (const m of this.spec.metrics) {
      const usage = obs.metrics[m.name];
      const p = usage === undefined || !Number.isFinite(usage) ? undefined : this.proposalFor(m.target, milli(usage), obs);
      proposals[m.name] = p;
      if (p === undefined) {
        invalid++;
        continue;
      }
      if (replicas === 0 || p > replicas) replicas = p;
    }
    if (invalid >= this.spec.metrics.length || (invalid > 0 && replicas < obs.specReplicas)) return { proposal: undefined, proposals };
    return { proposal: replicas, proposals };
  }

  private proposalFor(target: MetricTarget, usageMilli: number, obs: HpaObservation): number {
    switch (target.type) {
      case 'AverageValue': {
        const t = milli(target.averageValue);
        const ratio = usageMilli / (t * obs.statusReplicas);
        return Math.abs(1 - ratio) > this.tolerance ? Math.ceil(usageMilli / t) : obs.statusReplicas;
      }
      case 'Value': {
        const ratio = usageMilli / milli(target.value);
        if (obs.specReplicas === 0) return Math.ceil(ratio);
        return Math.abs(1 - ratio) <= this.tolerance ? obs.specReplicas : Math.ceil(ratio * obs.readyPods);
      }
      default: {
        const never: never = target;
        throw new Error(`unknown metric target ${JSON.stringify(never)}`);
      }
    }
  }

  /** No `behavior`: the max recommendation of the last 5 min (inclusive), then scale-up limit max(2 x cur, 4). */
  private normalizeLegacy(nowMs: number, cur: number, proposal: number): number {
    const cutoff = nowMs - LEGACY_DOWNSCALE_WINDOW_MS;
    let stabilized = proposal;
    for (const r of this.recommendations) if (r.atMs >= cutoff && r.replicas > stabilized) stabilized = r.replicas;
    this.recommendations = this.recommendations.filter((r) => r.atMs >= cutoff);
    this.recommendations.push({ atMs: nowMs, replicas: proposal });
    const upLimit = Math.max(2 * cur, 4);
    const maxAllowed = Math.min(this.spec.maxReplicas, upLimit);
    if (stabilized < this.spec.minReplicas) return this.spec.minReplicas;
    return Math.min(stabilized, maxAllowed);
  }

  private normalizeWithBehaviors(nowMs: number, cur: number, proposal: number): number {
    const upCutoff = nowMs - this.up.stabilizationWindowSeconds * 1000;
    const downCutoff = nowMs - this.down.stabilizationWindowSeconds * 1000;
    let upRec = proposal;
    let downRec = proposal;
    // Upstream uses `After(cutoff)`: a recommendation exactly one window old no longer counts.
    for (const r of this.recommendations) {
      if (r.atMs > upCutoff) upRec = Math.min(upRec, r.replicas);
      if (r.atMs > downCutoff) downRec = Math.max(downRec, r.replicas);
    }
    const keep = Math.min(upCutoff, downCutoff);
    this.recommendations = this.recommendations.filter((r) => r.atMs >= keep);
    this.recommendations.push({ atMs: nowMs, replicas: proposal });
    let desired = cur;
    if (desired < upRec) desired = upRec;
    if (desired > downRec) desired = downRec;
    if (desired > cur) {
      const limit = Math.max(this.scaleLimit(nowMs, cur, 'up'), cur);
      return Math.min(desired, this.spec.maxReplicas, limit);
    }
    if (desired < cur) {
      const limit = Math.min(this.scaleLimit(nowMs, cur, 'down'), cur);
      return Math.max(desired, this.spec.minReplicas, limit);
    }
    return desired;
  }

  /** Largest replicas allowed up (or smallest allowed down) by the policies of that direction. */
  private scaleLimit(nowMs: number, cur: number, dir: 'up' | 'down'): number {
    const rules = dir === 'up' ? this.up : this.down;
    const pick = rules.selectPolicy;
    if (pick === 'Disabled') return cur;
    // Scale up: Max = the most generous (largest) limit. Scale down: Max change = the smallest floor.
    const wantLargest = (dir === 'up') === (pick === 'Max');
    let result = wantLargest ? -Infinity : Infinity;
    for (const p of rules.policies) {
      const cutoff = nowMs - p.periodSeconds * 1000;
      const added = sumAfter(this.upEvents, cutoff);
      const deleted = sumAfter(this.downEvents, cutoff);
      const base = cur - added + deleted;
      const proposed = policyLimit(p, base, dir);
      result = wantLargest ? Math.max(result, proposed) : Math.min(result, proposed);
    }
    return result;
  }

  private storeScaleEvent(nowMs: number, prev: number, next: number): void {
    // Upstream keeps events only with a behavior, and only as long as the longest policy period.
    if (!this.spec.behavior) return;
    const longest = Math.max(0, ...this.up.policies.map((p) => p.periodSeconds), ...this.down.policies.map((p) => p.periodSeconds));
    const cutoff = nowMs - longest * 1000;
    this.upEvents = this.upEvents.filter((e) => e.atMs > cutoff);
    this.downEvents = this.downEvents.filter((e) => e.atMs > cutoff);
    if (next > prev) this.upEvents.push({ atMs: nowMs, change: next - prev });
    else this.downEvents.push({ atMs: nowMs, change: prev - next });
  }
}

function sumAfter(events: readonly ScaleEvent[], cutoff: number): number {
  let n = 0;
  for (const e of events) if (e.atMs > cutoff) n += e.change;
  return n;
}

function policyLimit(p: HpaScalingPolicy, base: number, dir: 'up' | 'down'): number {
  switch (p.type) {
    case 'Pods':
      return dir === 'up' ? base + p.value : base - p.value;
    case 'Percent':
      // Upstream: ceil going up; going down an int32 conversion, which truncates (floor for base >= 0).
      return dir === 'up' ? Math.ceil(base * (1 + p.value / 100)) : Math.trunc(base * (1 - p.value / 100));
    default: {
      const never: never = p.type;
      throw new Error(`unknown scaling policy type ${String(never)}`);
    }
  }
}
