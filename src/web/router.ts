import express, { type Request, type Response, type Router } from 'express';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { toApiSummary, toApiTarget } from '../service/api.js';
import type { StateStore } from '../service/state.js';
import { systemClock, type Clock } from '../util/clock.js';
import { chartJsUmdPath, publicDir } from './assets.js';

export interface WebRouterOptions {
  readonly store: StateStore;
  /** The service's own prom-client registry (src/obs/metrics.ts), served at /metrics. */
  readonly registry: Registry;
  /** Shown in the dashboard header; the same check /readyz uses. */
  readonly readiness?: () => { ready: boolean; details?: Record<string, unknown> };
  /** The service clock: the page shows ages ("updated 20 s ago") against it, so a replay reads right. */
  readonly clock?: Clock;
}

const OWN_ASSETS = new Set(['charts.js', 'app.js', 'style.css']);

/**
 * The dashboard (`/`, `/assets/*`), its JSON API (`/api/targets`, `/api/targets/:name`) and `/metrics`.
 * Everything is served from this process: no CDN, Chart.js comes from node_modules.
 */
export function createWebRouter(o: WebRouterOptions): Router {
  const r = express.Router();
  const dir = publicDir();
  const chartJs = chartJsUmdPath();
  // The page is rebuilt with the code, so it must not be cached across an upgrade; data comes from the API.
  const noCache = (res: Response): void => {
    res.set('Cache-Control', 'no-cache');
  };

  r.get('/', (_req, res) => {
    noCache(res);
    res.sendFile(join(dir, 'index.html'));
  });
  r.get('/assets/:file', (req: Request<{ file: string }>, res) => {
    const f = req.params.file;
    noCache(res);
    if (f === 'chart.umd.js') return res.sendFile(chartJs);
    if (OWN_ASSETS.has(f)) return res.sendFile(join(dir, f));
    res.status(404).json({ error: `no asset ${f}` });
  });
  r.get('/api/targets', (_req, res) => {
    const targets = o.store
      .list()
      .map(toApiSummary)
      .sort((a, b) => a.name.localeCompare(b.name));
    const readiness = o.readiness?.();
    res.json({ nowMs: (o.clock ?? systemClock).now(), ready: readiness ? readiness.ready : null, targets });
  });
  r.get('/api/targets/:name', (req: Request<{ name: string }>, res) => {
    const s = o.store.get(req.params.name);
    if (!s) {
      res.status(404).json({ error: `no target named ${JSON.stringify(req.params.name)}`, targets: o.store.list().map((t) => t.name) });
      return;
    }
    res.json(toApiTarget(s));
  });
  r.get('/metrics', async (_req, res) => {
    const text = await o.registry.metrics();
    res.set('Content-Type', o.registry.contentType).send(text);
  });
  return r;
}
