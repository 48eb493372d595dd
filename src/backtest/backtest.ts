import { performance } from 'node:perf_hooks';
import { configSchema, type Config, type TargetConfig } from '../config/schema.js';
import { neutralise } from '../events/event-forecaster.js';
import type { CalendarEvent } from '../events/events.js';
import type { CalendarMode } from '../events/calendar-model.js';
import type { UpliftProfile } from '../events/uplift.js';
import { pointForecast, type Forecaster, type QuantileForecast } from '../forecast/forecaster.js';
import { servedQpsReader } from '../metrics-api/served.js';
import { loadTargetEvents } from '../service/calendar.js';
import { Cycle, type Decision, type TargetRuntime } from '../service/cycle.js';
import type { LoadedModel } from '../service/model-provider.js';
import { trainingSeries } from '../service/models.js';
import { StateStore } from '../service/state.js';
import { TargetState } from '../service/target-state.js';
import { createActuator } from '../service/wiring.js';
import { endMs, resampleMean, sliceByTime, type Series } from '../series/series.js';
import type { LambdaMinute } from '../sim/lambda.js';
import { SimulatedWorld, addTargetTo, cloneSetId, lambdaResourceId, type PodMinute, type WorldParams } from '../sim/world.js';
import { TraceSource, recordedLoad } from '../sources/trace.js';
import { DAY_MS, MINUTE_MS, ManualClock } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { scenarioEvents, scenarioFaults, type Scenario } from './scenario.js';

/**
 * Replays a recorded load over [from, to) on a simulated clock, once per strategy, and scores what each would
 * have cost and missed. The predictive strategies run the service's own per-target cycle (src/service/cycle.ts)
 * every simulated minute: read history, forecast through the calendar, plausibility check, quality gate and
 * fallback, plan, and the real actuators, which write to a simulated AWS and Kubernetes (src/sim/world.ts). The
 * simulated HPA reads `prescale-qps` as the metrics API serves it. Nothing of the cycle is copied here: what
 * differs between strategies is only the model (trained before `from`, or the actual future for the oracle).
 */

/** `predictive+calendar` is `predictive` with the promo calendar as the target's known events (`--events`). */
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
  /** A model for `predictive`: fitted here on the history before `fromMs`, as the service trains it. */
  readonly forecaster?: Forecaster;
  /**
   * The promo calendar for `predictive+calendar`: the target's known events, and its model, fitted as the
   * service's retrain fits it (mode `inputs`: on the raw history, the LSTM reading the calendar; `uplift`: on the
   * history with event windows neutralised, the cycle lifting its forecasts by the learned uplift).
   */
  readonly calendar?: { readonly events: readonly CalendarEvent[]; readonly forecaster: Forecaster; readonly mode: CalendarMode; readonly prefitted?: boolean };
  /** `forecaster` is already fitted on `backtestTraining(...)` (a bench reusing its model): not fitted again. */
  readonly prefitted?: boolean;
  /**
   * A service configuration and one of its targets to replay instead of the target the scenario describes: its
   * forecast settings, actuators (one CloneSet and/or one Lambda alias) and events, and the metrics API's staleness.
   */
  readonly config?: { readonly config: Config; readonly target: string };
  /** Default: all (predictive only with a forecaster, predictive+calendar only with a calendar). */
  readonly strategies?: readonly StrategyName[];
  /** Keep every cycle's decisions and served values in the result (`cycles`). */
  readonly record?: boolean;
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
  /** The cycle's planned pods and PC for the minute (NaN for reactive). */
  readonly plannedPods: Float64Array;
  readonly plannedPc: Float64Array;
}

/** What one cycle of the replay decided and served: what `serve` on the same minutes decides and serves. */
export interface CycleRecord {
  readonly atMs: number;
  readonly decisions: readonly Decision[];
  /** `prescale-qps` as the metrics API serves it right after the cycle, per CloneSet actuator id (null: not servable). */
  readonly served: Readonly<Record<string, number | null>>;
}

