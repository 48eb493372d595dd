import type { TargetConfig } from '../config/schema.js';
import { PAUSED_ANNOTATION, predictiveScalerStatus, type PredictiveScalerSpec, type PredictiveScalerStatus } from '../crd/predictive-scaler.js';
import type { ControllerKubeApi, PsInformer, PsObject } from '../k8s/predictive-scalers.js';
import { log } from '../obs/log.js';
import type { Decision, TargetRuntime } from '../service/cycle.js';
import type { TargetSnapshot } from '../service/state.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { toTarget } from './convert.js';
import { canonical, desiredHpas, ensureHpas } from './hpa.js';
import { statusOf, type StatusInput } from './status.js';

/**
 * The PredictiveScaler controller: watches PredictiveScalers (an informer per namespace, or one cluster-wide,
 * restarted when its watch fails, and a full resync every `resyncSeconds`), and keeps the service's targets equal
 * to them: added, replaced and removed live, with no restart. After every cycle it writes each one's status
 * (conditions, model, forecast, plan) and records Events when a model is chosen, when fallback is entered or
 * left, and when an actuation fails. In external-metric mode it creates and owns the HPA (src/controller/hpa.ts).
 *
 * Every replica watches and runs the targets (so every replica forecasts and serves the metric); only the leader
 * writes status, Events and HPAs, as only the leader actuates.
 */

/** What the controller needs of the service: its live target set (PrescaleService). */
export interface TargetHost {
  has(name: string): boolean;
  addTarget(runtime: TargetRuntime): Promise<void>;
  replaceTarget(runtime: TargetRuntime): Promise<void>;
  removeTarget(name: string): Promise<void>;
}

export interface ControllerOptions {
  readonly api: ControllerKubeApi;
  readonly host: TargetHost;
  readonly store: { get(name: string): TargetSnapshot | undefined };
  /** The target's source and actuators (src/service/wiring.ts); may throw, which the status reports. */
  readonly runtimeOf: (t: TargetConfig) => TargetRuntime;
  readonly isLeader: () => boolean;
  readonly clock: Clock;
  /** Empty: every namespace. */
  readonly namespaces: readonly string[];
  readonly resyncSeconds: number;
  readonly allowLocalFiles: boolean;
  /** `controller.allowAws`. */
  readonly allowAws?: boolean;
  /** First delay before a failed watch is started again; doubles up to a minute. */
  readonly restartDelayMs?: number;
  /** A status that only aged (the same conditions, model, plan and peaks) is written again after this long; default 5 min. */
  readonly statusRefreshMs?: number;
}

interface Tracked {
  obj: PsObject;
  readonly targetName: string;
  /** What the running target was built from; kept when a later edit is invalid. */
  running?: { readonly generation: number; readonly spec: PredictiveScalerSpec; readonly targetJson: string; readonly hpas: Map<string, string> };
  invalid?: { readonly field: string; readonly message: string };
  ownedProblem?: { readonly reason: string; readonly message: string };
  /** The generation and pause annotation last reconciled: a status write's own update event changes neither. */
  seen?: string;
  /** HPAs not yet made as the spec says (a reconcile while not the leader, or a failed write). */
  ensurePending: boolean;
  previous?: PredictiveScalerStatus;
  /** The last status written, less its forecast time, and when. */
  lastStatus?: string;
  writtenAtMs?: number;
  fallback?: boolean;
  modelKey?: string;
  failing?: string;
  invalidEventFor?: number;
}

