import { AwsQuotaError, awsErrorText, type ScalingApi, type ScheduledActionState, type TargetKey } from '../aws/clients.js';
import type { CapacityModel, Plan, PlanPoint, PlanPolicy } from '../plan/planner.js';
import type { ActuatorConfig } from '../config/schema.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { ActionRecord, Actuator, ApplyContext } from './actuator.js';

/**
 * Lambda provisioned concurrency through Application Auto Scaling.
 *
 * The plan is written into AWS as scheduled actions `at(...)` that set the target's MinCapacity, so the plan
 * keeps executing when prescale is down. Ownership rule (docs/aws.md):
 * - prescale owns the target's MinCapacity: it sets it now (RegisterScalableTarget with MinCapacity only) and
 *   ahead of time (its scheduled actions) to the planned capacity, which is never below the configured `min`;
 * - it registers the target only when missing (with the configured min/max), and otherwise only ever raises
 *   MaxCapacity, to what the plan needs; it never lowers MaxCapacity, never deregisters, never calls the
 *   scaling-policy APIs (the user's target tracking keeps working inside [MinCapacity, MaxCapacity]);
 * - it touches only scheduled actions of this target whose name starts with `prescale-<function>-<qualifier>-`.
 * Every raise has a later lowering: the last of our actions always sets MinCapacity back to `min`.
 */

export const SERVICE_QUOTA_SCHEDULED_ACTIONS = 200;

export interface CompactionOptions {
  /** Action times sit on this grid: raises round earlier, lowerings later. Default 5 min. */
  readonly gridMinutes?: number;
  /** Neighbouring levels closer than this fraction of the higher one merge into the higher. Default 0.1. */
  readonly hysteresis?: number;
  /** A dip between two higher levels shorter than this is filled (no lower-then-raise pair). Default 15 min. */
  readonly minDipMinutes?: number;
  /** Most scheduled actions of ours per target. Default 50, far below the quota of 200. */
  readonly maxActions?: number;
  /**
   * How long the last planned level is held after the forecast horizon before the final lowering to `min`.
   * While prescale runs, each cycle moves it forward; if prescale dies, capacity returns to `min` (and the
   * user's target tracking) this long after the last forecast. Default: the policy's scale-down delay, ≥ 10 min.
   */
  readonly tailMinutes?: number;
}

