import { quantileRow, type QuantileForecast } from '../forecast/forecaster.js';
import { MINUTE_MS } from '../util/clock.js';

/**
 * The planner: turns a quantile forecast of request rate into capacity. It is pure (time comes in as
 * `nowMs`, memory comes in and goes out) and it is the only planning code: the live service and the backtest
 * both call `plan`, so a backtest result says what the service would have done.
 */

/** How request rate (QPS, requests per second) becomes units of capacity. */
export type CapacityModel =
  | {
      readonly kind: 'lambda-provisioned-concurrency';
      /** Mean invocation duration; concurrency = QPS x duration (Little's law). */
      readonly meanDurationMs: number;
      /** Utilization of provisioned concurrency to plan for, in (0, 1]. */
      readonly targetUtilization: number;
    }
  | {
      readonly kind: 'cloneset';
      /** QPS one replica serves at its target utilization. */
      readonly qpsPerReplica: number;
    };

export interface PlanPolicy {
  /** Quantile of the forecast to plan on, e.g. 0.9. */
  readonly quantile: number;
  /** Capacity planned for t covers the forecast over [t, t + lead]: how long this capacity takes to be ready. */
  readonly leadMinutes: number;
  readonly min: number;
  readonly max: number;
  /** A decrease takes effect only after the higher value has not been wanted for this long. */
  readonly scaleDownDelayMinutes: number;
  /** Largest increase from one planned step to the next (units of capacity); Infinity for none. */
  readonly maxStepUp: number;
}

/** A known event from configuration: a floor while it lasts (and for the lead time before it). */
export interface EventFloor {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Capacity never planned below this during the event. */
  readonly minCapacity?: number;
  /**
   * QPS never planned below this multiple of normal load during the event: `PlanInput.normalQps` (the load
   * a day earlier, see dayAgoLevels), else the forecast's p50.
   */
  readonly multiplier?: number;
}

export type PlanReason =
  | 'forecast'
  | 'reactive-floor'
  | 'event-floor'
  | 'fallback-hold'
  | 'scale-down-delay'
  | 'step-limit'
  | 'min'
  | 'max';

export interface PlanPoint {
  readonly atMs: number;
  /**
   * QPS the capacity is sized for, after floors and clamps: `capacityFor(qps) === capacity` always, so the
   * served metric (this QPS) makes the HPA ask for exactly `capacity` replicas.
   */
  readonly qps: number;
  readonly capacity: number;
  /** The constraint that set this value. */
  readonly reason: PlanReason;
}

/** Raw wishes of earlier plans, kept for the scale-down delay. */
export interface PlannerMemory {
  readonly recent: readonly { readonly atMs: number; readonly capacity: number }[];
}

export const emptyMemory: PlannerMemory = { recent: [] };

export interface PlanInput {
  readonly nowMs: number;
  /** Forecast of QPS for the steps after now; undefined when there is none (reactive fallback). */
  readonly forecast: QuantileForecast | undefined;
  /** The latest observed QPS; NaN when unknown. */
  readonly observedQps: number;
  /** Capacity in place now (what the actuator reads), if known. */
  readonly currentCapacity?: number;
  /** When true (stale history, failing model), never plan below the current capacity. */
  readonly fallback?: boolean;
  readonly events?: readonly EventFloor[];
  /** Normal load per forecast step, what event multipliers scale (NaN entries fall back to the p50). */
  readonly normalQps?: ArrayLike<number>;
  readonly memory?: PlannerMemory;
}

export interface Plan {
  readonly nowMs: number;
  /** The decision for now: `schedule[0]`. */
  readonly current: PlanPoint;
  /** One point per forecast step from now (or just now without a forecast). */
  readonly schedule: readonly PlanPoint[];
  readonly memory: PlannerMemory;
}

/** Capacity units needed to serve `qps` at the model's target. 0 for no load; NaN or negative load is 0. */
export function capacityFor(qps: number, model: CapacityModel): number {
  const q = Number.isFinite(qps) && qps > 0 ? qps : 0;
  switch (model.kind) {
    case 'lambda-provisioned-concurrency':
      return Math.ceil(roundAway((q * model.meanDurationMs) / 1000 / model.targetUtilization));
    case 'cloneset':
      return Math.ceil(roundAway(q / model.qpsPerReplica));
    default: {
      const never: never = model;
      throw new Error(`unknown capacity model ${JSON.stringify(never)}`);
    }
  }
}

/** The QPS that `capacity` units serve at target; the inverse of capacityFor. */
export function qpsFor(capacity: number, model: CapacityModel): number {
  switch (model.kind) {
    case 'lambda-provisioned-concurrency':
      return (capacity * model.targetUtilization * 1000) / model.meanDurationMs;
    case 'cloneset':
      return capacity * model.qpsPerReplica;
    default: {
      const never: never = model;
      throw new Error(`unknown capacity model ${JSON.stringify(never)}`);
    }
  }
}

