import type { Actuator, ActionRecord } from '../actuators/actuator.js';
import type { TargetConfig } from '../config/schema.js';
import type { AppliedUplift } from '../events/event-forecaster.js';
import { quantileRow, type QuantileForecast } from '../forecast/forecaster.js';
import { log } from '../obs/log.js';
import { dayAgoLevels } from '../plan/baseline.js';
import { emptyMemory, plan, type EventFloor, type Plan, type PlannerMemory } from '../plan/planner.js';
import { concatSeries, endMs, fillGaps, resampleMean, sliceByTime, type Series } from '../series/series.js';
import type { MetricSource } from '../sources/source.js';
import { DAY_MS, MINUTE_MS, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { TargetCalendar, eventFloors, inlineEvents, type TargetEvent } from './calendar.js';
import type { LoadedModel, ModelProvider } from './model-provider.js';
import { judgeModel, type GateVerdict } from './quality-gate.js';
import { createForecaster } from '../forecast/registry.js';
import type { ActuatorSnapshot, StateStore, TargetSnapshot } from './state.js';
import { takesCalendarInputs } from '../events/calendar-model.js';

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
}

export interface TargetRuntime {
  readonly config: TargetConfig;
  readonly source: MetricSource;
  readonly actuators: readonly Actuator[];
  /** Inline `events` and those of `eventsFile` (read once by the wiring); default: the inline events. */
  readonly events?: readonly TargetEvent[];
}

export interface ServiceOptions {
  readonly clock: Clock;
  readonly store: StateStore;
  readonly models: ModelProvider;
  readonly targets: readonly TargetRuntime[];
  readonly dryRun: boolean;
  /** Only the leader changes outside systems; the others forecast and serve metrics. */
  readonly isLeader: () => boolean;
  readonly observer?: CycleObserver;
  /** Targets processed at once. */
  readonly concurrency?: number;
  /** Per-target time budget for one cycle. */
  readonly targetTimeoutMs?: number;
}

interface TargetState {
  history?: Series;
  model?: LoadedModel;
  memory: Map<string, PlannerMemory>;
  /** p50/p90 of the first forecast made for each step start (the forecast made furthest ahead). */
  past: Map<number, { p50: number; p90: number }>;
  /** Override from the admin API: no actuation until this time. */
  pausedUntilMs?: number;
  /** Pinned minimum capacity until a time. */
  pin?: { minCapacity: number; untilMs: number };
  lastActions: ActionRecord[];
  /** Known events: planner floors, and the calendar the forecast is wrapped with. */
  readonly events: readonly TargetEvent[];
  readonly calendar: TargetCalendar;
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
}

const CHART_MS = DAY_MS;
/** How far back an incremental read starts again, for late-arriving datapoints. */
const REREAD_MS = 15 * MINUTE_MS;

/**
 * The live service: per target, read history, forecast, plan with the shared planner, actuate. The same
 * `plan` function runs in the backtest. Failures of one target never stop the others, and a failure always
 * falls back to keeping capacity (the planner's fallback mode), never lowering it.
 */
export class PrescaleService {
  private readonly state = new Map<string, TargetState>();

  constructor(private readonly o: ServiceOptions) {
    for (const t of o.targets) {
      const events = t.events ?? inlineEvents(t.config);
      this.state.set(t.config.name, { memory: new Map(), past: new Map(), lastActions: [], events, calendar: new TargetCalendar(t.config.name, events) });
    }
  }

  get targets(): readonly TargetRuntime[] {
    return this.o.targets;
  }

  /** True when every target has a model (for /readyz). */
  modelsReady(): boolean {
    return [...this.state.values()].every((s) => s.model !== undefined);
  }

