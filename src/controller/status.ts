import type { TargetConfig } from '../config/schema.js';
import type { Condition, ConditionType, PredictiveScalerStatus } from '../crd/predictive-scaler.js';
import { quantileRow } from '../forecast/forecaster.js';
import type { ActuatorSnapshot, TargetSnapshot } from '../service/state.js';

/**
 * A PredictiveScaler's status from what the service knows of its target: metav1.Conditions (Ready,
 * ForecastReady, Fallback, Paused) with reason, message and observedGeneration, the model and its holdout
 * score, the last forecast's window peak, and each capacity target's plan. Pure: the controller writes it.
 */

export interface StatusInput {
  readonly generation: number;
  readonly nowMs: number;
  /** The spec's first problem, when the current generation is invalid. */
  readonly invalid?: { readonly field: string; readonly message: string };
  /** The generation the running target was built from, when one runs (an invalid edit keeps the last valid one). */
  readonly runningGeneration?: number;
  readonly target?: TargetConfig;
  readonly snapshot?: TargetSnapshot;
  /** Why an owned object (the HPA) could not be made as the spec says, or undefined. */
  readonly ownedProblem?: { readonly reason: string; readonly message: string };
  /** The HPA owned for each actuator id, in external-metric mode. */
  readonly hpas: ReadonlyMap<string, string>;
  readonly pausedBy?: 'annotation' | 'preview';
  /** The spec's mode, of the generation running (absent when none is). */
  readonly mode?: 'Auto' | 'Preview';
  readonly previous?: PredictiveScalerStatus;
}

type CondFacts = Pick<Condition, 'status' | 'reason' | 'message'>;

export function statusOf(i: StatusInput): PredictiveScalerStatus {
  const snap = i.snapshot;
  const facts: Record<ConditionType, CondFacts> = {
    Ready: readyFacts(i),
    ForecastReady: forecastFacts(i),
    Fallback: fallbackFacts(snap),
    Paused: pausedFacts(i.pausedBy),
  };
  const conditions = (Object.keys(facts) as ConditionType[]).map((type) => condition(type, facts[type], i));
  const capacity = snap ? snap.actuators.map((a) => capacityOf(a, i.hpas.get(a.id), i.nowMs)) : [];
  const firstScale = snap?.actuators.find((a) => a.kind === 'cloneset');
  return {
    observedGeneration: i.generation,
    ...(i.mode ? { mode: i.pausedBy === 'annotation' ? 'Paused' : i.mode } : {}),
    conditions,
    ...(snap?.model ? { model: modelOf(snap) } : {}),
    ...(snap?.forecast && snap.forecastAtMs !== undefined ? { forecast: windowPeak(snap) } : {}),
    capacity,
    ...(firstScale ? { plannedReplicas: firstScale.plannedCapacity } : {}),
  };
}

/** Keeps a condition's lastTransitionTime while its status is unchanged (metav1.Condition semantics). */
function condition(type: ConditionType, f: CondFacts, i: StatusInput): Condition {
  const before = i.previous?.conditions.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === f.status ? before.lastTransitionTime : new Date(i.nowMs).toISOString();
  return { type, status: f.status, observedGeneration: i.generation, lastTransitionTime, reason: f.reason, message: f.message.slice(0, 32768) };
}

function readyFacts(i: StatusInput): CondFacts {
  if (i.invalid) {
    const still = i.runningGeneration !== undefined ? `; still running generation ${i.runningGeneration}` : '';
    return { status: 'False', reason: 'InvalidSpec', message: `${i.invalid.field}: ${i.invalid.message}${still}` };
  }
  if (i.ownedProblem) return { status: 'False', reason: i.ownedProblem.reason, message: i.ownedProblem.message };
  if (!i.snapshot) return { status: 'False', reason: 'Pending', message: 'added; waiting for its first cycle' };
  return { status: 'True', reason: i.pausedBy === 'preview' ? 'Previewing' : 'Planning', message: 'planned every cycle (status.forecast.at: the last forecast)' };
}

