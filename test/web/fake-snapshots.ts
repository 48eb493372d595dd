import type { ActionRecord } from '../../src/actuators/actuator.js';
import type { PlanPoint } from '../../src/plan/planner.js';
import type { TargetSnapshot } from '../../src/service/state.js';

export const MIN = 60_000;
/** 2026-01-05T12:00:00Z: a fixed "now" so every count below is exact. */
export const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);

export interface FakeOptions {
  readonly name: string;
  /** Minutes of history ending at NOW (one point a minute). */
  readonly historyMinutes: number;
  /** Indices of history points that are gaps (NaN). */
  readonly gaps?: readonly number[];
  /** Steps of the live forecast (one a minute, starting at NOW); 0 for none. */
  readonly horizon: number;
  /** Past forecast points, one a minute ending at NOW. */
  readonly pastForecastMinutes: number;
  readonly base: number;
  readonly fallback?: string;
  readonly withModel?: boolean;
  /** false: the model had no band check (a forced model). */
  readonly band?: false;
  readonly actions?: readonly ActionRecord[];
}

/** A snapshot with known sizes: a daily-ish sine around `base` QPS, p90 = 1.2 p50, p99 = 1.5 p50. */
export function fakeSnapshot(o: FakeOptions): TargetSnapshot {
  const wave = (t: number): number => o.base * (1 + 0.5 * Math.sin((2 * Math.PI * t) / (24 * 60 * MIN)));
  const start = NOW - o.historyMinutes * MIN;
  const history = Float64Array.from({ length: o.historyMinutes }, (_, i) => wave(start + i * MIN));
  for (const g of o.gaps ?? []) history[g] = NaN;
  const p50 = Float64Array.from({ length: o.horizon }, (_, h) => wave(NOW + h * MIN));
  const schedule: PlanPoint[] = Array.from({ length: Math.max(1, o.horizon) }, (_, h) => ({
    atMs: NOW + h * MIN,
    qps: wave(NOW + h * MIN) * 1.2,
    capacity: Math.ceil((wave(NOW + h * MIN) * 1.2) / 10),
    reason: h === 0 ? 'reactive-floor' : 'forecast',
  }));
  return {
    name: o.name,
    updatedAtMs: NOW,
    forecastAtMs: o.horizon > 0 ? NOW : undefined,
    observedQps: o.historyMinutes > 0 ? history[o.historyMinutes - 1] : NaN,
    history: { startMs: start, stepMs: MIN, values: history },
    forecast:
      o.horizon > 0
        ? {
            startMs: NOW,
            stepMs: MIN,
            horizon: o.horizon,
            probabilistic: true,
            values: [p50, p50.map((v) => v * 1.2), p50.map((v) => v * 1.5)],
          }
        : undefined,
    pastForecasts: Array.from({ length: o.pastForecastMinutes }, (_, i) => {
      const atMs = NOW - (o.pastForecastMinutes - i) * MIN;
      return { atMs, p50: wave(atMs) * 1.05, p90: wave(atMs) * 1.25 };
    }),
    actuators:
      o.horizon > 0
        ? [
            {
              id: `cloneset:shop/${o.name}`,
              kind: 'cloneset',
              namespace: 'shop',
              name: o.name,
              qpsPerReplica: 10,
              plannedQps: schedule[0].qps,
              plannedCapacity: schedule[0].capacity,
              currentCapacity: schedule[0].capacity - 1,
              schedule,
            },
          ]
        : [],
    model: o.withModel
      ? {
          kind: 'lstm',
          trainedAtMs: NOW - 3600_000,
          backend: 'wasm',
          scores: { lstm: { mase: 0.61, coverage90: 0.88 }, 'seasonal-naive': { mase: 1, coverage90: null } },
          liveMase: 0.7,
          ...(o.band === false ? {} : { band: { exponent: 1.2, holdoutUfrBefore: 0.16, holdoutUfrAfter: 0.09 } }),
        }
      : undefined,
    fallback: { active: o.fallback !== undefined, reason: o.fallback },
    paused: false,
    actions: o.actions ?? [],
  };
}

export function action(o: Partial<ActionRecord> & { atMs: number; target: string }): ActionRecord {
  return { actuator: 'cloneset:shop/x', action: 'patch-scale', result: 'ok', detail: 'replicas 3 -> 5', ...o };
}