export interface LambdaPcOptions extends CompactionOptions {
  readonly api: ScalingApi;
  readonly functionName: string;
  /** Alias or version; never `$LATEST`. */
  readonly qualifier: string;
  readonly model: Extract<CapacityModel, { kind: 'lambda-provisioned-concurrency' }>;
  readonly policy: PlanPolicy;
  /** Attempts for ConcurrentUpdateException and for a new target to become visible. Default 5. */
  readonly attempts?: number;
  /** First backoff delay, doubled each attempt. Default 250 ms. */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** One level of MinCapacity from `fromMs` until the next level. */
export interface Level {
  readonly fromMs: number;
  readonly capacity: number;
}

interface MutableLevel {
  fromMs: number;
  capacity: number;
}

/** An action due sooner than this is applied now instead (AWS may skip an `at()` time already passed). */
const MIN_ACTION_LEAD_MS = MINUTE_MS;

/**
 * Turns a plan into a compact step function of MinCapacity from `nowMs`: the first level is for now, the
 * last is `floor` (the configured min). Every change is rounded to the grid in the safe direction (the max
 * over each grid slot), small changes merge into the higher level, short dips are filled, and while there
 * are more changes than `maxChanges` the closest neighbours merge into the higher. Never below the plan.
 */
export function compactSchedule(
  schedule: readonly PlanPoint[],
  o: { nowMs: number; floor: number; maxChanges: number } & Required<CompactionOptions>,
): Level[] {
  const gridMs = o.gridMinutes * MINUTE_MS;
  const points = [...schedule].filter((p) => Number.isFinite(p.capacity)).sort((a, b) => a.atMs - b.atMs);
  if (points.length === 0) return [{ fromMs: o.nowMs, capacity: o.floor }];
  const stepMs = points.length > 1 ? points[1].atMs - points[0].atMs : MINUTE_MS;
  const horizonEnd = points[points.length - 1].atMs + stepMs;
  const holdEnd = horizonEnd + o.tailMinutes * MINUTE_MS;
  const valueAt = (t: number): number => {
    if (t >= holdEnd) return o.floor;
    let v = points[0].capacity;
    for (const p of points) if (p.atMs <= t) v = p.capacity;
    return v;
  };
  // Max over each grid slot [g, g + grid) clipped to [now, holdEnd): change points of the plan inside the slot count.
  const levels: MutableLevel[] = [];
  const g0 = Math.floor(o.nowMs / gridMs) * gridMs;
  for (let g = g0; g < holdEnd; g += gridMs) {
    const from = Math.max(g, o.nowMs);
    let v = valueAt(from);
    for (const p of points) if (p.atMs > from && p.atMs < g + gridMs && p.atMs < holdEnd) v = Math.max(v, p.capacity);
    push(levels, { fromMs: from, capacity: Math.max(v, o.floor) });
  }
  push(levels, { fromMs: Math.ceil(holdEnd / gridMs) * gridMs, capacity: o.floor });
  mergeDueNow(levels, o.nowMs);
  mergeSmallChanges(levels, o.hysteresis);
  fillShortDips(levels, o.minDipMinutes * MINUTE_MS);
  capChanges(levels, o.maxChanges);
  return levels;
}

/** Appends, or extends the previous level when the capacity is the same. */
function push(levels: MutableLevel[], l: MutableLevel): void {
  const last = levels[levels.length - 1];
  if (last && last.capacity === l.capacity) return;
  if (last && last.fromMs >= l.fromMs) {
    last.capacity = Math.max(last.capacity, l.capacity);
    return;
  }
  levels.push({ ...l });
}

/** Merges level i+1 into level i with the higher capacity (never below what either wanted). */
function mergeAt(levels: MutableLevel[], i: number): void {
  levels[i].capacity = Math.max(levels[i].capacity, levels[i + 1].capacity);
  levels.splice(i + 1, 1);
  if (i + 1 < levels.length && levels[i + 1].capacity === levels[i].capacity) levels.splice(i + 1, 1);
  if (i > 0 && levels[i - 1].capacity === levels[i].capacity) levels.splice(i, 1);
}

function mergeDueNow(levels: MutableLevel[], nowMs: number): void {
  // Never merge into the last level: it is the lowering to the floor.
  while (levels.length > 2 && levels[1].fromMs < nowMs + MIN_ACTION_LEAD_MS) mergeAt(levels, 0);
}

function mergeSmallChanges(levels: MutableLevel[], hysteresis: number): void {
  for (let i = 0; i + 2 < levels.length; ) {
    const [a, b] = [levels[i].capacity, levels[i + 1].capacity];
    if (Math.abs(a - b) <= hysteresis * Math.max(a, b)) mergeAt(levels, i);
    else i++;
  }
}

function fillShortDips(levels: MutableLevel[], minDipMs: number): void {
  for (let i = 1; i + 2 < levels.length; ) {
    const dip = levels[i];
    const lasts = levels[i + 1].fromMs - dip.fromMs;
    if (dip.capacity < levels[i - 1].capacity && dip.capacity < levels[i + 1].capacity && lasts < minDipMs) {
      dip.capacity = Math.min(levels[i - 1].capacity, levels[i + 1].capacity);
      if (levels[i + 1].capacity === dip.capacity) levels.splice(i + 1, 1);
      if (levels[i - 1].capacity === dip.capacity) levels.splice(i, 1);
      i = 1;
    } else i++;
  }
}

function capChanges(levels: MutableLevel[], maxChanges: number): void {
  while (levels.length - 1 > maxChanges && levels.length > 2) {
    let best = 0;
    for (let i = 1; i + 2 < levels.length; i++) {
      if (Math.abs(levels[i].capacity - levels[i + 1].capacity) < Math.abs(levels[best].capacity - levels[best + 1].capacity)) best = i;
    }
    mergeAt(levels, best);
  }
}

/** `2026-01-05T10:25:00` in UTC, as `at(...)` wants it. */
function isoMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Name prefix of our scheduled actions for one function and qualifier: ≤ 256 chars with the time, no `:` `/` `|`. */
export function actionPrefix(functionName: string, qualifier: string): string {
  let base = `${functionName}-${qualifier}`.replace(/[^A-Za-z0-9_.-]/g, '-');
  const room = 256 - 'prescale-'.length - '-yyyymmddThhmm'.length;
  if (base.length > room) base = `${base.slice(0, room - 9)}-${fnv32(base)}`;
  return `prescale-${base}-`;
}

function fnv32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function actionName(prefix: string, atMs: number): string {
  return prefix + isoMinute(atMs).replace(/[-:]/g, '').slice(0, 13);
}

/** The time of an `at(yyyy-mm-ddThh:mm:ss)` schedule, or NaN. */
export function parseAt(schedule: string): number {
  const m = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(schedule);
  return m ? Date.parse(`${m[1]}Z`) : NaN;
}

/** The scheduled actions that express `levels` (the first level is for now and needs none). */
export function actionsFor(levels: readonly Level[], prefix: string): ScheduledActionState[] {
  return levels.slice(1).map((l) => ({ name: actionName(prefix, l.fromMs), schedule: `at(${isoMinute(l.fromMs)})`, minCapacity: l.capacity }));
}

function sameAction(a: ScheduledActionState, b: ScheduledActionState): boolean {
  return a.schedule === b.schedule && a.minCapacity === b.minCapacity && a.maxCapacity === b.maxCapacity;
}

/** What reconciling would do, computed from the listing before any call. */
export interface ReconcilePlan {
  readonly levels: readonly Level[];
  readonly puts: readonly ScheduledActionState[];
  readonly deletePast: readonly ScheduledActionState[];
  readonly deleteFuture: readonly ScheduledActionState[];
  readonly othersCount: number;
}

export function diffActions(o: { existing: readonly ScheduledActionState[]; desired: readonly ScheduledActionState[]; prefix: string; nowMs: number }): Omit<ReconcilePlan, 'levels'> {
  const ours = o.existing.filter((a) => a.name.startsWith(o.prefix));
  const byName = new Map(ours.map((a) => [a.name, a]));
  const wanted = new Set(o.desired.map((a) => a.name));
  const timeOf = (a: ScheduledActionState): number => parseAt(a.schedule);
  const stale = ours.filter((a) => !wanted.has(a.name)).sort((a, b) => timeOf(a) - timeOf(b) || a.name.localeCompare(b.name));
  return {
    // Latest first: a run stopped midway leaves only later actions, whose last one is the lowering.
    puts: o.desired.filter((d) => !byName.has(d.name) || !sameAction(byName.get(d.name) as ScheduledActionState, d)).sort((a, b) => timeOf(b) - timeOf(a)),
    // An unparsable schedule of ours counts as past: it will never run as planned.
    deletePast: stale.filter((a) => !(timeOf(a) > o.nowMs)),
    // Earliest first, so that an old raise goes before its old lowering.
    deleteFuture: stale.filter((a) => timeOf(a) > o.nowMs),
    othersCount: o.existing.length - ours.length,
  };
}

export class LambdaProvisionedConcurrencyActuator implements Actuator {
  readonly id: string;
  readonly kind = 'lambda-provisioned-concurrency' as const;
  readonly model: LambdaPcOptions['model'];
  readonly policy: PlanPolicy;
  readonly prefix: string;
  private readonly key: TargetKey;
  private readonly compaction: Required<CompactionOptions>;

