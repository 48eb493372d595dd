import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { constantTimeEquals } from '../metrics-api/keda.js';
import { MINUTE_MS, type Clock } from '../util/clock.js';

/** What the admin API may change: per-target pause and pinned minimum, both for a time window. */
export interface AdminControl {
  hasTarget(name: string): boolean;
  pause(target: string, untilMs: number): void;
  pin(target: string, minCapacity: number, untilMs: number): void;
}

export interface AdminOptions {
  /** The bearer token; the router refuses everything when it is empty. */
  readonly token: string;
  readonly control: AdminControl;
  readonly clock: Clock;
  readonly onAction?: (a: { target: string; action: 'pause' | 'pin'; untilMs: number; minCapacity?: number }) => void;
}

/** Constant-time comparison; an empty expected token never matches (the admin API is then closed). */
export function tokenMatches(given: string, expected: string): boolean {
  return expected.length > 0 && constantTimeEquals(given, expected);
}

function problem(res: Response, status: number, message: string): void {
  res.status(status).json({ error: message });
}

function readMinutes(body: unknown, key: string, max: number): number | string {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) return `${key} must be a number in (0, ${max}], got ${JSON.stringify(v)}`;
  return v;
}

/**
 * `POST /admin/targets/:name/pause {"minutes": 30}` stops actuation of a target for a while;
 * `POST /admin/targets/:name/pin {"minCapacity": 40, "minutes": 120}` keeps a floor under its capacity.
 * Both need `Authorization: Bearer <token>`.
 */
export function createAdminRouter(o: AdminOptions): Router {
  const r = express.Router();
  const auth = (req: Request, res: Response, next: NextFunction): void => {
    const h = req.get('authorization') ?? '';
    const m = /^Bearer (.+)$/.exec(h);
    if (!m) return problem(res, 401, 'missing bearer token');
    if (!tokenMatches(m[1], o.token)) return problem(res, 403, 'invalid token');
    next();
  };
  r.use('/admin', auth, express.json({ limit: '4kb' }));
  r.post('/admin/targets/:name/:action', (req, res) => {
    const { name, action } = req.params;
    if (!o.control.hasTarget(name)) return problem(res, 404, `unknown target "${name}"`);
    const minutes = readMinutes(req.body, 'minutes', 7 * 24 * 60);
    if (typeof minutes === 'string') return problem(res, 400, minutes);
    const untilMs = o.clock.now() + minutes * MINUTE_MS;
    if (action === 'pause') {
      o.control.pause(name, untilMs);
      o.onAction?.({ target: name, action: 'pause', untilMs });
    } else if (action === 'pin') {
      const min = (req.body as Record<string, unknown>).minCapacity;
      if (typeof min !== 'number' || !Number.isInteger(min) || min < 0) return problem(res, 400, `minCapacity must be a whole number >= 0, got ${JSON.stringify(min)}`);
      o.control.pin(name, min, untilMs);
      o.onAction?.({ target: name, action: 'pin', untilMs, minCapacity: min });
    } else {
      return problem(res, 404, `unknown action "${action}" (pause or pin)`);
    }
    res.json({ target: name, action, until: new Date(untilMs).toISOString() });
  });
  return r;
}