function forecastFacts(i: StatusInput): CondFacts {
  const s = i.snapshot;
  if (!s) return { status: 'Unknown', reason: 'Pending', message: 'no cycle has run for this target yet' };
  if (s.fallback.active || !s.forecast) {
    if (!s.model) return { status: 'False', reason: 'ModelTraining', message: `no model yet (loading or training one from the history): ${s.fallback.reason ?? 'no forecast'}` };
    return { status: 'False', reason: 'Fallback', message: s.fallback.reason ?? 'no forecast' };
  }
  const peak = windowPeak(s);
  if (!s.model) {
    return { status: 'True', reason: 'SeasonalBaseline', message: `no model yet (training); the seasonal baseline forecasts meanwhile: next ${peak.windowMinutes} min peak p50 ${peak.peakP50}, p90 ${peak.peakP90} QPS` };
  }
  const by = s.qualityGate?.active ? 'the seasonal baseline (the model did worse than it lately)' : `model ${s.model.kind}`;
  return {
    status: 'True',
    reason: s.qualityGate?.active ? 'SeasonalBaseline' : 'ModelForecast',
    message: `forecast by ${by}: next ${peak.windowMinutes} min peak p50 ${peak.peakP50}, p90 ${peak.peakP90} QPS`,
  };
}

const FALLBACK_REASONS: readonly [RegExp, string][] = [
  [/^history unavailable/, 'HistoryUnavailable'],
  [/^no observed load/, 'HistoryStale'],
  [/^no model yet/, 'NoModel'],
  [/^forecast failed/, 'ForecastFailed'],
  [/baseline/, 'BaselineFailed'],
];

function fallbackFacts(s: TargetSnapshot | undefined): CondFacts {
  if (!s) return { status: 'Unknown', reason: 'Pending', message: 'no cycle has run for this target yet' };
  if (!s.fallback.active) return { status: 'False', reason: 'ForecastInUse', message: 'capacity follows the forecast' };
  const why = s.fallback.reason ?? 'unknown';
  const reason = FALLBACK_REASONS.find(([re]) => re.test(why))?.[1] ?? 'ImplausibleForecast';
  return { status: 'True', reason, message: `holding capacity and serving observed load: ${why}` };
}

function pausedFacts(by: StatusInput['pausedBy']): CondFacts {
  if (by === 'annotation') return { status: 'True', reason: 'Annotation', message: 'annotated prescale.io/paused: "true": forecasts, changes nothing' };
  if (by === 'preview') return { status: 'True', reason: 'Preview', message: 'mode Preview: forecasts and reports, changes nothing' };
  return { status: 'False', reason: 'Active', message: 'actuating' };
}

function modelOf(s: TargetSnapshot): NonNullable<PredictiveScalerStatus['model']> {
  const m = s.model!;
  const mase = m.scores[m.kind]?.mase;
  return { kind: m.kind, trainedAt: new Date(m.trainedAtMs).toISOString(), ...(typeof mase === 'number' && Number.isFinite(mase) ? { holdoutMase: round(mase, 4) } : {}) };
}

/** p50 and p90 of the peak over the forecast's window (the max of each quantile row). */
export function windowPeak(s: TargetSnapshot): NonNullable<PredictiveScalerStatus['forecast']> {
  const f = s.forecast!;
  const peak = (q: number): number => round(Math.max(...quantileRow(f, q)), 1);
  return {
    at: new Date(s.forecastAtMs ?? s.updatedAtMs).toISOString(),
    windowMinutes: Math.max(1, Math.round((f.horizon * f.stepMs) / 60_000)),
    peakP50: peak(0.5),
    peakP90: peak(0.9),
  };
}

function capacityOf(a: ActuatorSnapshot, hpa: string | undefined, nowMs: number): PredictiveScalerStatus['capacity'][number] {
  const planned = Number.isFinite(a.plannedCapacity) ? Math.max(0, Math.round(a.plannedCapacity)) : 0;
  const raise = a.schedule.find((p) => p.atMs > nowMs && p.capacity > planned);
  return {
    target: a.kind === 'cloneset' ? `${a.id.split(':')[0]}/${a.name ?? ''}` : a.id,
    planned,
    ...(a.currentCapacity !== undefined && Number.isFinite(a.currentCapacity) ? { current: Math.max(0, Math.round(a.currentCapacity)) } : {}),
    ...(raise ? { nextRaise: { at: new Date(raise.atMs).toISOString(), capacity: raise.capacity } } : {}),
    ...(hpa ? { hpa } : {}),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