  constructor(private readonly o: LambdaPcOptions) {
    checkNames(o.functionName, o.qualifier);
    this.id = `lambda:function:${o.functionName}:${o.qualifier}`;
    this.model = o.model;
    this.policy = o.policy;
    this.prefix = actionPrefix(o.functionName, o.qualifier);
    this.key = { serviceNamespace: 'lambda', resourceId: `function:${o.functionName}:${o.qualifier}`, scalableDimension: 'lambda:function:ProvisionedConcurrency' };
    this.compaction = {
      gridMinutes: o.gridMinutes ?? 5,
      hysteresis: o.hysteresis ?? 0.1,
      minDipMinutes: o.minDipMinutes ?? 15,
      maxActions: o.maxActions ?? 50,
      tailMinutes: o.tailMinutes ?? Math.max(10, o.policy.scaleDownDelayMinutes),
    };
    if (this.compaction.gridMinutes < 1 || this.compaction.maxActions < 1 || this.compaction.maxActions > SERVICE_QUOTA_SCHEDULED_ACTIONS / 2) {
      throw new InputError(`lambda actuator ${this.id}: gridMinutes must be ≥ 1 and maxActions in [1, ${SERVICE_QUOTA_SCHEDULED_ACTIONS / 2}]`);
    }
  }

