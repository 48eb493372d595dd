import type { Actuator, ActionRecord } from '../actuators/actuator.js';
import type { TargetConfig } from '../config/schema.js';
import type { AppliedUplift } from '../events/event-forecaster.js';
import { quantileRow, type QuantileForecast } from '../forecast/forecaster.js';
import { createForecaster } from '../forecast/registry.js';
import { log } from '../obs/log.js';
import { dayAgoLevels } from '../plan/baseline.js';
import { emptyMemory, plan, type EventFloor, type Plan } from '../plan/planner.js';
import { modelInput, sliceByTime, type Series } from '../series/series.js';
import type { MetricSource } from '../sources/source.js';
import { DAY_MS, MINUTE_MS, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { eventFloors, type TargetEvent } from './calendar.js';
import { judgeModel, type GateVerdict } from './quality-gate.js';
import type { ActuatorSnapshot, StateStore, TargetSnapshot } from './state.js';
import { deadline, type TargetState } from './target-state.js';

/**
 * The cycle: per target, read history, forecast (through the calendar), check plausibility, gate the model
 * against the seasonal baseline, plan with the shared planner, actuate, publish the snapshot the metrics API
 * serves. The live service runs it on a schedule; the backtest runs this same code minute by minute on a
 * simulated clock. Failures of one target never stop the others, and a failure always falls back to keeping
 * capacity (the planner's fallback mode), never lowering it.
 */

/** What each cycle decided, for the audit log and `serve --once --json`. */
export interface Decision {
  readonly target: string;
  readonly actuator: string;
  readonly atMs: number;
  readonly observedQps: number;
  /** Max of each forecast quantile over the actuator's lead window. */
  readonly forecastWindowMax: Record<string, number> | null;
  readonly plannedQps: number;
  readonly plannedCapacity: number;
  readonly currentCapacity: number | null;
  readonly reason: string;
  readonly fallback: string | null;
  /** Which forecast the plan used: the model's, the seasonal baseline's (quality gate), or none (fallback). */
  readonly forecastSource?: 'model' | 'seasonal-baseline' | 'none';
  /** The promo calendar's learned uplift in the forecast, when a known event lifted it. */
  readonly calendarUplift?: AppliedUplift;
  readonly bounds: { readonly min: number; readonly max: number };
  readonly leadMinutes: number;
  readonly actions: readonly ActionRecord[];
}

export interface CycleObserver {
  onSnapshot?(s: TargetSnapshot): void;
  onDecision?(d: Decision): void;
  onCycle?(seconds: number, decisions: readonly Decision[]): void;
  /** A target was removed (its PredictiveScaler deleted): its series must go. */
  onTargetRemoved?(name: string): void;
}

export interface TargetRuntime {
  readonly config: TargetConfig;
  readonly source: MetricSource;
  readonly actuators: readonly Actuator[];
  /** Inline `events` and those of `eventsFile` (read once by the wiring); default: the inline events. */
  readonly events?: readonly TargetEvent[];
}

export interface CycleOptions {
  readonly clock: Clock;
  readonly store: StateStore;
  readonly dryRun: boolean;
  /**
   * Whether this replica may change outside systems now; asked right before each actuation, so a replica
   * that lost its lease mid-cycle stops actuating. The others forecast and serve metrics.
   */
  readonly mayActuate: (target: string) => boolean;
  readonly observer?: CycleObserver;
  /** Targets processed at once. */
  readonly concurrency?: number;
  /** Per-target time budget for one cycle. */
  readonly targetTimeoutMs?: number;
}

interface Observation {
  readonly history?: Series;
  readonly observedQps: number;
  readonly forecast?: QuantileForecast;
  /** Why the service is in fallback (keeps capacity, serves observed load), or undefined. */
  readonly fallback?: string;
  /** The quality gate's verdict on the model; when active, `forecast` is the seasonal baseline's. */
  readonly gate?: GateVerdict;
  /** What the calendar did to `forecast`, when it lifted it. */
  readonly uplift?: AppliedUplift;
  /** True when the target has no model yet (a target just added, still training): `forecast` is the seasonal baseline's. */
  readonly untrained?: boolean;
}

const CHART_MS = DAY_MS;

export class Cycle {
  constructor(private readonly o: CycleOptions) {}

  /** One cycle over `targets`: never throws; returns the decisions. */
  async run(targets: readonly TargetState[]): Promise<Decision[]> {
    const started = performance.now();
    const decisions: Decision[] = [];
    const queue = [...targets];
    const workers = Array.from({ length: Math.min(this.o.concurrency ?? 8, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) decisions.push(...(await this.runTargetSafely(t)));
    });
    await Promise.all(workers);
    const seconds = (performance.now() - started) / 1000;
    this.o.observer?.onCycle?.(seconds, decisions);
    return decisions;
  }

  private async runTargetSafely(st: TargetState): Promise<Decision[]> {
    const { signal, clear } = deadline(this.o.targetTimeoutMs ?? 45_000, 'target cycle');
    try {
      // Under the target's lock: a retrain swapping the model, or reading history into the same cache, waits.
      return await st.exclusive(() => this.runTarget(st, signal));
    } catch (err: unknown) {
      log.error({ target: st.name, err: errorMessage(err) }, 'target cycle failed');
      return [];
    } finally {
      clear();
    }
  }

  /** Reads history and forecasts; any failure becomes a fallback reason instead of an exception. */
  private async observe(st: TargetState, now: number, signal: AbortSignal): Promise<Observation> {
    const fc = st.runtime.config.forecast;
    let history: Series | undefined;
    try {
      history = await st.readHistory(now, signal);
    } catch (err: unknown) {
      return { observedQps: NaN, fallback: `history unavailable: ${errorMessage(err)}` };
    }
    const observed = latestObserved(history, now - fc.maxHistoryAgeMinutes * MINUTE_MS);
    if (observed === undefined) return { history, observedQps: NaN, fallback: `no observed load in the last ${fc.maxHistoryAgeMinutes} min` };
    if (!st.model) return untrainedForecast(st, history, observed, now);
    let forecast: QuantileForecast;
    let uplift: AppliedUplift | undefined;
    try {
      ({ forecast, uplift } = modelForecast(st, history, fc.horizonMinutes, now));
    } catch (err: unknown) {
      return { history, observedQps: observed, fallback: `forecast failed: ${errorMessage(err)}` };
    }
    const implausible = implausibility(forecast, history);
    if (implausible) return { history, observedQps: observed, fallback: implausible };
    rememberForecast(st, forecast);
    const gate = judgeModel(st.past, history, { nowMs: now, stepMs: forecast.stepMs, exclude: st.calendar.windows });
    if (!gate.active) return { history, observedQps: observed, forecast, gate, uplift };
    try {
      return { history, observedQps: observed, ...(await baselineForecast(st, history, { stepMs: forecast.stepMs, horizon: forecast.horizon, now })), gate };
    } catch (err: unknown) {
      return { history, observedQps: observed, fallback: `model worse than the baseline, and the baseline failed: ${errorMessage(err)}`, gate };
    }
  }

  private async runTarget(st: TargetState, signal: AbortSignal): Promise<Decision[]> {
    // Retired (removed under this lock) while this cycle waited for it: nothing is read, actuated or published.
    if (st.retired) return [];
    const now = this.o.clock.now();
    const obs = await this.observe(st, now, signal);
    const paused = st.runtime.config.paused || (st.pausedUntilMs ?? 0) > now;
    const decisions: Decision[] = [];
    const actuatorSnaps: ActuatorSnapshot[] = [];
    for (const a of st.runtime.actuators) {
      const r = await this.runActuator(st, a, { now, obs, paused, signal });
      decisions.push(r.decision);
      actuatorSnaps.push(r.snapshot);
    }
    st.lastActions = [...decisions.flatMap((d) => d.actions), ...st.lastActions].slice(0, 200);
    const snap = this.snapshot({ st, now, obs, actuators: actuatorSnaps, paused });
    this.o.store.put(snap);
    this.o.observer?.onSnapshot?.(snap);
    for (const d of decisions) this.o.observer?.onDecision?.(d);
    return decisions;
  }

  /** Plans one kind of capacity from the observation and has its actuator follow the plan. */
  private async runActuator(
    st: TargetState,
    a: Actuator,
    c: { now: number; obs: Observation; paused: boolean; signal: AbortSignal },
  ): Promise<{ decision: Decision; snapshot: ActuatorSnapshot }> {
    const { now, obs } = c;
    const { forecast, observedQps, fallback } = obs;
    const t = st.runtime.config;
    const pinned: EventFloor[] = st.pin && st.pin.untilMs > now ? [{ name: 'pin', startMs: now, endMs: st.pin.untilMs, minCapacity: st.pin.minCapacity }] : [];
    const events: EventFloor[] = [...eventFloors(st.events, a.kind), ...pinned];
    const normalQps = forecast && obs.history && events.some((e) => e.multiplier !== undefined) ? dayAgoLevels(obs.history, forecast, now) : undefined;
    const current = await a.currentCapacity(c.signal).catch(() => undefined);
    const p = plan(
      { nowMs: now, forecast, observedQps, currentCapacity: current, fallback: fallback !== undefined, events, normalQps, memory: st.memory.get(a.id) ?? emptyMemory },
      a.model,
      { ...a.policy, quantile: t.forecast.quantile },
    );
    st.memory.set(a.id, p.memory);
    const actions = await this.actuate(a, p, { target: t.name, now, paused: c.paused, signal: c.signal });
    return {
      decision: { ...decisionOf({ target: t.name, actuator: a, plan: p, forecast, observedQps, current, fallback, actions }), ...forecastFacts(obs) },
      snapshot: actuatorSnapshot(a, p, current),
    };
  }

  private snapshot(s: { st: TargetState; now: number; obs: Observation; actuators: ActuatorSnapshot[]; paused: boolean }): TargetSnapshot {
    const { now, obs, st } = s;
    return {
      name: st.name,
      updatedAtMs: now,
      forecastAtMs: obs.forecast ? now : this.o.store.get(st.name)?.forecastAtMs,
      observedQps: obs.observedQps,
      history: obs.history ? sliceByTime(obs.history, now - CHART_MS, now) : { startMs: now, stepMs: MINUTE_MS, values: new Float64Array() },
      forecast: obs.forecast,
      pastForecasts: [...st.past.values()].filter((p) => p.atMs >= now - CHART_MS),
      actuators: s.actuators,
      model: st.model?.info,
      fallback: { active: obs.fallback !== undefined, reason: obs.fallback },
      qualityGate: obs.gate,
      ...(obs.uplift ? { calendarUplift: obs.uplift } : {}),
      paused: s.paused,
      actions: st.lastActions,
    };
  }

  private async actuate(a: Actuator, p: Plan, c: { target: string; now: number; paused: boolean; signal: AbortSignal }): Promise<ActionRecord[]> {
    const skip = (detail: string): ActionRecord[] => [{ atMs: c.now, target: c.target, actuator: a.id, action: 'noop', result: 'skipped', detail }];
    if (c.paused) return skip('target paused');
    if (!this.o.mayActuate(c.target)) return skip('not the leader');
    try {
      return await a.apply(p, { target: c.target, nowMs: c.now, dryRun: this.o.dryRun, signal: c.signal });
    } catch (err: unknown) {
      return [{ atMs: c.now, target: c.target, actuator: a.id, action: 'apply', result: 'error', detail: errorMessage(err) }];
    }
  }
}

/** The model's context at `nowMs`: the history at its step, whole buckets, gaps filled (as it was trained). */
export function modelContext(history: Series, stepMs: number, nowMs: number): Series {
  return modelInput(history, stepMs, nowMs);
}

/**
 * The model's forecast, through the target's calendar when it has tagged events. Forecasting is a function of the
 * context, so while the context is unchanged (a 5-minute model between bucket ends, every minute but one) the last
 * forecast is reused instead of running the model again.
 */
function modelForecast(st: TargetState, history: Series, horizonMinutes: number, now: number): { forecast: QuantileForecast; uplift?: AppliedUplift } {
  const model = st.model;
  if (!model) throw new Error('no model yet');
  const step = model.stepMs;
  const context = modelContext(history, step, now);
  const horizon = Math.ceil((horizonMinutes * MINUTE_MS) / step);
  const calendar = st.calendar.forecasterFor(model, context);
  const by = calendar ?? model.forecaster;
  const last = st.lastForecast;
  if (last && last.by === by && last.horizon === horizon && sameSeries(last.context, context)) return last.result;
  const forecast = by.predict(horizon, context);
  const result = calendar ? { forecast, uplift: calendar.upliftOf(forecast, context) } : { forecast };
  st.lastForecast = { by, horizon, context, result };
  return result;
}

function sameSeries(a: Series, b: Series): boolean {
  if (a.startMs !== b.startMs || a.stepMs !== b.stepMs || a.values.length !== b.values.length) return false;
  for (let i = a.values.length - 1; i >= 0; i--) if (a.values[i] !== b.values[i]) return false;
  return true;
}

/**
 * The daily seasonal-naive forecast, acted on while the quality gate distrusts the model; with the target's
 * calendar around it, so that a coming promo is still lifted and yesterday's is not repeated.
 */
/**
 * A target without a model yet (added while the service runs; its model loads or trains in the background) is
 * forecast by the seasonal baseline meanwhile, as the quality gate does for a model worse than it: at the config's
 * step and horizon, through the calendar, checked for plausibility. Without a day of history the baseline fails
 * too, and the target is in fallback.
 */
async function untrainedForecast(st: TargetState, history: Series, observedQps: number, now: number): Promise<Observation> {
  const fc = st.runtime.config.forecast;
  const stepMs = fc.stepMinutes * MINUTE_MS;
  try {
    const b = await baselineForecast(st, history, { stepMs, horizon: Math.ceil(fc.horizonMinutes / fc.stepMinutes), now });
    const implausible = implausibility(b.forecast, history);
    if (implausible) return { history, observedQps, fallback: `no model yet, and the seasonal baseline is implausible: ${implausible}` };
    return { history, observedQps, ...b, untrained: true };
  } catch (err: unknown) {
    return { history, observedQps, fallback: `no model yet, and the seasonal baseline failed: ${errorMessage(err)}` };
  }
}

async function baselineForecast(st: TargetState, history: Series, o: { stepMs: number; horizon: number; now: number }): Promise<{ forecast: QuantileForecast; uplift?: AppliedUplift }> {
  const context = modelContext(history, o.stepMs, o.now);
  const base = createForecaster('seasonal-naive', { stepMs: o.stepMs, horizon: o.horizon });
  const calendar = st.calendar.wrapBaseline(base);
  const f = calendar ?? base;
  await f.fit(context);
  const forecast = f.predict(o.horizon, context);
  return { forecast, uplift: calendar?.upliftOf(forecast, context) };
}

function rememberForecast(st: TargetState, f: QuantileForecast): void {
  const p50 = quantileRow(f, 0.5);
  const p90 = quantileRow(f, 0.9);
  for (let h = 0; h < f.horizon; h++) {
    const at = f.startMs + h * f.stepMs;
    if (!st.past.has(at)) st.past.set(at, { atMs: at, p50: p50[h], p90: p90[h] });
  }
  const cutoff = f.startMs - CHART_MS;
  for (const at of st.past.keys()) if (at < cutoff) st.past.delete(at);
}

/** The newest present value at or after `sinceMs`, or undefined when the history is stale. */
export function latestObserved(s: Series, sinceMs: number): number | undefined {
  for (let i = s.values.length - 1; i >= 0; i--) {
    if (s.startMs + i * s.stepMs < sinceMs) return undefined;
    const v = s.values[i];
    if (Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Why a forecast must not be acted on, or undefined: non-finite values, or far beyond anything seen. */
export function implausibility(f: QuantileForecast, history: Series): string | undefined {
  let fMax = 0;
  for (const row of f.values) {
    for (const v of row) {
      if (!Number.isFinite(v) || v < 0) return `implausible forecast: value ${v}`;
      if (v > fMax) fMax = v;
    }
  }
  // Runs every cycle over days of history: stop at the first value that makes the largest forecast plausible.
  const h = history.values;
  for (let i = h.length - 1; i >= 0; i--) if (h[i] * 20 >= fMax) return undefined;
  let maxSeen = 0;
  for (const v of h) if (Number.isFinite(v) && v > maxSeen) maxSeen = v;
  if (maxSeen === 0) return undefined;
  return `implausible forecast: ${fMax.toFixed(1)} QPS is over 20x the highest observed (${maxSeen.toFixed(1)})`;
}

/** Which forecast the plan used, and what the calendar did to it. */
function forecastFacts(obs: Observation): Pick<Decision, 'forecastSource' | 'calendarUplift'> {
  const forecastSource = obs.forecast ? (obs.gate?.active || obs.untrained ? 'seasonal-baseline' : 'model') : 'none';
  return { forecastSource, ...(obs.uplift ? { calendarUplift: obs.uplift } : {}) };
}

function actuatorSnapshot(a: Actuator, p: Plan, current: number | undefined): ActuatorSnapshot {
  const where = a.kind === 'cloneset' ? parseCloneSetId(a.id) : {};
  return {
    id: a.id,
    kind: a.kind,
    ...where,
    ...(a.model.kind === 'cloneset' ? { qpsPerReplica: a.model.qpsPerReplica } : {}),
    plannedQps: p.current.qps,
    plannedCapacity: p.current.capacity,
    currentCapacity: current,
    schedule: p.schedule,
  };
}

/** `cloneset:ns/name` (or `deployment:ns/name`, any kind the workload actuator scales) → its namespace and name. */
function parseCloneSetId(id: string): { namespace?: string; name?: string } {
  const m = /^[a-z0-9]+:([^/]+)\/(.+)$/.exec(id);
  return m ? { namespace: m[1], name: m[2] } : {};
}

function decisionOf(d: {
  target: string;
  actuator: Actuator;
  plan: Plan;
  forecast: QuantileForecast | undefined;
  observedQps: number;
  current: number | undefined;
  fallback: string | undefined;
  actions: ActionRecord[];
}): Decision {
  const leadSteps = d.forecast ? Math.max(1, Math.ceil((d.actuator.policy.leadMinutes * MINUTE_MS) / d.forecast.stepMs) + 1) : 0;
  const windowMax = d.forecast
    ? Object.fromEntries(
        (['p50', 'p90', 'p99'] as const).map((k, i) => [k, Math.max(...(d.forecast as QuantileForecast).values[i].slice(0, leadSteps))]),
      )
    : null;
  return {
    target: d.target,
    actuator: d.actuator.id,
    atMs: d.plan.nowMs,
    observedQps: d.observedQps,
    forecastWindowMax: windowMax,
    plannedQps: d.plan.current.qps,
    plannedCapacity: d.plan.current.capacity,
    currentCapacity: d.current ?? null,
    reason: d.plan.current.reason,
    fallback: d.fallback ?? null,
    bounds: { min: d.actuator.policy.min, max: d.actuator.policy.max },
    leadMinutes: d.actuator.policy.leadMinutes,
    actions: d.actions,
  };
}
