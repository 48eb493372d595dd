import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ActuatorSnapshot, TargetSnapshot } from '../service/state.js';
import type { Clock } from '../util/clock.js';
import { servedValue, type SnapshotSource, type StalePolicy } from './server.js';

/**
 * Plain-HTTP JSON for KEDA's `metrics-api` scaler, for clusters where another adapter (KEDA itself, Datadog,
 * prometheus-adapter) already owns the one `v1beta1.external.metrics.k8s.io` APIService.
 *
 *   GET /keda/targets/:target[?cloneset=NAME&namespace=NS]
 *   → {"target","actuator","namespace","cloneset","qps","replicas","stale","forecastAt","servedAt"}
 *
 * KEDA picks a number with `valueLocation` (`replicas` or `qps`). Stale forecasts follow the same policy as
 * the external metrics API: the observed load flagged `"stale": true`, or 503 so KEDA's `fallback` applies.
 */
export interface KedaRouterOptions {
  readonly store: SnapshotSource & { get(name: string): TargetSnapshot | undefined };
  /** A bearer token KEDA must send (TriggerAuthentication authMode: bearer); none = open. */
  readonly token?: string;
  readonly staleAfterSeconds: number;
  readonly stale: StalePolicy;
  readonly clock: Clock;
}

/** Hashes first so the comparison takes the same time whatever the lengths. */
export function constantTimeEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

type Pick = { ok: true; a: ActuatorSnapshot } | { ok: false; code: 400 | 404; message: string };

/** The actuator KEDA asked for: named by `cloneset` (and `namespace`), or the target's only CloneSet, or its only actuator. */
function pickActuator(t: TargetSnapshot, q: { cloneset?: string; namespace?: string }): Pick {
  const clonesets = t.actuators.filter((a) => a.kind === 'cloneset');
  if (q.cloneset !== undefined) {
    const hit = clonesets.filter((a) => a.name === q.cloneset && (q.namespace === undefined || a.namespace === q.namespace));
    if (hit.length === 1) return { ok: true, a: hit[0] };
    if (hit.length === 0) return { ok: false, code: 404, message: `target "${t.name}" has no CloneSet ${q.namespace ? `${q.namespace}/` : ''}${q.cloneset}` };
    return { ok: false, code: 400, message: `CloneSet name "${q.cloneset}" is ambiguous in target "${t.name}": add ?namespace=` };
  }
  if (clonesets.length === 1) return { ok: true, a: clonesets[0] };
  if (clonesets.length === 0 && t.actuators.length === 1) return { ok: true, a: t.actuators[0] };
  return { ok: false, code: 400, message: `target "${t.name}" has ${t.actuators.length} actuators: choose one with ?cloneset=NAME (and &namespace=NS)` };
}

function queryString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function createKedaRouter(o: KedaRouterOptions): Router {
  const r = express.Router();
  if (o.token !== undefined && o.token.length > 0) {
    const token = o.token;
    r.use('/keda', (req: Request, res: Response, next: NextFunction): void => {
      const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
      if (!m) {
        res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'missing bearer token' });
        return;
      }
      if (!constantTimeEquals(m[1], token)) {
        res.status(403).json({ error: 'invalid token' });
        return;
      }
      next();
    });
  }
  r.get('/keda/targets', (_req, res) => {
    res.json({ targets: o.store.list().map((t) => t.name) });
  });
  r.get('/keda/targets/:target', (req, res) => {
    const t = o.store.get(req.params.target);
    if (!t) {
      res.status(404).json({ error: `unknown target "${req.params.target}"` });
      return;
    }
    const p = pickActuator(t, { cloneset: queryString(req.query.cloneset), namespace: queryString(req.query.namespace) });
    if (!p.ok) {
      res.status(p.code).json({ error: p.message });
      return;
    }
    const nowMs = o.clock.now();
    const v = servedValue(t, p.a, { nowMs, staleAfterSeconds: o.staleAfterSeconds, stale: o.stale });
    if (!v.ok) {
      res.status(503).json({ error: v.message, stale: true });
      return;
    }
    res.set('Cache-Control', 'no-store').json({
      target: t.name,
      actuator: p.a.id,
      ...(p.a.kind === 'cloneset' ? { namespace: p.a.namespace, cloneset: p.a.name } : {}),
      qps: v.value.qps,
      replicas: v.value.replicas,
      stale: v.value.stale,
      forecastAt: t.forecastAtMs === undefined ? null : new Date(t.forecastAtMs).toISOString(),
      servedAt: new Date(nowMs).toISOString(),
    });
  });
  return r;
}