  get resourceId(): string {
    return this.key.resourceId;
  }

  async currentCapacity(signal?: AbortSignal): Promise<number | undefined> {
    try {
      return (await this.o.api.describeScalableTarget(this.key, signal))?.minCapacity;
    } catch {
      return undefined;
    }
  }

  async apply(plan: Plan, ctx: ApplyContext): Promise<ActionRecord[]> {
    const run = new Run(this, ctx);
    try {
      await this.reconcile(plan, run);
    } catch (err: unknown) {
      if (!(err instanceof RecordedError)) run.record({ action: 'error', result: 'error', detail: `${this.id}: ${awsErrorText(err)}` });
    }
    if (run.records.length === 0) run.record({ action: 'noop', result: 'ok', detail: `${this.id}: scheduled actions in sync` });
    return run.records;
  }

  private async reconcile(plan: Plan, run: Run): Promise<void> {
    const { ctx } = run;
    const target = await this.ensureTarget(run);
    if (target === 'missing') return;
    const existing = await this.call(() => this.o.api.describeScheduledActions(this.key, ctx.signal));
    const othersCount = existing.filter((a) => !a.name.startsWith(this.prefix)).length;
    // Ours never take more than half the room others leave, so the old and the new set fit together mid-reconcile.
    const budget = Math.min(this.compaction.maxActions, Math.floor((SERVICE_QUOTA_SCHEDULED_ACTIONS - othersCount) / 2));
    if (budget < 1) {
      run.record({ action: 'error', result: 'error', detail: `${this.id}: no room for scheduled actions (${othersCount} of ${SERVICE_QUOTA_SCHEDULED_ACTIONS} used by others)` });
      return;
    }
    const levels = compactSchedule(plan.schedule, { ...this.compaction, nowMs: ctx.nowMs, floor: this.policy.min, maxChanges: budget });
    const desired = actionsFor(levels, this.prefix);
    const current = target === 'dry-run-missing' ? undefined : target.minCapacity;
    // Without a forecast (fallback or reactive-only: one plan point), the last written schedule keeps running.
    const hold = plan.schedule.length <= 1;
    const diff = hold ? this.holdDiff({ existing, desired, want: levels[0].capacity, current, nowMs: ctx.nowMs }) : diffActions({ existing, desired, prefix: this.prefix, nowMs: ctx.nowMs });
    const needMax = Math.max(...levels.map((l) => l.capacity));
    if (target !== 'dry-run-missing' && needMax > target.maxCapacity) {
      // The plan never exceeds the configured max; the user's larger Max is never lowered.
      await this.mutate(run, { action: 'register-scalable-target', detail: `raise MaxCapacity ${target.maxCapacity} → ${needMax}`, data: { maxCapacity: needMax } }, () =>
        this.o.api.registerScalableTarget(this.key, { maxCapacity: needMax }, ctx.signal),
      );
    }
    for (const a of diff.deletePast) {
      await this.mutate(run, { action: 'delete-scheduled-action', detail: `${a.name} (past)`, data: { ...a } }, () => this.o.api.deleteScheduledAction(this.key, a.name, ctx.signal)).catch(
        () => undefined,
      );
    }
    const unput = await this.putAll(run, diff.puts);
    await this.setNow(run, { levels, existing, current, unput, hold });
    if (unput.length > 0) return; // keep every old action: the old raises and their lowerings stay as they were
    for (const a of diff.deleteFuture) {
      const ok = await this.mutate(run, { action: 'delete-scheduled-action', detail: `${a.name} (no longer planned)`, data: { ...a } }, () =>
        this.o.api.deleteScheduledAction(this.key, a.name, ctx.signal),
      ).then(
        () => true,
        () => false,
      );
      if (!ok) return;
    }
  }

