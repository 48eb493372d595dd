import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { log } from '../obs/log.js';
import type { Server } from 'node:http';
import { once } from 'node:events';

/** Why the service is or is not ready; /readyz answers 200 only when every check passes. */
export type ReadinessCheck = () => { ready: boolean; details: Record<string, unknown> };

export interface HttpAppOptions {
  readonly readiness: ReadinessCheck;
  /** Dashboard, JSON API and /metrics (src/web/router.ts), KEDA endpoint, admin API. */
  readonly routers: readonly Router[];
}

/**
 * The plain-HTTP app: /healthz says the process lives; /readyz turns true only when config, clients and a
 * model are ready. Health and metrics endpoints are not request-logged.
 */
export function createHttpApp(o: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const r = o.readiness();
    res.status(r.ready ? 200 : 503).json({ ready: r.ready, ...r.details });
  });
  for (const r of o.routers) app.use(r);
  app.use(jsonErrors);
  return app;
}

/**
 * Errors as JSON, never express's default HTML page, which carries the stack trace and file paths (a
 * malformed percent-encoding in a path, or a body that is not JSON, end up here).
 */
function jsonErrors(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  const e = err as { status?: unknown; statusCode?: unknown; message?: unknown };
  const code = Number(e.status ?? e.statusCode);
  const status = Number.isInteger(code) && code >= 400 && code < 600 ? code : 500;
  if (status >= 500) log.error({ path: req.path, err: String(e.message) }, 'request failed');
  res.status(status).json({ error: status < 500 && typeof e.message === 'string' ? e.message : 'internal error' });
}

export async function listen(app: Express, port: number, host: string): Promise<Server> {
  const server = app.listen(port, host);
  await once(server, 'listening');
  return server;
}