  /** Loads saved models; targets without one are trained from their history. */
  async loadModels(): Promise<void> {
    for (const t of this.o.targets) {
      const st = this.mustState(t.config.name);
      try {
        st.model = await this.o.models.load(t.config);
        if (st.model) log.info({ target: t.config.name, kind: st.model.info.kind }, 'model loaded');
      } catch (err: unknown) {
        log.error({ target: t.config.name, err: errorMessage(err) }, 'saved model unusable; will train a new one');
      }
      if (!st.model) await this.retrainTarget(t, { replaceOnlyIfBetter: false });
    }
  }

  /** Trains a new model per target and keeps it only if it scores at least as well on the last day. */
  async retrainAll(): Promise<void> {
    for (const t of this.o.targets) await this.retrainTarget(t, { replaceOnlyIfBetter: true });
  }

  /**
   * Whether the retrained candidate scores at least as well as the current model on the last day (logged). A model
   * that reads the calendar is judged as it forecasts, on the raw history, and then both are; otherwise both are
   * judged on the neutralised history they were trained on.
   */
  private scoresAtLeastAsWell(
    target: string,
    st: TargetState,
    m: { readonly candidate: LoadedModel; readonly current: LoadedModel },
    h: { readonly raw: Series; readonly history: Series; readonly recentFrom: number; readonly inputs: boolean },
  ): boolean {
    const onRaw = h.inputs || takesCalendarInputs(m.current.forecaster);
    const judged = (x: LoadedModel): LoadedModel => (onRaw ? st.calendar.calendarAware(x, h.raw, h.recentFrom) : x);
    const oldScore = this.o.models.score(judged(m.current), onRaw ? h.raw : h.history, h.recentFrom);
    const newScore = this.o.models.score(judged(m.candidate), onRaw ? h.raw : h.history, h.recentFrom);
    log.info({ target, oldScore, newScore, onRawHistory: onRaw }, 'retrain scored');
    return newScore <= oldScore;
  }

  private async retrainTarget(t: TargetRuntime, opts: { replaceOnlyIfBetter: boolean }): Promise<void> {
    const st = this.mustState(t.config.name);
    const name = t.config.name;
    try {
      const raw = await this.readHistory(t, st);
      // The LSTM of a target with a calendar takes it as inputs and learns promos from the raw history; any other
      // method learns normal load (events replaced by the day before) and is wrapped with the learned uplift.
      const inputs = st.calendar.takesInputs(t.config.forecast.model);
      const history = inputs ? raw : st.calendar.neutralise(raw);
      st.calendar.forget(); // the next forecast learns the uplift again, from the newer history
      const recentFrom = this.o.clock.now() - DAY_MS;
      const compare = opts.replaceOnlyIfBetter && st.model !== undefined;
      // To be compared fairly on the last day, the candidate must not have seen it.
      const candidate = await this.o.models.train(t.config, compare ? sliceByTime(history, history.startMs, recentFrom) : history, inputs ? { calendar: st.calendar.events } : {});
      if (compare && st.model && !this.scoresAtLeastAsWell(name, st, { candidate, current: st.model }, { raw, history, recentFrom, inputs })) return;
      st.model = candidate;
      st.past.clear(); // the quality gate judges the new model on its own forecasts
      log.info({ target: name, kind: candidate.info.kind }, 'model replaced');
    } catch (err: unknown) {
      log.error({ target: name, err: errorMessage(err) }, 'retrain failed; keeping the current model');
      return;
    }
    try {
      await this.o.models.save(t.config, st.model);
    } catch (err: unknown) {
      // The new model serves from memory; the disk keeps the previous one until a save succeeds.
      log.error({ target: name, err: errorMessage(err) }, 'saving the new model failed; it is used in memory, the previous one stays on disk');
    }
  }

  pause(target: string, untilMs: number): void {
    this.mustState(target).pausedUntilMs = untilMs;
  }
  pin(target: string, minCapacity: number, untilMs: number): void {
    this.mustState(target).pin = { minCapacity, untilMs };
  }