  /**
   * The changes when there is no forecast: delete only past actions, keep every future one (the last good plan,
   * raises included), and add the final lowering only if a raise now would otherwise have none.
   */
  private holdDiff(s: { existing: readonly ScheduledActionState[]; desired: readonly ScheduledActionState[]; want: number; current: number | undefined; nowMs: number }): Omit<ReconcilePlan, 'levels'> {
    const full = diffActions({ existing: s.existing, desired: [], prefix: this.prefix, nowMs: s.nowMs });
    const future = full.deleteFuture;
    const lowered = future.some((a) => (a.minCapacity ?? Infinity) < s.want);
    const tail = s.desired[s.desired.length - 1];
    const needTail = s.current !== undefined && s.want > s.current && !lowered && tail !== undefined && !future.some((a) => a.name === tail.name);
    return { puts: needTail ? [tail] : [], deletePast: full.deletePast, deleteFuture: [], othersCount: full.othersCount };
  }

  /** Puts latest first; stops at the first failure (a quota or an error that outlived the retries). Returns those not put. */
  private async putAll(run: Run, puts: readonly ScheduledActionState[]): Promise<ScheduledActionState[]> {
    for (let i = 0; i < puts.length; i++) {
      const a = puts[i];
      try {
        await this.mutate(run, { action: 'put-scheduled-action', detail: `${a.name} ${a.schedule} MinCapacity=${a.minCapacity}`, data: { ...a } }, () =>
          this.o.api.putScheduledAction(this.key, a, run.ctx.signal),
        );
      } catch {
        return puts.slice(i);
      }
    }
    return [];
  }

  /**
   * Sets MinCapacity now to the first level when it differs. When some actions could not be written (quota,
   * errors), those are the earliest ones (puts go latest first): their raises are applied now instead, so a
   * blocked schedule costs money, never capacity. A raise happens only when a later lowering is in place.
   */
  private async setNow(
    run: Run,
    s: { levels: readonly Level[]; existing: readonly ScheduledActionState[]; current: number | undefined; unput: readonly ScheduledActionState[]; hold: boolean },
  ): Promise<void> {
    const want = Math.max(s.levels[0].capacity, ...s.unput.map((a) => a.minCapacity ?? 0));
    if (s.current === undefined || s.current === want) return;
    if (s.hold && want < s.current) return; // no forecast: never lower
    if (want > s.current && (s.unput.length > 0 || s.hold)) {
      const ours = [...run.puts, ...s.existing.filter((a) => a.name.startsWith(this.prefix))];
      const lowering = ours.some((a) => parseAt(a.schedule) > run.ctx.nowMs && (a.minCapacity ?? Infinity) < want);
      if (!lowering) {
        run.record({ action: 'set-min-capacity', result: 'error', detail: `${this.id}: not raising MinCapacity to ${want} without a scheduled lowering` });
        return;
      }
    }
    await this.mutate(run, { action: 'set-min-capacity', detail: `MinCapacity ${s.current} → ${want} now${s.unput.length > 0 ? ' (actions that could not be scheduled)' : ''}`, data: { minCapacity: want } }, () =>
      this.o.api.registerScalableTarget(this.key, { minCapacity: want }, run.ctx.signal),
    ).catch(() => undefined);
  }

  /** The target's capacities; registers it (configured min/max) when missing and waits until it is visible. */
  private async ensureTarget(run: Run): Promise<{ minCapacity: number; maxCapacity: number } | 'missing' | 'dry-run-missing'> {
    const signal = run.ctx.signal;
    const found = await this.call(() => this.o.api.describeScalableTarget(this.key, signal));
    if (found) return found;
    const capacity = { minCapacity: this.policy.min, maxCapacity: this.policy.max };
    await this.mutate(run, { action: 'register-scalable-target', detail: `register ${this.key.resourceId} min=${capacity.minCapacity} max=${capacity.maxCapacity}`, data: capacity }, () =>
      this.o.api.registerScalableTarget(this.key, capacity, signal),
    );
    if (run.ctx.dryRun) return 'dry-run-missing';
    // A new target is eventually consistent: Describe (and PutScheduledAction) may not see it for a moment.
    for (let i = 0; i < this.attempts; i++) {
      const t = await this.call(() => this.o.api.describeScalableTarget(this.key, signal));
      if (t) return t;
      await this.sleep(this.backoff(i));
    }
    run.record({ action: 'register-scalable-target', result: 'error', detail: `${this.id}: registered but not visible yet; next cycle continues` });
    return 'missing';
  }

