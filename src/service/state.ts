import type { QuantileForecast } from '../forecast/forecaster.js';
import type { PlanPoint } from '../plan/planner.js';
import type { Series } from '../series/series.js';
import type { ActionRecord } from '../actuators/actuator.js';
import type { AppliedUplift } from '../events/event-forecaster.js';

/** What the model behind a target is; shown on the dashboard and the API. */
export interface ModelInfo {
  readonly kind: string;
  readonly trainedAtMs: number;
  readonly backend: string;
  /** Holdout scores by method name (MASE etc.), from meta.json. */
  readonly scores: Record<string, Record<string, number | null>>;
  /** Mean absolute scaled error of recent live forecasts, when enough have matured. */
  readonly liveMase?: number;
  /** auto's band check of the model's p90 on its holdout (src/forecast/band.ts), when it had one. */
  readonly band?: { readonly exponent: number; readonly holdoutUfrBefore: number; readonly holdoutUfrAfter: number };
}

export interface ActuatorSnapshot {
  readonly id: string;
  readonly kind: 'lambda-provisioned-concurrency' | 'cloneset';
  /** For CloneSets: where it lives; these become the external metric's labels. */
  readonly namespace?: string;
  readonly name?: string;
  /** For CloneSets: the load one replica serves; sizes replicas from observed load when the forecast is stale. */
  readonly qpsPerReplica?: number;
  readonly plannedQps: number;
  readonly plannedCapacity: number;
  readonly currentCapacity?: number;
  readonly schedule: readonly PlanPoint[];
}

/** Everything the service knows about one target after its last cycle; immutable, replaced each cycle. */
export interface TargetSnapshot {
  readonly name: string;
  /** When the last cycle for this target finished. */
  readonly updatedAtMs: number;
  /** When the forecast in `forecast` was made; undefined when none exists yet. */
  readonly forecastAtMs?: number;
  /** The latest observed QPS (NaN when unknown). */
  readonly observedQps: number;
  /** Recent observed history (QPS) for charts. */
  readonly history: Series;
  readonly forecast?: QuantileForecast;
  /** Past forecasts' p50/p90 for the step they were made for, to draw forecast-vs-actual. */
  readonly pastForecasts: readonly { readonly atMs: number; readonly p50: number; readonly p90: number }[];
  readonly actuators: readonly ActuatorSnapshot[];
  readonly model?: ModelInfo;
  readonly fallback: { readonly active: boolean; readonly reason?: string };
  /** The forecast quality gate: when active, the model did worse than the seasonal baseline and is not acted on. */
  readonly qualityGate?: { readonly active: boolean; readonly steps: number; readonly modelMae: number; readonly baselineMae: number };
  /** Set when the promo calendar lifted the forecast: the event, its tag and the largest learned ratios applied. */
  readonly calendarUplift?: AppliedUplift;
  readonly paused?: boolean;
  readonly actions: readonly ActionRecord[];
}

/** The service writes snapshots; HTTP handlers read them. Reads never block on a cycle. */
export class StateStore {
  private readonly targets = new Map<string, TargetSnapshot>();

  put(s: TargetSnapshot): void {
    this.targets.set(s.name, Object.freeze(s));
  }
  delete(name: string): void {
    this.targets.delete(name);
  }
  get(name: string): TargetSnapshot | undefined {
    return this.targets.get(name);
  }
  list(): TargetSnapshot[] {
    return [...this.targets.values()];
  }
}
