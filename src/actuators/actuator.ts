import type { CapacityModel, Plan, PlanPolicy } from '../plan/planner.js';

/** One recorded action (or decision not to act), for the audit log, the API and the dashboard. */
export interface ActionRecord {
  readonly atMs: number;
  readonly target: string;
  readonly actuator: string;
  /** e.g. `put-scheduled-action`, `delete-scheduled-action`, `patch-scale`, `noop`, `refused`, `error`. */
  readonly action: string;
  readonly result: 'ok' | 'dry-run' | 'skipped' | 'error';
  readonly detail: string;
  readonly data?: Record<string, unknown>;
}

export interface ApplyContext {
  readonly target: string;
  readonly nowMs: number;
  readonly dryRun: boolean;
  readonly signal?: AbortSignal;
}

/** A kind of capacity prescale changes: Lambda provisioned concurrency or CloneSet replicas. */
export interface Actuator {
  /** Stable id, e.g. `lambda:function:checkout:live` or `cloneset:shop/inventory`. */
  readonly id: string;
  readonly kind: 'lambda-provisioned-concurrency' | 'cloneset';
  readonly model: CapacityModel;
  readonly policy: PlanPolicy;
  /** Capacity in place now, or undefined when it cannot be read (dry run without a cluster, say). */
  currentCapacity(signal?: AbortSignal): Promise<number | undefined>;
  /** Makes the outside system follow `plan`; idempotent. Never throws for an outside failure: records it. */
  apply(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]>;
}