  /** One cycle over all targets: never throws; returns the decisions. */
  async runCycle(): Promise<Decision[]> {
    const started = performance.now();
    const decisions: Decision[] = [];
    const queue = [...this.o.targets];
    const workers = Array.from({ length: Math.min(this.o.concurrency ?? 8, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) decisions.push(...(await this.runTargetSafely(t)));
    });
    await Promise.all(workers);
    const seconds = (performance.now() - started) / 1000;
    this.o.observer?.onCycle?.(seconds, decisions);
    return decisions;
  }

  private async runTargetSafely(t: TargetRuntime): Promise<Decision[]> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('target cycle timed out')), this.o.targetTimeoutMs ?? 45_000);
    try {
      return await this.runTarget(t, ac.signal);
    } catch (err: unknown) {
      log.error({ target: t.config.name, err: errorMessage(err) }, 'target cycle failed');
      return [];
    } finally {
      clearTimeout(timer);
    }
  }

  private async readHistory(t: TargetRuntime, st: TargetState, signal?: AbortSignal): Promise<Series> {
    const now = this.o.clock.now();
    const from = now - t.config.history.days * DAY_MS;
    const read = async (a: number): Promise<Series> => asRates(await untilAborted(t.source.history(a, now, signal), signal));
    if (!st.history || endMs(st.history) < from) {
      st.history = await read(from);
    } else {
      const keepTo = Math.max(st.history.startMs, endMs(st.history) - REREAD_MS);
      // A source may return more than asked for; only [keepTo, now) joins what is kept.
      const fresh = sliceByTime(await read(keepTo), keepTo, now);
      const kept = sliceByTime(st.history, from, keepTo);
      st.history = kept.values.length > 0 && fresh.stepMs === kept.stepMs ? concatSeries(kept, fresh) : fresh;
    }
    return st.history;
  }

  /** Reads history and forecasts; any failure becomes a fallback reason instead of an exception. */
  private async observe(t: TargetRuntime, st: TargetState, now: number, signal: AbortSignal): Promise<Observation> {
    const fc = t.config.forecast;
    let history: Series | undefined;
    try {
      history = await this.readHistory(t, st, signal);
    } catch (err: unknown) {
      return { observedQps: NaN, fallback: `history unavailable: ${errorMessage(err)}` };
    }
    const observed = latestObserved(history, now - fc.maxHistoryAgeMinutes * MINUTE_MS);
    if (observed === undefined) return { history, observedQps: NaN, fallback: `no observed load in the last ${fc.maxHistoryAgeMinutes} min` };
    let forecast: QuantileForecast;
    let uplift: AppliedUplift | undefined;
    try {
      ({ forecast, uplift } = this.forecast(st, history, fc.horizonMinutes, now));
    } catch (err: unknown) {
      return { history, observedQps: observed, fallback: `forecast failed: ${errorMessage(err)}` };
    }
    const implausible = implausibility(forecast, history);
    if (implausible) return { history, observedQps: observed, fallback: implausible };
    this.rememberForecast(st, forecast);
    const gate = judgeModel(st.past, history, { nowMs: now, stepMs: forecast.stepMs, exclude: st.calendar.windows });
    if (!gate.active) return { history, observedQps: observed, forecast, gate, uplift };
    try {
      return { history, observedQps: observed, ...(await this.baselineForecast(st, history, { stepMs: forecast.stepMs, horizon: forecast.horizon, now })), gate };
    } catch (err: unknown) {
      return { history, observedQps: observed, fallback: `model worse than the baseline, and the baseline failed: ${errorMessage(err)}`, gate };
    }
  }

  /**
   * The daily seasonal-naive forecast, acted on while the quality gate distrusts the model; with the target's
   * calendar around it, so that a coming promo is still lifted and yesterday's is not repeated.
   */
  private async baselineForecast(st: TargetState, history: Series, o: { stepMs: number; horizon: number; now: number }): Promise<{ forecast: QuantileForecast; uplift?: AppliedUplift }> {
    const context = fillGaps(sliceByTime(resampleMean(history, o.stepMs), history.startMs, Math.floor(o.now / o.stepMs) * o.stepMs));
    const base = createForecaster('seasonal-naive', { stepMs: o.stepMs, horizon: o.horizon });
    const calendar = st.calendar.wrapBaseline(base);
    const f = calendar ?? base;
    await f.fit(context);
    const forecast = f.predict(o.horizon, context);
    return { forecast, uplift: calendar?.upliftOf(forecast, context) };
  }

  private async runTarget(t: TargetRuntime, signal: AbortSignal): Promise<Decision[]> {
    const now = this.o.clock.now();
    const st = this.mustState(t.config.name);
    const obs = await this.observe(t, st, now, signal);
    const { forecast, observedQps, fallback } = obs;
    const pinned: EventFloor[] = st.pin && st.pin.untilMs > now ? [{ name: 'pin', startMs: now, endMs: st.pin.untilMs, minCapacity: st.pin.minCapacity }] : [];
    const events: EventFloor[] = [...eventFloors(st.events), ...pinned];
    const paused = t.config.paused || (st.pausedUntilMs ?? 0) > now;
    const normalQps = forecast && obs.history && events.some((e) => e.multiplier !== undefined) ? dayAgoLevels(obs.history, forecast, now) : undefined;
    const decisions: Decision[] = [];
    const actuatorSnaps: ActuatorSnapshot[] = [];
    for (const a of t.actuators) {
      const current = await a.currentCapacity(signal).catch(() => undefined);
      const p = plan(
        { nowMs: now, forecast, observedQps, currentCapacity: current, fallback: fallback !== undefined, events, normalQps, memory: st.memory.get(a.id) ?? emptyMemory },
        a.model,
        { ...a.policy, quantile: t.config.forecast.quantile },
      );
      st.memory.set(a.id, p.memory);
      const actions = await this.actuate(a, p, { target: t.config.name, now, paused, signal });
      decisions.push({ ...decisionOf({ target: t.config.name, actuator: a, plan: p, forecast, observedQps, current, fallback, actions }), ...forecastFacts(obs) });
      actuatorSnaps.push(actuatorSnapshot(a, p, current));
    }
    st.lastActions = [...decisions.flatMap((d) => d.actions), ...st.lastActions].slice(0, 200);
    const snap = this.snapshot({ t, st, now, obs, actuators: actuatorSnaps, paused });
    this.o.store.put(snap);
    this.o.observer?.onSnapshot?.(snap);
    for (const d of decisions) this.o.observer?.onDecision?.(d);
    return decisions;
  }

  private snapshot(s: { t: TargetRuntime; st: TargetState; now: number; obs: Observation; actuators: ActuatorSnapshot[]; paused: boolean }): TargetSnapshot {
    const { now, obs } = s;
    const name = s.t.config.name;
    return {
      name,
      updatedAtMs: now,
      forecastAtMs: obs.forecast ? now : this.o.store.get(name)?.forecastAtMs,
      observedQps: obs.observedQps,
      history: obs.history ? sliceByTime(obs.history, now - CHART_MS, now) : { startMs: now, stepMs: MINUTE_MS, values: new Float64Array() },
      forecast: obs.forecast,
      pastForecasts: [...s.st.past.entries()].filter(([at]) => at >= now - CHART_MS).map(([atMs, v]) => ({ atMs, ...v })),
      actuators: s.actuators,
      model: s.st.model?.info,
      fallback: { active: obs.fallback !== undefined, reason: obs.fallback },
      qualityGate: obs.gate,
      ...(obs.uplift ? { calendarUplift: obs.uplift } : {}),
      paused: s.paused,
      actions: s.st.lastActions,
    };
  }

  private async actuate(a: Actuator, p: Plan, c: { target: string; now: number; paused: boolean; signal: AbortSignal }): Promise<ActionRecord[]> {
    const skip = (detail: string): ActionRecord[] => [{ atMs: c.now, target: c.target, actuator: a.id, action: 'noop', result: 'skipped', detail }];
    if (c.paused) return skip('target paused');
    if (!this.o.isLeader()) return skip('not the leader');
    try {
      return await a.apply(p, { target: c.target, nowMs: c.now, dryRun: this.o.dryRun, signal: c.signal });
    } catch (err: unknown) {
      return [{ atMs: c.now, target: c.target, actuator: a.id, action: 'apply', result: 'error', detail: errorMessage(err) }];
    }
  }

  /** The model's forecast, through the target's calendar when it has tagged events. */
  private forecast(st: TargetState, history: Series, horizonMinutes: number, now: number): { forecast: QuantileForecast; uplift?: AppliedUplift } {
    if (!st.model) throw new Error('no model yet');
    const step = st.model.stepMs;
    const resampled = resampleMean(history, step);
    // Only whole buckets: the bucket still filling would read low.
    const context = fillGaps(sliceByTime(resampled, resampled.startMs, Math.floor(now / step) * step));
    const horizon = Math.ceil((horizonMinutes * MINUTE_MS) / step);
    const calendar = st.calendar.forecasterFor(st.model, context);
    if (!calendar) return { forecast: st.model.forecaster.predict(horizon, context) };
    const forecast = calendar.predict(horizon, context);
    return { forecast, uplift: calendar.upliftOf(forecast, context) };
  }

  private rememberForecast(st: TargetState, f: QuantileForecast): void {
    const p50 = quantileRow(f, 0.5);
    const p90 = quantileRow(f, 0.9);
    for (let h = 0; h < f.horizon; h++) {
      const at = f.startMs + h * f.stepMs;
      if (!st.past.has(at)) st.past.set(at, { p50: p50[h], p90: p90[h] });
    }
    const cutoff = f.startMs - CHART_MS;
    for (const at of st.past.keys()) if (at < cutoff) st.past.delete(at);
  }

  private mustState(name: string): TargetState {
    const s = this.state.get(name);
    if (!s) throw new Error(`unknown target ${name}`);
    return s;
  }
}

