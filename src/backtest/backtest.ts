import { performance } from 'node:perf_hooks';
import { pointForecast, sanitizeForecast, type Forecaster, type QuantileForecast } from '../forecast/forecaster.js';
import {
  capacityFor,
  plan,
  type CapacityModel,
  type EventFloor,
  type PlannerMemory,
  type PlanPolicy,
} from '../plan/planner.js';
import { dayAgoLevels } from '../plan/baseline.js';
import { fillGaps, resampleMean, sliceSeries, type Series } from '../series/series.js';
import { CloneSetSimulator } from '../sim/cloneset.js';
import { HPA_SYNC_MS, HpaSimulator, type ExternalMetricSpec } from '../sim/hpa.js';
import { LambdaSimulator } from '../sim/lambda.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { scenarioEvents, type Scenario } from './scenario.js';

/**
 * Replays a recorded load over [from, to) with a simulated clock, once per strategy, through the simulated HPA,
 * CloneSet and Lambda provisioned concurrency, and scores what each strategy would have cost and missed.
 * `predictive` and `oracle` call the one planner (`plan`) that the live service runs; they differ only in
 * the forecast it is fed (a model trained on data before `from`, or the actual future).
 */

/** `predictive+calendar` is `predictive` with a model that knows the promo calendar (src/events, `--events`). */
export type StrategyName = 'reactive' | 'predictive' | 'predictive+calendar' | 'oracle';
export const STRATEGIES: readonly StrategyName[] = ['reactive', 'predictive', 'predictive+calendar', 'oracle'];

export interface BacktestProgress {
  readonly phase: 'fit' | StrategyName;
  readonly done: number;
  readonly total: number;
}

export interface BacktestOptions {
  /** Load in requests per second at any step that is a divisor or multiple of one minute; gaps are NaN. */
  readonly series: Series;
  readonly fromMs: number;
  readonly toMs: number;
  readonly scenario: Scenario;
  /** An unfitted model for `predictive`: fitted here on the data before `fromMs` only. */
  readonly forecaster?: Forecaster;
  /** An unfitted calendar-aware model (withEvents) for `predictive+calendar`, fitted like `forecaster`. */
  readonly calendarForecaster?: Forecaster;
  /** Default: all (predictive only with a forecaster, predictive+calendar only with a calendarForecaster). */
  readonly strategies?: readonly StrategyName[];
  /** Known events handed to the planner as floors, besides the scenario's own `events`. */
  readonly events?: { readonly pods: readonly EventFloor[]; readonly pc: readonly EventFloor[] };
  readonly onProgress?: (p: BacktestProgress) => void;
}

/** Per-minute series of one strategy, for the report (index i = minute `fromMs + i min`). */
export interface StrategyTimeline {
  /** Ready pods, mean of the four HPA syncs of the minute. */
  readonly readyPods: Float64Array;
  /** Pods that exist (paid for) at the end of the minute. */
  readonly pods: Float64Array;
  /** Provisioned concurrency ready during the minute. */
  readonly pcReady: Float64Array;
  /** Provisioned concurrency configured (ready or allocating) at the end of the minute. */
  readonly pcDesired: Float64Array;
  /** Invocations that found no ready provisioned concurrency. */
  readonly coldStarts: Float64Array;
  /** Planner's pods and PC for the minute (NaN for reactive). */
  readonly plannedPods: Float64Array;
  readonly plannedPc: Float64Array;
}

export interface StrategyScores {
  /** Cold starts ÷ invocations over the window. */
  readonly coldStartShare: number;
  readonly coldStarts: number;
  readonly invocations: number;
  /** Minutes whose demand exceeded ready pods x pods.qpsPerReplica. */
  readonly underProvisionedMinutes: number;
  readonly podHours: number;
  readonly pcHours: number;
  /** podHours x prices.podHour + pcHours x prices.pcHour. */
  readonly cost: number;
  /** cost ÷ the oracle's cost; null when the oracle was not run. */
  readonly costVsOracle: number | null;
  /** Wall time of this strategy's replay. */
  readonly replaySeconds: number;
  /** CPU time of this strategy's replay (this process, user + system): unlike wall time, not inflated by a busy machine. */
  readonly replayCpuSeconds: number;
}

