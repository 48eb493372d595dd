import type { Clock } from '../util/clock.js';
import { Cycle, type CycleObserver, type Decision, type TargetRuntime } from './cycle.js';
import { ModelLifecycle } from './lifecycle.js';
import type { ModelProvider } from './model-provider.js';
import type { StateStore } from './state.js';
import { TargetState } from './target-state.js';

export type { CycleObserver, Decision, TargetRuntime } from './cycle.js';
export { implausibility, latestObserved } from './cycle.js';
export { asRates } from './target-state.js';

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
  /** Time budget of a retrain's history read. */
  readonly retrainHistoryTimeoutMs?: number;
}

/**
 * The live service: the per-target state (src/service/target-state.ts), the cycle that reads, forecasts, plans
 * and actuates (cycle.ts, which the backtest runs too), and the model lifecycle that loads and retrains
 * (lifecycle.ts). This class only holds the three together and takes the admin overrides.
 */
export class PrescaleService {
  private readonly states: readonly TargetState[];
  private readonly byName: ReadonlyMap<string, TargetState>;
  private readonly cycle: Cycle;
  private readonly lifecycle: ModelLifecycle;

  constructor(private readonly o: ServiceOptions) {
    this.states = o.targets.map((t) => new TargetState(t));
    this.byName = new Map(this.states.map((s) => [s.name, s]));
    this.cycle = new Cycle({ ...o, mayActuate: () => o.isLeader() });
    this.lifecycle = new ModelLifecycle({ clock: o.clock, models: o.models, historyTimeoutMs: o.retrainHistoryTimeoutMs });
  }

  get targets(): readonly TargetRuntime[] {
    return this.o.targets;
  }

  /** True when every target has a model (for /readyz). */
  modelsReady(): boolean {
    return this.states.every((s) => s.model !== undefined);
  }

  /** Loads saved models; targets without one are trained from their history. */
  loadModels(): Promise<void> {
    return this.lifecycle.loadAll(this.states);
  }

  /** Trains a new model per target and keeps it only if it scores at least as well on the last day. */
  retrainAll(): Promise<void> {
    return this.lifecycle.retrainAll(this.states);
  }

  /** One cycle over all targets: never throws; returns the decisions. */
  runCycle(): Promise<Decision[]> {
    return this.cycle.run(this.states);
  }

  pause(target: string, untilMs: number): void {
    this.mustState(target).pausedUntilMs = untilMs;
  }
  pin(target: string, minCapacity: number, untilMs: number): void {
    this.mustState(target).pin = { minCapacity, untilMs };
  }

  private mustState(name: string): TargetState {
    const s = this.byName.get(name);
    if (!s) throw new Error(`unknown target ${name}`);
    return s;
  }
}