/**
 * A source's series with what is not a request rate (negative, ±Infinity) as gaps, as the Prometheus source
 * does: left in, a model fed them forecasts 0 after sanitising, and capacity would drop on garbage.
 */
export function asRates(s: Series): Series {
  if (s.values.every((v) => Number.isNaN(v) || (Number.isFinite(v) && v >= 0))) return s;
  return { ...s, values: Float64Array.from(s.values, (v) => (Number.isFinite(v) && v >= 0 ? v : NaN)) };
}

/** Settles with `p`, or rejects when `signal` aborts: a source that ignores the signal cannot hold up the cycle. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
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
  let maxSeen = 0;
  for (const v of history.values) if (Number.isFinite(v) && v > maxSeen) maxSeen = v;
  for (const row of f.values) {
    for (const v of row) {
      if (!Number.isFinite(v) || v < 0) return `implausible forecast: value ${v}`;
      if (maxSeen > 0 && v > 20 * maxSeen) return `implausible forecast: ${v.toFixed(1)} QPS is over 20x the highest observed (${maxSeen.toFixed(1)})`;
    }
  }
  return undefined;
}

/** Which forecast the plan used, and what the calendar did to it. */
function forecastFacts(obs: Observation): Pick<Decision, 'forecastSource' | 'calendarUplift'> {
  const forecastSource = obs.forecast ? (obs.gate?.active ? 'seasonal-baseline' : 'model') : 'none';
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

/** `cloneset:ns/name` → its namespace and name. */
function parseCloneSetId(id: string): { namespace?: string; name?: string } {
  const m = /^cloneset:([^/]+)\/(.+)$/.exec(id);
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