export interface StrategyResult extends StrategyScores {
  readonly timeline: StrategyTimeline;
}

export interface BacktestResult {
  readonly fromMs: number;
  readonly toMs: number;
  readonly minutes: number;
  /** Minutes of the window with no recorded data (interpolated). */
  readonly gapMinutes: number;
  readonly model: string | null;
  readonly fitSeconds: number | null;
  /** Demand in QPS per minute over the window. */
  readonly demand: Float64Array;
  /** Concurrency the demand needs (QPS x mean duration). */
  readonly pcNeeded: Float64Array;
  readonly strategies: Partial<Record<StrategyName, StrategyResult>>;
}

/** Turns any series into one value per minute, holding coarser values and averaging finer ones. */
export function toMinuteSeries(s: Series): Series {
  if (s.stepMs === MINUTE_MS) return s;
  if (s.stepMs < MINUTE_MS && MINUTE_MS % s.stepMs === 0) return resampleMean(s, MINUTE_MS);
  if (s.stepMs > MINUTE_MS && s.stepMs % MINUTE_MS === 0) {
    const k = s.stepMs / MINUTE_MS;
    const v = new Float64Array(s.values.length * k);
    for (let i = 0; i < v.length; i++) v[i] = s.values[Math.floor(i / k)];
    return { startMs: s.startMs, stepMs: MINUTE_MS, values: v };
  }
  throw new InputError(`backtest needs a trace whose step divides or is a multiple of one minute, ${s.stepMs / 1000} s given`);
}

/**
 * Fills each gap with the last value before it (the first present value at the very start): unlike
 * interpolation, it never uses a later value, so model input and observed load stay causal.
 */
export function holdGaps(s: Series): Series {
  const v = Float64Array.from(s.values);
  let last = v.find((x) => !Number.isNaN(x));
  if (last === undefined) throw new InputError('backtest: the trace has no values at all, only gaps');
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i])) v[i] = last;
    else last = v[i];
  }
  return { startMs: s.startMs, stepMs: s.stepMs, values: v };
}

interface Setup {
  readonly demand: Float64Array;
  /** Per-minute load over the whole trace with gaps interpolated (the oracle's future), and the index of `fromMs` in it. */
  readonly full: Float64Array;
  /** The same with each gap holding the last value before it: what a live system knew at the time. */
  readonly observed: Float64Array;
  readonly first: number;
  readonly minutes: number;
  readonly podModel: CapacityModel;
  readonly pcModel: CapacityModel;
  readonly podPolicy: PlanPolicy;
  readonly pcPolicy: PlanPolicy;
  readonly horizonMinutes: number;
}

/** Something that gives the planner a per-minute forecast starting at `nowMs`; index = minutes since `fromMs`. */
type ForecastAt = (nowMs: number, i: number) => QuantileForecast;

interface Prepared {
  readonly setup: Setup;
  /** The per-minute trace with gaps left as NaN (the model's input is built from it causally). */
  readonly raw: Series;
  readonly fromMs: number;
  readonly gapMinutes: number;
}