/** Drops float noise like 2.0000000000000004 so that ceil does not add a unit. */
function roundAway(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

interface Wish {
  atMs: number;
  qps: number;
  capacity: number;
  reason: PlanReason;
}

/** QPS planned for each step: max of the quantile over [t, t + lead], with event multipliers as floors. */
function windowQps(f: QuantileForecast, policy: PlanPolicy, events: readonly EventFloor[], normal?: ArrayLike<number>): Float64Array {
  const row = quantileRow(f, policy.quantile);
  const p50 = quantileRow(f, 0.5);
  const base = (k: number): number => (normal && Number.isFinite(normal[k]) ? normal[k] : p50[k]);
  const out = new Float64Array(f.horizon);
  const leadSteps = Math.max(0, Math.ceil((policy.leadMinutes * MINUTE_MS) / f.stepMs));
  for (let h = 0; h < f.horizon; h++) {
    let m = 0;
    for (let k = h; k <= Math.min(f.horizon - 1, h + leadSteps); k++) {
      const t = f.startMs + k * f.stepMs;
      m = Math.max(m, row[k], base(k) * eventMultiplier(events, t));
    }
    out[h] = m;
  }
  return out;
}

function eventMultiplier(events: readonly EventFloor[], t: number): number {
  let m = 0;
  for (const e of events) if (e.multiplier !== undefined && t >= e.startMs && t < e.endMs) m = Math.max(m, e.multiplier);
  return m;
}

/** Highest `minCapacity` of events active at any time in [t, t + lead]. */
function eventCapacityFloor(events: readonly EventFloor[], t: number, leadMs: number): number {
  let m = 0;
  for (const e of events) {
    if (e.minCapacity !== undefined && e.startMs < t + leadMs + 1 && e.endMs > t) m = Math.max(m, e.minCapacity);
  }
  return m;
}

function rawWishes(input: PlanInput, model: CapacityModel, policy: PlanPolicy): Wish[] {
  const events = input.events ?? [];
  const leadMs = policy.leadMinutes * MINUTE_MS;
  const reactive = capacityFor(input.observedQps, model);
  const observed = Number.isFinite(input.observedQps) ? Math.max(0, input.observedQps) : 0;
  const hold = input.fallback ? (input.currentCapacity ?? 0) : 0;
  const wishes: Wish[] = [];
  const consider = (w: Wish, cap: number, qps: number, reason: PlanReason): void => {
    if (cap > w.capacity) {
      w.capacity = cap;
      w.qps = Math.max(w.qps, qps);
      w.reason = reason;
    }
  };
  const f = input.fallback ? undefined : input.forecast;
  const qpsSteps = f ? windowQps(f, policy, events, input.normalQps) : new Float64Array([observed]);
  for (let h = 0; h < qpsSteps.length; h++) {
    // Step h of the forecast covers [start + h*step, start + (h+1)*step); step 0 holds now, which may be
    // past its start, so the first point is now and the others sit where their steps begin.
    const atMs = h === 0 || !f ? input.nowMs : f.startMs + h * f.stepMs;
    const w: Wish = { atMs, qps: qpsSteps[h], capacity: capacityFor(qpsSteps[h], model), reason: f ? 'forecast' : 'reactive-floor' };
    if (h === 0) consider(w, reactive, observed, 'reactive-floor');
    const ev = eventCapacityFloor(events, atMs, leadMs);
    consider(w, ev, qpsFor(ev, model), 'event-floor');
    if (h === 0 || input.fallback) consider(w, hold, qpsFor(hold, model), 'fallback-hold');
    wishes.push(w);
  }
  return wishes;
}

/**
 * Plans capacity for now and each forecast step ahead.
 * - raw wish at t: capacity for the max forecast quantile over [t, t + lead]; at t = now never below the
 *   reactive choice from observed load; event floors; in fallback never below the current capacity.
 * - scale down late: the value at t is the max raw wish over [t - scaleDownDelay, t], including the wishes
 *   of earlier plans kept in memory.
 * - scale up early within the step limit: a backward pass starts ramps early enough to reach each peak.
 * - clamp to [min, max].
 */
export function plan(input: PlanInput, model: CapacityModel, policy: PlanPolicy): Plan {
  const wishes = rawWishes(input, model, policy);
  const delayMs = policy.scaleDownDelayMinutes * MINUTE_MS;
  const past = (input.memory ?? emptyMemory).recent.filter((r) => r.atMs > input.nowMs - delayMs && r.atMs < input.nowMs);
  const points: Wish[] = wishes.map((w) => ({ ...w }));
  for (const p of points) {
    let best = -1;
    for (const r of past) if (r.atMs > p.atMs - delayMs && r.capacity > best) best = r.capacity;
    for (const w of wishes) if (w.atMs <= p.atMs && w.atMs > p.atMs - delayMs && w.capacity > best) best = w.capacity;
    if (best > p.capacity) {
      p.capacity = best;
      p.qps = Math.max(p.qps, qpsFor(best, model));
      p.reason = 'scale-down-delay';
    }
  }
  applyStepLimit(points, input.currentCapacity, policy.maxStepUp);
  for (const p of points) {
    if (p.capacity < policy.min) [p.capacity, p.reason] = [policy.min, 'min'];
    if (p.capacity > policy.max) [p.capacity, p.reason] = [policy.max, 'max'];
    // What is served (the external metric) must mean the capacity after every clamp: one sizing, both ways.
    if (capacityFor(p.qps, model) !== p.capacity) p.qps = qpsFor(p.capacity, model);
  }
  const memory: PlannerMemory = {
    recent: [...past, { atMs: input.nowMs, capacity: wishes[0].capacity }],
  };
  return { nowMs: input.nowMs, current: points[0], schedule: points, memory };
}

function applyStepLimit(points: Wish[], current: number | undefined, maxStepUp: number): void {
  if (!Number.isFinite(maxStepUp)) return;
  for (let h = points.length - 2; h >= 0; h--) {
    const need = points[h + 1].capacity - maxStepUp;
    if (points[h].capacity < need) [points[h].capacity, points[h].reason] = [need, 'step-limit'];
  }
  let prev = current;
  for (const p of points) {
    if (prev !== undefined && p.capacity > prev + maxStepUp) [p.capacity, p.reason] = [prev + maxStepUp, 'step-limit'];
    prev = p.capacity;
  }
}
