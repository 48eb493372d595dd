import { capacityFor } from '../plan/planner.js';
import type { ActuatorSnapshot, TargetSnapshot } from '../service/state.js';

/**
 * The value prescale serves for a CloneSet: what the external metrics API, the KEDA endpoint and the backtest's
 * simulated HPA all read. One function, so a replay reads exactly what a live HPA would.
 */

/** What to serve when the forecast is older than `staleAfterSeconds`: the observed load, or a 503 error. */
export type StalePolicy = 'observed' | 'error';

export interface ValueOptions {
  readonly nowMs: number;
  readonly staleAfterSeconds: number;
  readonly stale: StalePolicy;
}

export interface ServedValue {
  readonly qps: number;
  readonly replicas: number;
  /** True when the value is the observed load because the forecast is stale. */
  readonly stale: boolean;
  /** When the value was computed: the forecast time, or the last cycle's time for observed load. */
  readonly atMs: number;
  /** Seconds the value covers: the forecast step, else a minute (the service's cycle). */
  readonly windowSeconds: number;
}

export type ValueResult = { readonly ok: true; readonly value: ServedValue } | { readonly ok: false; readonly message: string };

/**
 * The value served for one actuator of one target, shared by the external metrics API and the KEDA endpoint.
 * A forecast older than `staleAfterSeconds` (or none, or a non-finite plan) is never served as if fresh:
 * per policy it becomes the last observed load (sized by the planner's `capacityFor`) or an error.
 */
export function servedValue(t: TargetSnapshot, a: ActuatorSnapshot, o: ValueOptions): ValueResult {
  const windowSeconds = t.forecast ? Math.max(1, Math.round(t.forecast.stepMs / 1000)) : 60;
  // A paused target (admin pause, the paused annotation, Preview) acts on nothing, and in external-metric mode the
  // HPA acting on the forecast is the actuation: the observed load is served, so the HPA scales reactively only.
  if (t.paused) return observedValue(t, a, `target "${t.name}" is paused`);
  const why = staleReason(t, a, o);
  if (why === undefined && t.forecastAtMs !== undefined) {
    return { ok: true, value: { qps: a.plannedQps, replicas: a.plannedCapacity, stale: false, atMs: t.forecastAtMs, windowSeconds } };
  }
  switch (o.stale) {
    case 'error':
      return { ok: false, message: `${why}; stale: error is configured` };
    case 'observed':
      return observedValue(t, a, why ?? 'no forecast');
    default:
      return assertNever(o.stale);
  }
}

/** The last observed load, sized by the planner's `capacityFor`, served in place of the forecast for `why`. */
function observedValue(t: TargetSnapshot, a: ActuatorSnapshot, why: string): ValueResult {
  if (!Number.isFinite(t.observedQps) || t.observedQps < 0) return { ok: false, message: `${why}, and no observed load is known either` };
  if (a.qpsPerReplica === undefined || !(a.qpsPerReplica > 0)) return { ok: false, message: `${why}, and ${a.id} has no qpsPerReplica to size replicas from observed load` };
  const replicas = capacityFor(t.observedQps, { kind: 'cloneset', qpsPerReplica: a.qpsPerReplica });
  return { ok: true, value: { qps: t.observedQps, replicas, stale: true, atMs: t.updatedAtMs, windowSeconds: 60 } };
}

/** Why the plan cannot be served as fresh, or undefined when it can. */
function staleReason(t: TargetSnapshot, a: ActuatorSnapshot, o: ValueOptions): string | undefined {
  if (t.forecastAtMs === undefined) return `target "${t.name}" has no forecast yet`;
  if (!Number.isFinite(a.plannedQps) || !Number.isFinite(a.plannedCapacity)) return `target "${t.name}" has no finite plan for ${a.id}`;
  const ageMs = o.nowMs - t.forecastAtMs;
  if (ageMs > o.staleAfterSeconds * 1000) return `the forecast of target "${t.name}" is ${Math.round(ageMs / 1000)} s old (staleAfterSeconds ${o.staleAfterSeconds})`;
  return undefined;
}

function assertNever(x: never): never {
  throw new Error(`unhandled case ${String(x)}`);
}


/** What an HPA reading `prescale-qps` gets for one CloneSet actuator at a time: the served QPS, or undefined when it cannot be served. */
export function servedQpsReader(
  store: { get(name: string): TargetSnapshot | undefined },
  o: Omit<ValueOptions, 'nowMs'>,
): (target: string, actuatorId: string, tMs: number) => number | undefined {
  return (target, actuatorId, tMs) => {
    const snap = store.get(target);
    const a = snap?.actuators.find((x) => x.id === actuatorId);
    if (!snap || !a) return undefined;
    const r = servedValue(snap, a, { ...o, nowMs: tMs });
    return r.ok ? r.value.qps : undefined;
  };
}