/** Checks the window against the trace and derives everything the replays share. */
function prepare(o: BacktestOptions): Prepared {
  const s = o.scenario;
  const minuteSeries = toMinuteSeries(o.series);
  const fromMs = Math.ceil(o.fromMs / MINUTE_MS) * MINUTE_MS;
  const first = Math.round((fromMs - minuteSeries.startMs) / MINUTE_MS);
  const minutes = Math.floor((o.toMs - fromMs) / MINUTE_MS);
  const traceEnd = minuteSeries.startMs + minuteSeries.values.length * MINUTE_MS;
  const iso = (t: number): string => new Date(t).toISOString();
  if (first < 1) throw new InputError(`backtest: --from ${iso(fromMs)} must be after the trace start ${iso(minuteSeries.startMs)} (the replay needs history before it)`);
  if (minutes < 1 || first + minutes > minuteSeries.values.length) {
    throw new InputError(`backtest: the window ${iso(fromMs)} .. ${iso(o.toMs)} must be non-empty and inside the trace (${iso(minuteSeries.startMs)} .. ${iso(traceEnd)})`);
  }
  const filled = fillGaps(minuteSeries);
  const held = holdGaps(minuteSeries);
  let gapMinutes = 0;
  for (let i = first; i < first + minutes; i++) if (Number.isNaN(minuteSeries.values[i])) gapMinutes++;
  const maxLead = Math.max(s.predictive.podLeadMinutes, s.predictive.pcLeadMinutes);
  const setup: Setup = {
    demand: filled.values.slice(first, first + minutes),
    full: filled.values,
    observed: held.values,
    first,
    minutes,
    // The planner sizes pods on the HPA's own target, so its replicas and the HPA's agree at equal load.
    podModel: { kind: 'cloneset', qpsPerReplica: s.pods.hpa.targetAverageValue },
    pcModel: { kind: 'lambda-provisioned-concurrency', meanDurationMs: s.lambda.meanDurationMs, targetUtilization: s.lambda.targetUtilization },
    podPolicy: policyOf(s, s.predictive.podLeadMinutes, { min: s.pods.min, max: s.pods.max }),
    pcPolicy: policyOf(s, s.predictive.pcLeadMinutes, { min: s.lambda.min, max: s.lambda.max }),
    horizonMinutes: Math.ceil(maxLead) + 1,
  };
  return { setup, raw: minuteSeries, fromMs, gapMinutes };
}

