import express, { type Express, type Router } from 'express';
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
  return app;
}

export async function listen(app: Express, port: number, host: string): Promise<Server> {
  const server = app.listen(port, host);
  await once(server, 'listening');
  return server;
}