export interface StrategyScores {
  /** Cold starts ÷ invocations over the window. */
  readonly coldStartShare: number;
  readonly coldStarts: number;
  readonly invocations: number;
  /** Minutes whose demand exceeded ready pods x pods.qpsPerReplica. */
  readonly underProvisionedMinutes: number;
  /** Minutes the cycle was in fallback (history unavailable or stale, forecast failed or implausible). */
  readonly fallbackMinutes: number;
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
  /** With `record`: every cycle, for the predictive strategies. */
  readonly cycles?: readonly CycleRecord[];
  /** The uplift per tag the cycle's calendar learned (predictive+calendar in uplift mode). */
  readonly learned?: ReadonlyMap<string, UpliftProfile>;
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

/** The names the scenario's own target uses for its CloneSet and Lambda alias. */
const SCENARIO_TARGET = { name: 'backtest', namespace: 'backtest', cloneset: 'pods', function: 'backtest', qualifier: 'live' } as const;

/** The service target a scenario describes: one CloneSet behind an HPA and one Lambda alias, planned as configured. */
export function scenarioTarget(s: Scenario, model: TargetConfig['forecast']['model'] = 'auto'): Config {
  const p = s.predictive;
  return configSchema.parse({
    simulated: true,
    targets: [
      {
        name: SCENARIO_TARGET.name,
        history: { source: 'csv', path: '(backtest trace)', unit: 'per-second', days: p.historyDays },
        forecast: { horizonMinutes: p.horizonMinutes, quantile: p.quantile, model, stepMinutes: p.stepMinutes, maxHistoryAgeMinutes: p.maxHistoryAgeMinutes },
        actuators: [
          {
            kind: 'cloneset',
            namespace: SCENARIO_TARGET.namespace,
            name: SCENARIO_TARGET.cloneset,
            mode: 'external-metric',
            // The planner sizes pods on the HPA's own target, so its replicas and the HPA's agree at equal load.
            qpsPerReplica: s.pods.hpa.targetAverageValue,
            min: s.pods.min,
            max: s.pods.max,
            leadMinutes: p.podLeadMinutes,
            scaleDownDelayMinutes: p.scaleDownDelayMinutes,
            ...(s.pods.maxStepUp !== undefined ? { maxStepUp: s.pods.maxStepUp } : {}),
          },
          {
            kind: 'lambda-provisioned-concurrency',
            function: SCENARIO_TARGET.function,
            qualifier: SCENARIO_TARGET.qualifier,
            meanDurationMs: s.lambda.meanDurationMs,
            targetUtilization: s.lambda.targetUtilization,
            min: s.lambda.min,
            max: s.lambda.max,
            leadMinutes: p.pcLeadMinutes,
            scaleDownDelayMinutes: p.scaleDownDelayMinutes,
            ...(s.lambda.maxStepUp !== undefined ? { maxStepUp: s.lambda.maxStepUp } : {}),
          },
        ],
      },
    ],
  });
}

/** The simulated world's physics from a scenario. */
export function scenarioWorld(s: Scenario): WorldParams {
  return {
    podReadySeconds: s.pods.readySeconds,
    hpaBehavior: s.pods.hpa.behavior,
    hpaTolerance: s.pods.hpa.tolerance,
    lambdaAllocationSeconds: s.lambda.allocationSeconds,
    lambdaTargetTracking: s.lambda.targetTracking,
  };
}

/** The series a model of the replayed target is trained on: its `history.days` before `fromMs`, prepared as the service's training prepares it. */
export function backtestTraining(minuteSeries: Series, o: { fromMs: number; target: TargetConfig; calendar?: BacktestOptions['calendar'] }): Series {
  let history = sliceByTime(minuteSeries, Math.max(minuteSeries.startMs, o.fromMs - o.target.history.days * DAY_MS), o.fromMs);
  // As the service's retrain: a model given the calendar as inputs learns from the raw history, any other from normal load.
  if (o.calendar && o.calendar.mode !== 'inputs' && o.calendar.events.length > 0) history = neutralise(history, o.calendar.events);
  return trainingSeries(history, o.target.forecast.stepMinutes * MINUTE_MS);
}

interface Prepared {
  /** The trace per minute, gaps as NaN: what the history source reveals. */
  readonly raw: Series;
  readonly fromMs: number;
  readonly minutes: number;
  readonly gapMinutes: number;
  readonly config: Config;
  readonly target: TargetConfig;
  /** The recorded load at a time, gaps interpolated: the world's reality. */
  readonly trace: { loadAt(tMs: number): number };
}

/** Checks the window against the trace and derives what the replays share. */
function prepare(o: BacktestOptions): Prepared {
  const raw = toMinuteSeries(o.series);
  const fromMs = Math.ceil(o.fromMs / MINUTE_MS) * MINUTE_MS;
  const first = Math.round((fromMs - raw.startMs) / MINUTE_MS);
  const minutes = Math.floor((o.toMs - fromMs) / MINUTE_MS);
  const iso = (t: number): string => new Date(t).toISOString();
  if (first < 1) throw new InputError(`backtest: --from ${iso(fromMs)} must be after the trace start ${iso(raw.startMs)} (the replay needs history before it)`);
  if (minutes < 1 || first + minutes > raw.values.length) {
    throw new InputError(`backtest: the window ${iso(fromMs)} .. ${iso(o.toMs)} must be non-empty and inside the trace (${iso(raw.startMs)} .. ${iso(endMs(raw))})`);
  }
  if (!raw.values.some((v) => !Number.isNaN(v))) throw new InputError('backtest: the trace has no values at all, only gaps');
  let gapMinutes = 0;
  for (let i = first; i < first + minutes; i++) if (Number.isNaN(raw.values[i])) gapMinutes++;
  const config = o.config?.config ?? scenarioTarget(o.scenario);
  const targetName = o.config?.target ?? SCENARIO_TARGET.name;
  const target = config.targets.find((t) => t.name === targetName);
  if (!target) throw new InputError(`backtest: the configuration has no target "${targetName}"; its targets are ${config.targets.map((t) => t.name).join(', ')}`);
  checkReplayable(target);
  return { raw, fromMs, minutes, gapMinutes, config, target, trace: { loadAt: recordedLoad(raw) } };
}

/** The scoring needs at most one CloneSet and one Lambda alias per target. */
function checkReplayable(t: TargetConfig): void {
  for (const kind of ['cloneset', 'lambda-provisioned-concurrency'] as const) {
    const n = t.actuators.filter((a) => a.kind === kind).length;
    if (n > 1) throw new InputError(`backtest: target "${t.name}" has ${n} actuators of kind ${kind}; a replay scores at most one of each kind`);
  }
}

/** Perfect foresight: the recorded future at the model's step, as a point forecast from the end of the context. */
class OracleForecaster implements Forecaster {
  readonly name = 'oracle';
  readonly minTrainLength = 0;
  readonly probabilistic = false;
  constructor(private readonly trace: { loadAt(tMs: number): number }) {}
  fit(): Promise<void> {
    return Promise.resolve();
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    if (!context) throw new Error('oracle: predict needs the context');
    const start = endMs(context);
    const step = context.stepMs;
    const perMinute = Math.max(1, Math.round(step / MINUTE_MS));
    const row = Array.from({ length: horizon }, (_, h) => {
      let sum = 0;
      for (let k = 0; k < perMinute; k++) sum += this.trace.loadAt(start + h * step + k * MINUTE_MS);
      return sum / perMinute;
    });
    return pointForecast(start, step, row);
  }
}

function loaded(f: Forecaster, stepMs: number, atMs: number): LoadedModel {
  return { forecaster: f, stepMs, info: { kind: f.name, trainedAtMs: atMs, backend: 'n/a', scores: {} } };
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestResult> {
  const prep = prepare(o);
  const wanted = o.strategies ?? STRATEGIES.filter((n) => (n !== 'predictive' || o.forecaster) && (n !== 'predictive+calendar' || o.calendar));
  const models: Partial<Record<StrategyName, LoadedModel>> = {};
  let fitSeconds: number | null = null;
  if (wanted.includes('predictive')) {
    if (!o.forecaster) throw new InputError('backtest: the predictive strategy needs a model');
    const t0 = performance.now();
    models.predictive = await fitModel(o, { forecaster: o.forecaster, prefitted: o.prefitted }, prep, undefined);
    fitSeconds = (performance.now() - t0) / 1000;
  }
  if (wanted.includes('predictive+calendar')) {
    if (!o.calendar) throw new InputError('backtest: the predictive strategies need a model (predictive+calendar: a calendar, --events)');
    models['predictive+calendar'] = await fitModel(o, o.calendar, prep, o.calendar);
  }
  models.oracle = loaded(new OracleForecaster(prep.trace), MINUTE_MS, prep.fromMs);
  const strategies: Partial<Record<StrategyName, StrategyResult>> = {};
  for (const name of STRATEGIES.filter((n) => wanted.includes(n))) {
    strategies[name] = await replay({ name, prep, scenario: o.scenario, model: models[name], events: eventsOf(name, prep.target, o), record: o.record === true, onProgress: o.onProgress });
  }
  const demand = Float64Array.from({ length: prep.minutes }, (_, i) => prep.trace.loadAt(prep.fromMs + i * MINUTE_MS));
  return {
    fromMs: prep.fromMs,
    toMs: prep.fromMs + prep.minutes * MINUTE_MS,
    minutes: prep.minutes,
    gapMinutes: prep.gapMinutes,
    model: o.forecaster && wanted.includes('predictive') ? o.forecaster.name : null,
    fitSeconds,
    demand,
    pcNeeded: demand.map((q) => (q * o.scenario.lambda.meanDurationMs) / 1000),
    strategies: withCostVsOracle(strategies),
  };
}

/** The target's known events in a strategy: the configured ones (or the scenario's), the calendar's for predictive+calendar. */
function eventsOf(name: StrategyName, target: TargetConfig, o: BacktestOptions): TargetRuntime['events'] {
  // The oracle already sees every event in its perfect forecast; a floor or multiplier on top would count it twice.
  if (name === 'oracle' || name === 'reactive') return [];
  const base = o.config ? loadTargetEvents(target, `${target.name}.eventsFile`) : scenarioEvents(o.scenario);
  if (name !== 'predictive+calendar' || !o.calendar) return base;
  return [...base, ...o.calendar.events];
}

async function fitModel(o: BacktestOptions, m: { forecaster: Forecaster; prefitted?: boolean }, prep: Prepared, calendar: BacktestOptions['calendar']): Promise<LoadedModel> {
  const stepMs = prep.target.forecast.stepMinutes * MINUTE_MS;
  const f = m.forecaster;
  if (!m.prefitted) {
    o.onProgress?.({ phase: 'fit', done: 0, total: 1 });
    await f.fit(backtestTraining(prep.raw, { fromMs: prep.fromMs, target: prep.target, calendar }));
    o.onProgress?.({ phase: 'fit', done: 1, total: 1 });
  }
  return loaded(f, stepMs, prep.fromMs);
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

interface ReplayOptions {
  readonly name: StrategyName;
  readonly prep: Prepared;
  readonly scenario: Scenario;
  /** Undefined: reactive (prescale does not run). */
  readonly model: LoadedModel | undefined;
  readonly events: TargetRuntime['events'];
  readonly record: boolean;
  readonly onProgress?: (p: BacktestProgress) => void;
}

/** The simulated world for one replay, with the target's CloneSet and Lambda alias in it. */
function worldFor(o: ReplayOptions, clock: ManualClock, store: StateStore): SimulatedWorld {
  const { prep } = o;
  const { staleAfterSeconds, stale } = prep.config.metricsApi;
  const world = new SimulatedWorld({ clock, params: scenarioWorld(o.scenario), demand: (_target, t) => prep.trace.loadAt(t), served: servedQpsReader(store, { staleAfterSeconds, stale }), keepMinutes: true });
  addTargetTo(world, prep.target, { predictive: o.model !== undefined });
  return world;
}

/** What the replay's cycle runs: the target as the service would run it, on the simulated world. */
function cycleFor(o: ReplayOptions, clock: ManualClock, store: StateStore, world: SimulatedWorld): { cycle: Cycle; state: TargetState } | undefined {
  if (!o.model) return undefined;
  const { prep } = o;
  const runtime: TargetRuntime = {
    config: prep.target,
    source: new TraceSource({ trace: prep.raw, clock, description: 'backtest trace', faults: scenarioFaults(o.scenario) }),
    actuators: prep.target.actuators.map((a) => createActuator(a, { clients: { scaling: world, kube: world, description: 'simulated' }, quantile: prep.target.forecast.quantile })),
    events: o.events,
  };
  const state = new TargetState(runtime);
  state.replaceModel(o.model);
  // No time limit: the simulated clock does not move during a cycle, and a slow model only makes the replay slower.
  const cycle = new Cycle({ clock, store, dryRun: false, mayActuate: () => true, targetTimeoutMs: 2 ** 31 - 1, concurrency: 1 });
  return { cycle, state };
}

function newTimeline(n: number): StrategyTimeline {
  const f = (): Float64Array => new Float64Array(n);
  return { readyPods: f(), pods: f(), pcReady: f(), pcDesired: f(), coldStarts: f(), plannedPods: f().fill(NaN), plannedPc: f().fill(NaN) };
}

async function replay(o: ReplayOptions): Promise<StrategyResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { prep } = o;
  const clock = new ManualClock(prep.fromMs);
  const store = new StateStore();
  const world = worldFor(o, clock, store);
  const run = cycleFor(o, clock, store, world);
  const tl = newTimeline(prep.minutes);
  const cycles: CycleRecord[] = [];
  let fallbackMinutes = 0;
  for (let i = 0; i < prep.minutes; i++) {
    const t = prep.fromMs + i * MINUTE_MS;
    clock.set(t);
    world.advanceTo(t);
    if (run) {
      const decisions = await run.cycle.run([run.state]);
      if (decisions.some((d) => d.fallback !== null)) fallbackMinutes++;
      notePlanned(tl, i, decisions);
      if (o.record) cycles.push({ atMs: t, decisions, served: servedNow(store, prep, t) });
    }
    if (i % 240 === 239 || i === prep.minutes - 1) {
      o.onProgress?.({ phase: o.name, done: i + 1, total: prep.minutes });
      // Let timers (progress output, signals) run during long replays.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  clock.set(prep.fromMs + prep.minutes * MINUTE_MS);
  world.advanceTo(clock.now());
  const learned = run?.state.calendar.learned;
  return {
    ...score(o, world, tl, fallbackMinutes),
    replaySeconds: (performance.now() - t0) / 1000,
    replayCpuSeconds: cpuSeconds(process.cpuUsage(cpu0)),
    timeline: tl,
    ...(o.record ? { cycles } : {}),
    ...(learned ? { learned } : {}),
  };
}

/** The minute's planned pods and provisioned concurrency, for the report. */
function notePlanned(tl: StrategyTimeline, i: number, decisions: readonly Decision[]): void {
  for (const d of decisions) {
    if (d.actuator.startsWith('cloneset:')) tl.plannedPods[i] = d.plannedCapacity;
    else tl.plannedPc[i] = d.plannedCapacity;
  }
}

/** `prescale-qps` per CloneSet actuator as the metrics API would serve it at `t`. */
function servedNow(store: StateStore, prep: Prepared, t: number): Record<string, number | null> {
  const read = servedQpsReader(store, prep.config.metricsApi);
  const out: Record<string, number | null> = {};
  for (const a of store.get(prep.target.name)?.actuators ?? []) if (a.kind === 'cloneset') out[a.id] = read(prep.target.name, a.id, t) ?? null;
  return out;
}

/** Scores the world's minutes: cold starts, under-provisioned minutes, pod and PC hours, cost. */
function score(o: ReplayOptions, world: SimulatedWorld, tl: StrategyTimeline, fallbackMinutes: number): Omit<StrategyScores, 'replaySeconds' | 'replayCpuSeconds'> {
  const { prep, scenario: s } = o;
  const cs = prep.target.actuators.find((a) => a.kind === 'cloneset');
  const fn = prep.target.actuators.find((a) => a.kind === 'lambda-provisioned-concurrency');
  const pods: readonly PodMinute[] = cs?.kind === 'cloneset' ? world.podMinutes(cloneSetId(cs.namespace, cs.name)) : [];
  const pcs: readonly LambdaMinute[] = fn?.kind === 'lambda-provisioned-concurrency' ? world.lambdaMinutes(lambdaResourceId(fn.function, fn.qualifier)) : [];
  let podSeconds = 0;
  let under = 0;
  let pcMinutes = 0;
  let cold = 0;
  let invocations = 0;
  for (let i = 0; i < prep.minutes; i++) {
    const p = pods[i];
    if (p) {
      podSeconds += p.podSeconds;
      tl.readyPods[i] = p.readyPods;
      tl.pods[i] = p.pods;
      if (prep.trace.loadAt(p.atMs) > p.readyPods * s.pods.qpsPerReplica * (1 + 1e-9)) under++;
    }
    const l = pcs[i];
    if (l) {
      cold += l.coldStarts;
      invocations += l.invocations;
      pcMinutes += l.desired;
      tl.pcReady[i] = l.ready;
      tl.pcDesired[i] = l.desired;
      tl.coldStarts[i] = l.coldStarts;
    }
  }
  const podHours = podSeconds / 3600;
  const pcHours = pcMinutes / 60;
  return {
    coldStartShare: invocations > 0 ? cold / invocations : 0,
    coldStarts: cold,
    invocations,
    underProvisionedMinutes: under,
    fallbackMinutes,
    podHours,
    pcHours,
    cost: podHours * s.prices.podHour + pcHours * s.prices.pcHour,
    costVsOracle: null,
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
    const { timeline: _timeline, cycles: _cycles, learned: _learned, ...scores } = x;
    strategies[name] = scores;
  }
  return { from: new Date(r.fromMs).toISOString(), to: new Date(r.toMs).toISOString(), minutes: r.minutes, model: r.model, fitSeconds: r.fitSeconds, strategies };
}