export class PredictiveScalerController {
  private readonly tracked = new Map<string, Tracked>();
  private readonly informers: PsInformer[] = [];
  private queue: Promise<void> = Promise.resolve();
  private resync?: NodeJS.Timeout;
  private readonly restarts = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly o: ControllerOptions) {}

  /** Starts the watches; resolves once each has listed what exists and those objects are reconciled. */
  async start(): Promise<void> {
    const namespaces = this.o.namespaces.length > 0 ? this.o.namespaces : [undefined];
    for (const ns of namespaces) {
      const inf = this.o.api.informer(ns);
      const backoff = new Backoff(this.o.restartDelayMs ?? 1000, 60_000);
      inf.on('add', (obj) => void this.enqueue(() => this.reconcile(obj, false)));
      inf.on('update', (obj) => void this.enqueue(() => this.reconcile(obj, false)));
      inf.on('delete', (obj) => void this.enqueue(() => this.drop(keyOf(obj))));
      inf.on('error', (err) => this.restartLater(inf, ns, err, backoff));
      this.informers.push(inf);
      // An apiserver that cannot be reached now is tried again (the error handler's restart), not fatal.
      await inf.start().catch((err: unknown) => this.restartLater(inf, ns, err, backoff));
    }
    this.resync = setInterval(() => void this.enqueue(() => this.resyncAll()), this.o.resyncSeconds * 1000);
    this.resync.unref();
    await this.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    for (const t of this.restarts) clearTimeout(t);
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.idle();
  }

  /** Resolves when everything queued so far is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** After each cycle: each PredictiveScaler's status and Events, from what the cycle did. */
  afterCycle(decisions: readonly Decision[]): Promise<void> {
    return this.enqueue(async () => {
      for (const t of this.tracked.values()) if (t.running) await this.report(t, decisions);
    });
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'PredictiveScaler controller step failed'));
    this.queue = run;
    return run;
  }

  private restartLater(inf: PsInformer, ns: string | undefined, err: unknown, backoff: Backoff): void {
    if (this.stopped) return;
    const delayMs = backoff.next();
    log.warn({ namespace: ns ?? '(all)', err: errorMessage(err), retryInMs: delayMs }, 'PredictiveScaler watch failed; starting it again');
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (this.stopped) return;
      // client-node's informer reports a failed list or watch through 'error', which comes back here with a longer
      // delay; a start that throws is one more failure of the same kind.
      inf.start().then(
        () => this.enqueue(() => this.resyncAll()),
        (e: unknown) => this.restartLater(inf, ns, e, backoff),
      );
    }, delayMs);
    this.restarts.add(timer);
  }

  /** Every object again (HPAs made again if someone deleted one), and targets whose delete event was missed dropped. */
  private async resyncAll(): Promise<void> {
    const seen = new Set<string>();
    for (const inf of this.informers) {
      for (const obj of inf.list()) {
        seen.add(keyOf(obj));
        await this.reconcile(obj, true);
      }
    }
    for (const key of [...this.tracked.keys()]) if (!seen.has(key)) await this.drop(key);
  }

  private async reconcile(obj: PsObject, force: boolean): Promise<void> {
    if (this.stopped) return;
    const key = keyOf(obj);
    if (obj.metadata.deletionTimestamp) return this.drop(key);
    let t = this.tracked.get(key);
    if (t && t.obj.metadata.uid !== obj.metadata.uid) {
      await this.drop(key);
      t = undefined;
    }
    if (!t) {
      // The status a previous leader (or this process before a restart) wrote: conditions keep their transition times.
      const written = predictiveScalerStatus.safeParse(obj.status ?? {});
      t = { obj, targetName: `${obj.metadata.namespace}.${obj.metadata.name}`, ensurePending: true, ...(written.success && obj.status ? { previous: written.data } : {}) };
      this.tracked.set(key, t);
    }
    t.obj = obj;
    // The uid too: an object deleted and made again under its name while the watch was down comes back as an update.
    const seen = `${obj.metadata.uid}/${obj.metadata.generation ?? 0}/${obj.metadata.annotations?.[PAUSED_ANNOTATION] ?? ''}`;
    if (!force && t.seen === seen && !t.ensurePending) return;
    t.seen = seen;
    await this.apply(t);
    if (t.running && (force || t.ensurePending)) await this.ensureOwned(t);
    await this.report(t);
  }

  /** Makes the service's target what the spec says; an invalid spec keeps the last valid target running. */
  private async apply(t: Tracked): Promise<void> {
    const generation = t.obj.metadata.generation ?? 0;
    const conv = toTarget(t.obj, { allowLocalFiles: this.o.allowLocalFiles, allowAws: this.o.allowAws });
    if (!conv.ok) return this.invalid(t, generation, conv);
    const targetJson = canonical(conv.target);
    if (t.running && t.running.targetJson === targetJson) {
      t.invalid = undefined;
      t.running = { ...t.running, generation, spec: conv.spec };
      t.ensurePending = true;
      return;
    }
    let runtime: TargetRuntime;
    try {
      runtime = this.o.runtimeOf(conv.target);
    } catch (err) {
      return this.invalid(t, generation, { field: 'spec', message: errorMessage(err) });
    }
    const added = !t.running;
    // The model loads (or trains) in the background: the seasonal baseline forecasts meanwhile, and status says so.
    const loading = added && !this.o.host.has(t.targetName) ? this.o.host.addTarget(runtime) : this.o.host.replaceTarget(runtime);
    loading.catch((err: unknown) => log.error({ target: t.targetName, err: errorMessage(err) }, 'loading the model failed'));
    t.invalid = undefined;
    t.running = { generation, spec: conv.spec, targetJson, hpas: new Map() };
    t.ensurePending = true;
    log.info({ target: t.targetName, generation }, added ? 'PredictiveScaler added' : 'PredictiveScaler changed');
  }

  private async invalid(t: Tracked, generation: number, why: { field: string; message: string }): Promise<void> {
    t.invalid = { field: why.field, message: why.message };
    log.warn({ target: t.targetName, generation, field: why.field, err: why.message }, 'PredictiveScaler spec invalid');
    if (t.invalidEventFor !== generation) {
      t.invalidEventFor = generation;
      await this.event(t, 'Warning', 'InvalidSpec', `${why.field}: ${why.message}`);
    }
  }

  private async ensureOwned(t: Tracked): Promise<void> {
    if (!this.o.isLeader() || !t.running) return;
    const desired = desiredHpas(t.obj, t.running.spec, t.targetName);
    const r = await ensureHpas(this.o.api, t.obj, desired);
    if (!r.ok) {
      if (t.ownedProblem?.message !== r.message) await this.event(t, 'Warning', r.reason, r.message);
      t.ownedProblem = { reason: r.reason, message: r.message };
      t.ensurePending = true;
      return;
    }
    t.ownedProblem = undefined;
    t.ensurePending = false;
    t.running.hpas.clear();
    for (const [id, n] of r.names) t.running.hpas.set(id, n);
    for (const n of r.created) await this.event(t, 'Normal', 'HPACreated', `created HPA ${n}, which reads prescale-qps beside the spec's metrics`);
    for (const n of r.updated) await this.event(t, 'Normal', 'HPAUpdated', `updated HPA ${n} to the spec`);
    for (const n of r.deleted) await this.event(t, 'Normal', 'HPADeleted', `deleted HPA ${n}: the spec no longer asks for it`);
  }

  /**
   * Events for what changed since the last report, then the status when it changed. `decisions` is what the cycle
   * just did (undefined when reporting after a reconcile, between cycles: actuation failures are judged per cycle).
   */
  private async report(t: Tracked, decisions?: readonly Decision[]): Promise<void> {
    if (!this.o.isLeader()) return;
    if (t.ensurePending && t.running) await this.ensureOwned(t);
    const snap = t.running ? this.o.store.get(t.targetName) : undefined;
    if (snap) {
      await this.modelEvent(t, snap);
      await this.fallbackEvent(t, snap);
    }
    if (decisions) await this.failureEvent(t, decisions);
    const status = statusOf(this.statusInput(t, snap));
    // Written when something an SRE reads changed (a condition, the model, the plan, the forecast's peaks), and
    // otherwise at most every statusRefreshMs: the forecast's time alone is not worth a write per target per cycle.
    const { forecast, ...rest } = status;
    const material = canonical({ ...rest, peaks: forecast ? [forecast.peakP50, forecast.peakP90, forecast.windowMinutes] : null });
    const now = this.o.clock.now();
    if (material === t.lastStatus && now - (t.writtenAtMs ?? -Infinity) < (this.o.statusRefreshMs ?? 300_000)) return;
    try {
      await this.o.api.patchStatus(t.obj.metadata.namespace, t.obj.metadata.name, status);
      t.previous = status;
      t.lastStatus = material;
      t.writtenAtMs = now;
    } catch (err) {
      log.warn({ target: t.targetName, err: errorMessage(err) }, 'cannot write PredictiveScaler status');
    }
  }

  private statusInput(t: Tracked, snap: TargetSnapshot | undefined): StatusInput {
    const mode = t.running?.spec.mode;
    const annotated = t.obj.metadata.annotations?.[PAUSED_ANNOTATION] === 'true';
    return {
      generation: t.obj.metadata.generation ?? 0,
      nowMs: this.o.clock.now(),
      invalid: t.invalid,
      runningGeneration: t.running?.generation,
      snapshot: snap,
      ownedProblem: t.ownedProblem,
      hpas: t.running?.hpas ?? new Map(),
      pausedBy: annotated ? 'annotation' : mode === 'Preview' ? 'preview' : undefined,
      mode,
      previous: t.previous,
    };
  }

  private async modelEvent(t: Tracked, snap: TargetSnapshot): Promise<void> {
    const m = snap.model;
    const key = m ? `${m.kind}@${m.trainedAtMs}` : undefined;
    if (m && key !== t.modelKey) {
      const mase = m.scores[m.kind]?.mase;
      await this.event(t, 'Normal', 'ModelChosen', `model ${m.kind} in use${typeof mase === 'number' ? ` (holdout MASE ${mase.toFixed(3)})` : ''}`);
    }
    t.modelKey = key;
  }

  private async fallbackEvent(t: Tracked, snap: TargetSnapshot): Promise<void> {
    const active = snap.fallback.active;
    if (active && t.fallback !== true) await this.event(t, 'Warning', 'FallbackStarted', `holding capacity and serving observed load: ${snap.fallback.reason ?? 'unknown'}`);
    if (!active && t.fallback === true) await this.event(t, 'Normal', 'FallbackEnded', 'forecasting again');
    t.fallback = active;
  }

  /** An Event when actuation starts failing, or fails differently; not one per cycle while it keeps failing alike. */
  private async failureEvent(t: Tracked, decisions: readonly Decision[]): Promise<void> {
    const failed = decisions.filter((d) => d.target === t.targetName).flatMap((d) => d.actions.filter((a) => a.result === 'error').map((a) => `${a.actuator}: ${a.detail}`));
    const failing = failed.length > 0 ? failed.join('; ') : undefined;
    if (failing && failing !== t.failing) await this.event(t, 'Warning', 'ActuationFailed', failing);
    t.failing = failing;
  }

  private async drop(key: string): Promise<void> {
    const t = this.tracked.get(key);
    if (!t) return;
    this.tracked.delete(key);
    // Its HPAs carry an ownerReference: the garbage collector removes them with the PredictiveScaler.
    await this.o.host.removeTarget(t.targetName);
    log.info({ target: t.targetName }, 'PredictiveScaler removed');
  }

  private async event(t: Tracked, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (!this.o.isLeader()) return;
    try {
      await this.o.api.createEvent({ object: t.obj, type, reason, message });
    } catch (err) {
      log.warn({ target: t.targetName, reason, err: errorMessage(err) }, 'cannot record an Event');
    }
  }
}

function keyOf(obj: PsObject): string {
  return `${obj.metadata.namespace}/${obj.metadata.name}`;
}

/**
 * The delay before a failed watch is started again: doubles with each failure that follows the last within a
 * minute of its restart, up to `maxMs`, and is back to `baseMs` after a quiet minute.
 */
export class Backoff {
  private delay: number;
  private lastMs = -Infinity;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.delay = baseMs;
  }
  next(): number {
    const t = this.now();
    this.delay = t - this.lastMs < this.delay + 60_000 ? Math.min(this.delay * 2, this.maxMs) : this.baseMs;
    this.lastMs = t;
    return this.delay;
  }
}
