import type { ScalableTargetState, ScalingApi, ScheduledActionState, TargetKey } from '../../src/aws/clients.js';

export type ScalingOp = 'describeScalableTarget' | 'registerScalableTarget' | 'describeScheduledActions' | 'putScheduledAction' | 'deleteScheduledAction';

export const MUTATING_OPS: readonly ScalingOp[] = ['registerScalableTarget', 'putScheduledAction', 'deleteScheduledAction'];

/**
 * An in-memory Application Auto Scaling for one or more targets, for unit tests: it keeps targets and
 * scheduled actions, counts calls, and can be told to fail a call (`failNext`) to model faults and kills.
 */
export class FakeScalingApi implements ScalingApi {
  readonly targets = new Map<string, { minCapacity: number; maxCapacity: number }>();
  readonly actions = new Map<string, Map<string, ScheduledActionState>>();
  readonly calls: { op: ScalingOp; arg?: unknown }[] = [];
  /** Called before each call; a returned error is thrown instead of doing it. */
  fault: ((op: ScalingOp, arg: unknown) => Error | undefined) | undefined;
  /** Reads that must not see a newly registered target yet (eventual consistency). */
  invisibleReads = 0;

  mutations(): number {
    return this.calls.filter((c) => MUTATING_OPS.includes(c.op)).length;
  }

  actionsOf(resourceId: string): ScheduledActionState[] {
    return [...(this.actions.get(resourceId)?.values() ?? [])];
  }

  private enter(op: ScalingOp, arg?: unknown): void {
    this.calls.push({ op, arg });
    const err = this.fault?.(op, arg);
    if (err) throw err;
  }

  async describeScalableTarget(key: TargetKey): Promise<ScalableTargetState | undefined> {
    this.enter('describeScalableTarget');
    if (this.invisibleReads > 0) {
      this.invisibleReads--;
      return undefined;
    }
    const t = this.targets.get(key.resourceId);
    return t ? { ...t } : undefined;
  }

  async registerScalableTarget(key: TargetKey, capacity: { minCapacity?: number; maxCapacity?: number }): Promise<void> {
    this.enter('registerScalableTarget', capacity);
    const t = this.targets.get(key.resourceId);
    if (!t) {
      if (capacity.minCapacity === undefined || capacity.maxCapacity === undefined) throw new Error('ValidationException: new target needs min and max');
      this.targets.set(key.resourceId, { minCapacity: capacity.minCapacity, maxCapacity: capacity.maxCapacity });
      return;
    }
    if (capacity.minCapacity !== undefined) t.minCapacity = capacity.minCapacity;
    if (capacity.maxCapacity !== undefined) t.maxCapacity = capacity.maxCapacity;
  }

  async describeScheduledActions(key: TargetKey): Promise<ScheduledActionState[]> {
    this.enter('describeScheduledActions');
    return this.actionsOf(key.resourceId).map((a) => ({ ...a }));
  }

  async putScheduledAction(key: TargetKey, action: ScheduledActionState): Promise<void> {
    this.enter('putScheduledAction', action);
    const m = this.actions.get(key.resourceId) ?? new Map<string, ScheduledActionState>();
    this.actions.set(key.resourceId, m);
    m.set(action.name, { ...action });
  }

  async deleteScheduledAction(key: TargetKey, name: string): Promise<void> {
    this.enter('deleteScheduledAction', name);
    this.actions.get(key.resourceId)?.delete(name);
  }
}

/** An AWS-shaped error (the SDK's exceptions carry `name`). */
export function awsError(name: string, message = `${name} (injected)`): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}