  /** Records and performs one change (or only records it in dry run); rethrows after recording a failure. */
  private async mutate(run: Run, r: { action: string; detail: string; data?: Record<string, unknown> }, fn: () => Promise<void>): Promise<void> {
    if (run.ctx.dryRun) {
      run.record({ ...r, result: 'dry-run' });
      return;
    }
    try {
      await this.call(fn);
      run.record({ ...r, result: 'ok' });
      if (r.action === 'put-scheduled-action' && r.data) run.puts.push(r.data as unknown as ScheduledActionState);
    } catch (err: unknown) {
      const quota = err instanceof AwsQuotaError;
      run.record({ ...r, result: 'error', detail: `${r.detail}: ${quota ? 'quota reached, not creating more' : 'failed'}: ${awsErrorText(err)}` });
      throw new RecordedError(err);
    }
  }

  /** Retries ConcurrentUpdateException with backoff; the SDK already retries throttling and 5xx. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err: unknown) {
        const retriable = err instanceof Error && err.name === 'ConcurrentUpdateException';
        if (!retriable || i + 1 >= this.attempts) throw err;
        await this.sleep(this.backoff(i));
      }
    }
  }

  private get attempts(): number {
    return this.o.attempts ?? 5;
  }
  private backoff(i: number): number {
    return (this.o.backoffMs ?? 250) * 2 ** i;
  }
  private sleep(ms: number): Promise<void> {
    return this.o.sleep ? this.o.sleep(ms) : new Promise((r) => setTimeout(r, ms));
  }
}

/** The resource id `function:NAME:QUALIFIER` must stay parseable: no `:` inside either part. */
function checkNames(functionName: string, qualifier: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(functionName)) {
    throw new InputError(`lambda actuator: function "${functionName}" must be a function name (letters, digits, - and _)`);
  }
  if (qualifier === '$LATEST' || !/^[A-Za-z0-9_-]+$/.test(qualifier)) {
    throw new InputError(`lambda actuator ${functionName}: qualifier "${qualifier}" must be an alias or version, never $LATEST`);
  }
}

/** A failure already in the records; thrown on only to stop the steps that depend on it. */
class RecordedError extends Error {
  constructor(readonly original: unknown) {
    super(awsErrorText(original), { cause: original });
  }
}

/** The records of one apply. */
class Run {
  readonly records: ActionRecord[] = [];
  readonly puts: ScheduledActionState[] = [];
  constructor(
    private readonly a: LambdaProvisionedConcurrencyActuator,
    readonly ctx: ApplyContext,
  ) {}
  record(r: Pick<ActionRecord, 'action' | 'result' | 'detail'> & { data?: Record<string, unknown> }): void {
    this.records.push({ atMs: this.ctx.nowMs, target: this.ctx.target, actuator: this.a.id, ...r });
  }
}

/** The actuator from its config entry (`kind: lambda-provisioned-concurrency`), for the service wiring. */
export function lambdaActuatorFromConfig(
  cfg: Extract<ActuatorConfig, { kind: 'lambda-provisioned-concurrency' }>,
  deps: { api: ScalingApi; quantile: number },
): LambdaProvisionedConcurrencyActuator {
  return new LambdaProvisionedConcurrencyActuator({
    api: deps.api,
    functionName: cfg.function,
    qualifier: cfg.qualifier,
    model: { kind: 'lambda-provisioned-concurrency', meanDurationMs: cfg.meanDurationMs, targetUtilization: cfg.targetUtilization },
    policy: {
      quantile: deps.quantile,
      leadMinutes: cfg.leadMinutes,
      min: cfg.min,
      max: cfg.max,
      scaleDownDelayMinutes: cfg.scaleDownDelayMinutes,
      maxStepUp: cfg.maxStepUp ?? Infinity,
    },
  });
}
