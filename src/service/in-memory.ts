import type { ScalableTargetState, ScalingApi, ScheduledActionState, TargetKey } from '../aws/clients.js';
import type { CloneSetView, HpaApi, HpaView, ScaleApi, ScaleView } from '../k8s/client.js';
import type { Clock } from '../util/clock.js';

/**
 * In-memory stand-ins for Application Auto Scaling and the Kubernetes API, used when the config says
 * `simulated: true` (the embedded demo, offline trials). They answer the same narrow interfaces as the real
 * clients, so the real actuators run unchanged against them.
 */

/** Application Auto Scaling that also carries out due `at(...)` scheduled actions, as AWS does. */
export class InMemoryScaling implements ScalingApi {
  private readonly targets = new Map<string, { min: number; max: number; actions: Map<string, ScheduledActionState> }>();

  constructor(private readonly clock: Clock) {}

  private key(k: TargetKey): string {
    return `${k.serviceNamespace}/${k.resourceId}/${k.scalableDimension}`;
  }

  /** Applies every due action (oldest first) to MinCapacity/MaxCapacity and removes it. */
  private runDue(k: TargetKey): void {
    const t = this.targets.get(this.key(k));
    if (!t) return;
    const due = [...t.actions.values()]
      .map((a) => ({ a, at: Date.parse(/^at\((.+)\)$/.exec(a.schedule)?.[1] + 'Z') }))
      .filter((x) => Number.isFinite(x.at) && x.at <= this.clock.now())
      .sort((x, y) => x.at - y.at);
    for (const { a } of due) {
      if (a.minCapacity !== undefined) t.min = a.minCapacity;
      if (a.maxCapacity !== undefined) t.max = a.maxCapacity;
      t.actions.delete(a.name);
    }
  }

  describeScalableTarget(k: TargetKey): Promise<ScalableTargetState | undefined> {
    this.runDue(k);
    const t = this.targets.get(this.key(k));
    return Promise.resolve(t ? { minCapacity: t.min, maxCapacity: t.max } : undefined);
  }

  registerScalableTarget(k: TargetKey, c: { minCapacity?: number; maxCapacity?: number }): Promise<void> {
    const t = this.targets.get(this.key(k)) ?? { min: 0, max: 0, actions: new Map() };
    t.min = c.minCapacity ?? t.min;
    t.max = c.maxCapacity ?? t.max;
    this.targets.set(this.key(k), t);
    return Promise.resolve();
  }

  describeScheduledActions(k: TargetKey): Promise<ScheduledActionState[]> {
    this.runDue(k);
    return Promise.resolve([...(this.targets.get(this.key(k))?.actions.values() ?? [])]);
  }

  putScheduledAction(k: TargetKey, a: ScheduledActionState): Promise<void> {
    const t = this.targets.get(this.key(k));
    if (!t) return Promise.reject(new Error(`ObjectNotFoundException: no scalable target ${k.resourceId}`));
    t.actions.set(a.name, a);
    return Promise.resolve();
  }

  deleteScheduledAction(k: TargetKey, name: string): Promise<void> {
    this.targets.get(this.key(k))?.actions.delete(name);
    return Promise.resolve();
  }
}

/** A cluster holding CloneSets (all pods ready, no rollout) and, optionally, HPAs. */
export class InMemoryKube implements ScaleApi, HpaApi {
  private readonly clonesets = new Map<string, { replicas: number; rv: number }>();
  private readonly hpas: HpaView[] = [];

  addCloneSet(ns: string, name: string, replicas: number): void {
    this.clonesets.set(`${ns}/${name}`, { replicas, rv: 1 });
  }

  addHpa(h: HpaView): void {
    this.hpas.push(h);
  }

  private get(ns: string, name: string): { replicas: number; rv: number } {
    const c = this.clonesets.get(`${ns}/${name}`);
    if (!c) throw new Error(`clonesets.apps.kruise.io "${name}" not found in namespace ${ns}`);
    return c;
  }

  getScale(ns: string, name: string): Promise<ScaleView> {
    try {
      const c = this.get(ns, name);
      return Promise.resolve({ replicas: c.replicas, statusReplicas: c.replicas, resourceVersion: String(c.rv) });
    } catch (err: unknown) {
      return Promise.reject(err);
    }
  }

  patchScaleReplicas(req: { ns: string; name: string; replicas: number }): Promise<ScaleView> {
    try {
      const c = this.get(req.ns, req.name);
      c.replicas = req.replicas;
      c.rv++;
      return this.getScale(req.ns, req.name);
    } catch (err: unknown) {
      return Promise.reject(err);
    }
  }

  getCloneSet(ns: string, name: string): Promise<CloneSetView> {
    try {
      const c = this.get(ns, name);
      return Promise.resolve({ specReplicas: c.replicas, statusReplicas: c.replicas, updatedReplicas: c.replicas, paused: false, resourceVersion: String(c.rv) });
    } catch (err: unknown) {
      return Promise.reject(err);
    }
  }

  listHpas(ns: string): Promise<HpaView[]> {
    return Promise.resolve(this.hpas.filter((h) => h.namespace === ns));
  }
}