/** The actual future as a point forecast; past the end of the trace the last value is held. */
function oracleForecasts(setup: Setup): ForecastAt {
  return (nowMs, i) => {
    const g = setup.first + i;
    const row = new Float64Array(setup.horizonMinutes);
    for (let h = 0; h < row.length; h++) row[h] = setup.full[Math.min(setup.full.length - 1, g + h)];
    return pointForecast(nowMs, MINUTE_MS, row);
  };
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestResult> {
  const s = o.scenario;
  const { setup, raw, fromMs, gapMinutes } = prepare(o);
  const wanted = o.strategies ?? STRATEGIES.filter((n) => (n !== 'predictive' || o.forecaster) && (n !== 'predictive+calendar' || o.calendarForecaster));
  const modelOptions = { raw, fromMs, stepMinutes: s.predictive.stepMinutes, horizonMinutes: setup.horizonMinutes };
  const { predictiveAt, fitSeconds } = wanted.includes('predictive')
    ? await fitModel(o, o.forecaster, modelOptions)
    : { predictiveAt: undefined, fitSeconds: null };
  const calendarAt = wanted.includes('predictive+calendar') ? (await fitModel(o, o.calendarForecaster, modelOptions)).predictiveAt : undefined;
  const own = scenarioEvents(s);
  const events = { pods: [...own.pods, ...(o.events?.pods ?? [])], pc: [...own.pc, ...(o.events?.pc ?? [])] };
  const forecasts: Record<StrategyName, ForecastAt | undefined> = { reactive: undefined, predictive: predictiveAt, 'predictive+calendar': calendarAt, oracle: oracleForecasts(setup) };
  const strategies: Partial<Record<StrategyName, StrategyResult>> = {};
  for (const name of STRATEGIES.filter((n) => wanted.includes(n))) {
    // The oracle already sees the event in its perfect forecast; a multiplier on top would count it twice.
    const floors = name === 'oracle' ? { pods: [], pc: [] } : events;
    strategies[name] = await replay({ name, setup, scenario: s, fromMs, forecastAt: forecasts[name], events: floors, onProgress: o.onProgress });
  }
  return {
    fromMs,
    toMs: fromMs + setup.minutes * MINUTE_MS,
    minutes: setup.minutes,
    gapMinutes,
    model: o.forecaster && wanted.includes('predictive') ? o.forecaster.name : null,
    fitSeconds,
    demand: setup.demand,
    pcNeeded: setup.demand.map((q) => (q * s.lambda.meanDurationMs) / 1000),
    strategies: withCostVsOracle(strategies),
  };
}

async function fitModel(o: BacktestOptions, model: Forecaster | undefined, m: ModelForecastOptions): Promise<{ predictiveAt: ForecastAt; fitSeconds: number }> {
  if (!model) throw new InputError('backtest: the predictive strategies need a model (predictive+calendar: a calendar, --events)');
  o.onProgress?.({ phase: 'fit', done: 0, total: 1 });
  const t0 = performance.now();
  const predictiveAt = await modelForecasts(model, m);
  const fitSeconds = (performance.now() - t0) / 1000;
  o.onProgress?.({ phase: 'fit', done: 1, total: 1 });
  return { predictiveAt, fitSeconds };
}

function withCostVsOracle(strategies: Partial<Record<StrategyName, StrategyResult>>): Partial<Record<StrategyName, StrategyResult>> {
  const oracleCost = strategies.oracle?.cost;
  if (oracleCost === undefined) return strategies;
  const out: Partial<Record<StrategyName, StrategyResult>> = {};
  for (const name of STRATEGIES) {
    const r = strategies[name];
    if (r) out[name] = { ...r, costVsOracle: oracleCost > 0 ? r.cost / oracleCost : null };
  }
  return out;
}

function policyOf(s: Scenario, leadMinutes: number, bounds: { min: number; max: number }): PlanPolicy {
  return {
    quantile: s.predictive.quantile,
    leadMinutes,
    min: bounds.min,
    max: bounds.max,
    scaleDownDelayMinutes: s.predictive.scaleDownDelayMinutes,
    maxStepUp: Infinity,
  };
}

interface ModelForecastOptions {
  readonly raw: Series;
  readonly fromMs: number;
  readonly stepMinutes: number;
  readonly horizonMinutes: number;
}

/**
 * Fits the model on the data before `fromMs` (at `stepMinutes` resolution) and returns a function that, at
 * each simulated minute, gives the latest forecast re-expressed per minute from that minute on. The model sees
 * only complete intervals that ended by then; it is refreshed once per model step, never refitted.
 */
async function modelForecasts(model: Forecaster, o: ModelForecastOptions): Promise<ForecastAt> {
  const stepMs = o.stepMinutes * MINUTE_MS;
  const modelSeries = holdGaps(o.stepMinutes === 1 ? o.raw : resampleMean(o.raw, stepMs));
  // Only buckets that end by `fromMs`: a bucket straddling it would leak replayed minutes into training.
  const train = sliceSeries(modelSeries, 0, Math.floor((o.fromMs - modelSeries.startMs) / stepMs));
  await model.fit(train);
  const modelHorizon = Math.ceil(o.horizonMinutes / o.stepMinutes) + 1;
  let lastK = -1;
  let last: QuantileForecast | undefined;
  return (nowMs) => {
    // Buckets [start + j step, start + (j+1) step) complete by now: j < k.
    const k = Math.floor((nowMs - modelSeries.startMs) / stepMs);
    if (k !== lastK || !last) {
      // A view, not a copy: the context grows by one point per step and models may cache on its prefix.
      const context: Series = { startMs: modelSeries.startMs, stepMs, values: modelSeries.values.subarray(0, k) };
      last = sanitizeForecast(model.predict(modelHorizon, context));
      lastK = k;
    }
    return perMinute(last, nowMs, o.horizonMinutes);
  };
}

/** The forecast of each minute in [now, now + horizon), from a forecast at any step (held within a step). */
export function perMinute(f: QuantileForecast, nowMs: number, horizonMinutes: number): QuantileForecast {
  if (f.stepMs === MINUTE_MS && f.startMs === nowMs && f.horizon === horizonMinutes) return f;
  const values = f.values.map((row) => {
    const out = new Float64Array(horizonMinutes);
    for (let h = 0; h < horizonMinutes; h++) {
      const k = Math.floor((nowMs + h * MINUTE_MS - f.startMs) / f.stepMs);
      out[h] = row[Math.min(f.horizon - 1, Math.max(0, k))];
    }
    return out;
  });
  return { startMs: nowMs, stepMs: MINUTE_MS, horizon: horizonMinutes, probabilistic: f.probabilistic, values };
}

interface ReplayOptions {
  readonly name: StrategyName;
  readonly setup: Setup;
  readonly scenario: Scenario;
  readonly fromMs: number;
  /** Undefined: reactive (no planner). */
  readonly forecastAt: ForecastAt | undefined;
  readonly events: { readonly pods: readonly EventFloor[]; readonly pc: readonly EventFloor[] };
  readonly onProgress?: (p: BacktestProgress) => void;
}

const LOAD_METRIC = 'observed-qps';
const FORECAST_METRIC = 'prescale-planned-qps';

function newTimeline(n: number): StrategyTimeline {
  const f = (): Float64Array => new Float64Array(n);
  return { readyPods: f(), pods: f(), pcReady: f(), pcDesired: f(), coldStarts: f(), plannedPods: f().fill(NaN), plannedPc: f().fill(NaN) };
}

async function replay(o: ReplayOptions): Promise<StrategyResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { setup, scenario: s } = o;
  const target = s.pods.hpa.targetAverageValue;
  const metrics: ExternalMetricSpec[] = [{ name: LOAD_METRIC, target: { type: 'AverageValue', averageValue: target } }];
  // Predictive: the planner's pods value is served as a second External metric; the HPA takes the max.
  if (o.forecastAt) metrics.push({ name: FORECAST_METRIC, target: { type: 'AverageValue', averageValue: target } });
  const hpa = new HpaSimulator({
    minReplicas: s.pods.min,
    maxReplicas: s.pods.max,
    metrics,
    behavior: s.pods.hpa.behavior,
    tolerance: s.pods.hpa.tolerance,
  });
  const observedAt = (i: number): number => setup.observed[Math.max(0, setup.first + i - 1)];
  // Everything starts warm: sized for the load of the minute before the window.
  const clampPods = (n: number): number => Math.min(s.pods.max, Math.max(s.pods.min, n));
  const pods = new CloneSetSimulator(s.pods.readySeconds * 1000, clampPods(Math.ceil(observedAt(0) / target)));
  const lambda = new LambdaSimulator({
    meanDurationMs: s.lambda.meanDurationMs,
    targetUtilization: s.lambda.targetUtilization,
    allocationMs: s.lambda.allocationSeconds * 1000,
    min: s.lambda.min,
    max: s.lambda.max,
    targetTracking: true,
    initial: capacityFor(observedAt(0), setup.pcModel),
  });
  const tl = newTimeline(setup.minutes);
  // What a live system knew, as a series: event multipliers scale the load of a day earlier (dayAgoLevels).
  const observedSeries: Series = { startMs: o.fromMs - setup.first * MINUTE_MS, stepMs: MINUTE_MS, values: setup.observed };
  const multipliers = [...o.events.pods, ...o.events.pc].some((e) => e.multiplier !== undefined);
  let podMem: PlannerMemory | undefined;
  let pcMem: PlannerMemory | undefined;
  let podSeconds = 0;
  let pcMinutes = 0;
  let under = 0;
  let cold = 0;
  let invocations = 0;
  for (let i = 0; i < setup.minutes; i++) {
    const t = o.fromMs + i * MINUTE_MS;
    const observed = observedAt(i);
    const demand = setup.demand[i];
    let plannedQps: number | undefined;
    if (o.forecastAt) {
      const forecast = o.forecastAt(t, i);
      const normalQps = multipliers ? dayAgoLevels(observedSeries, forecast, t) : undefined;
      const podPlan = plan({ nowMs: t, forecast, observedQps: observed, currentCapacity: pods.specReplicas(), events: o.events.pods, normalQps, memory: podMem }, setup.podModel, setup.podPolicy);
      const pcPlan = plan({ nowMs: t, forecast, observedQps: observed, currentCapacity: lambda.desired(), events: o.events.pc, normalQps, memory: pcMem }, setup.pcModel, setup.pcPolicy);
      podMem = podPlan.memory;
      pcMem = pcPlan.memory;
      // What prescale's Lambda actuator does: a scheduled action sets MinCapacity to the plan at its time.
      lambda.setMinCapacity(t, pcPlan.current.capacity);
      plannedQps = podPlan.current.capacity * target;
      tl.plannedPods[i] = podPlan.current.capacity;
      tl.plannedPc[i] = pcPlan.current.capacity;
    }
    let readySum = 0;
    for (let k = 0; k < MINUTE_MS / HPA_SYNC_MS; k++) {
      const ts = t + k * HPA_SYNC_MS;
      const values: Record<string, number | undefined> = { [LOAD_METRIC]: observed };
      if (plannedQps !== undefined) values[FORECAST_METRIC] = plannedQps;
      const d = hpa.sync(ts, { specReplicas: pods.specReplicas(), statusReplicas: pods.statusReplicas(), readyPods: pods.readyReplicas(ts), metrics: values });
      if (d.replicas !== pods.specReplicas()) pods.scale(ts, d.replicas);
      readySum += pods.readyReplicas(ts);
      podSeconds += pods.statusReplicas() * (HPA_SYNC_MS / 1000);
    }
    const ready = readySum / (MINUTE_MS / HPA_SYNC_MS);
    if (demand > ready * s.pods.qpsPerReplica * (1 + 1e-9)) under++;
    const lm = lambda.minute(t, demand);
    cold += lm.coldStarts;
    invocations += lm.invocations;
    pcMinutes += lm.desired;
    tl.readyPods[i] = ready;
    tl.pods[i] = pods.statusReplicas();
    tl.pcReady[i] = lm.ready;
    tl.pcDesired[i] = lm.desired;
    tl.coldStarts[i] = lm.coldStarts;
    if (i % 240 === 239 || i === setup.minutes - 1) {
      o.onProgress?.({ phase: o.name, done: i + 1, total: setup.minutes });
      // Let timers (progress output, signals) run during long replays.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  const podHours = podSeconds / 3600;
  const pcHours = pcMinutes / 60;
  return {
    coldStartShare: invocations > 0 ? cold / invocations : 0,
    coldStarts: cold,
    invocations,
    underProvisionedMinutes: under,
    podHours,
    pcHours,
    cost: podHours * s.prices.podHour + pcHours * s.prices.pcHour,
    costVsOracle: null,
    replaySeconds: (performance.now() - t0) / 1000,
    replayCpuSeconds: cpuSeconds(process.cpuUsage(cpu0)),
    timeline: tl,
  };
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

/** The scores without the time series: what `--json` prints. */
export function summarize(r: BacktestResult): {
  from: string;
  to: string;
  minutes: number;
  model: string | null;
  fitSeconds: number | null;
  strategies: Partial<Record<StrategyName, StrategyScores>>;
} {
  const strategies: Partial<Record<StrategyName, StrategyScores>> = {};
  for (const name of STRATEGIES) {
    const x = r.strategies[name];
    if (!x) continue;
    const { timeline: _timeline, ...scores } = x;
    strategies[name] = scores;
  }
  return { from: new Date(r.fromMs).toISOString(), to: new Date(r.toMs).toISOString(), minutes: r.minutes, model: r.model, fitSeconds: r.fitSeconds, strategies };
}
