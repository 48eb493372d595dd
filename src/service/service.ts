import type { Clock } from '../util/clock.js';
import { Cycle, type CycleObserver, type Decision, type TargetRuntime } from './cycle.js';
import { ModelLifecycle } from './lifecycle.js';
import type { ModelProvider } from './model-provider.js';
import type { StateStore } from './state.js';
import { TargetState } from './target-state.js';
import { log } from '../obs/log.js';
import { errorMessage } from '../util/errors.js';

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
  /** Every target, in the order added: the config's first, then those the controller adds live. */
  private readonly states = new Map<string, TargetState>();
  /** Targets /readyz waits for (the config's); those added live report their own readiness in their status. */
  private readonly gating = new Set<string>();
  private readonly cycle: Cycle;
  private readonly lifecycle: ModelLifecycle;
  /** Models of targets added live load one at a time, in the background, so many new targets never train at once. */
  private loading: Promise<void> = Promise.resolve();

  constructor(private readonly o: ServiceOptions) {
    for (const t of o.targets) {
      this.states.set(t.config.name, new TargetState(t));
      this.gating.add(t.config.name);
    }
    this.cycle = new Cycle({ ...o, mayActuate: () => o.isLeader() });
    this.lifecycle = new ModelLifecycle({ clock: o.clock, models: o.models, historyTimeoutMs: o.retrainHistoryTimeoutMs });
  }

  get targets(): readonly TargetRuntime[] {
    return [...this.states.values()].map((s) => s.runtime);
  }

  has(name: string): boolean {
    return this.states.has(name);
  }

  /** True when every target of the config has a model (for /readyz). */
  modelsReady(): boolean {
    return [...this.gating].every((n) => this.states.get(n)?.model !== undefined);
  }

  /**
   * Loads the config's targets' saved models; those without one are trained from their history. Targets added live
   * load their own (addTarget), so they are not trained twice.
   */
  loadModels(): Promise<void> {
    return this.lifecycle.loadAll([...this.gating].flatMap((n) => this.states.get(n) ?? []));
  }

  /** Trains a new model per target and keeps it only if it scores at least as well on the last day. */
  retrainAll(): Promise<void> {
    return this.lifecycle.retrainAll([...this.states.values()]);
  }

  /** One cycle over all targets: never throws; returns the decisions. */
  runCycle(): Promise<Decision[]> {
    return this.cycle.run([...this.states.values()]);
  }

  /**
   * Adds a target while the service runs (the PredictiveScaler controller). It takes part from the next cycle on,
   * forecast by the seasonal baseline until its model is loaded or trained; the promise settles when the model is in.
   */
  addTarget(runtime: TargetRuntime): Promise<void> {
    const name = runtime.config.name;
    if (this.states.has(name)) throw new Error(`target ${name} exists already`);
    const st = new TargetState(runtime);
    this.states.set(name, st);
    return this.loadInBackground(st);
  }

  /**
   * Replaces a target's config live. When its history, forecast and events are unchanged, the target keeps its
   * state (model, history cache, planner memory, past forecasts, overrides) and only takes the new actuators and
   * bounds, under its lock: a new bound or lead time needs no retrain. Otherwise it starts again as if added.
   */
  async replaceTarget(runtime: TargetRuntime): Promise<void> {
    const name = runtime.config.name;
    const old = this.states.get(name);
    if (!old) return this.addTarget(runtime);
    const a = old.runtime.config;
    const b = runtime.config;
    if (sameJson([a.history, a.forecast, a.events, a.eventsFile], [b.history, b.forecast, b.events, b.eventsFile])) {
      return old.exclusive(() => Promise.resolve(old.reconfigure(runtime)));
    }
    const next = new TargetState(runtime);
    this.states.set(name, next);
    await old.retire();
    // The saved model was trained on other data (another query, model or step): it must not be loaded back.
    await this.forgetSaved(a);
    await this.loadInBackground(next);
  }

  /** Removes a target: a cycle in flight for it finishes, it is never run again, its model is freed, its metric gone. */
  async removeTarget(name: string): Promise<void> {
    const st = this.states.get(name);
    if (!st) return;
    this.states.delete(name);
    this.gating.delete(name);
    await st.retire();
    this.o.store.delete(name);
    this.o.observer?.onTargetRemoved?.(name);
    await this.forgetSaved(st.runtime.config);
  }

  pause(target: string, untilMs: number): void {
    this.mustState(target).pausedUntilMs = untilMs;
  }
  pin(target: string, minCapacity: number, untilMs: number): void {
    this.mustState(target).pin = { minCapacity, untilMs };
  }

  private async forgetSaved(t: TargetRuntime['config']): Promise<void> {
    try {
      await this.o.models.forget?.(t);
    } catch (err: unknown) {
      log.warn({ target: t.name, err: errorMessage(err) }, 'cannot delete the saved model');
    }
  }

  private loadInBackground(st: TargetState): Promise<void> {
    const run = this.loading.then(() => (st.retired ? undefined : this.lifecycle.load(st)));
    this.loading = run.catch(() => undefined);
    return run;
  }

  private mustState(name: string): TargetState {
    const s = this.states.get(name);
    if (!s) throw new Error(`unknown target ${name}`);
    return s;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
