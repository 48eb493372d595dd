import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { toApiTarget, type ApiTarget } from '../../src/service/api.js';
import { StateStore } from '../../src/service/state.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { createWebRouter } from '../../src/web/router.js';
import { action, fakeSnapshot, MIN, NOW } from './fake-snapshots.js';

describe('toApiTarget', () => {
  it('turns NaN gaps and unknowns into null and keeps [ms, value] pairs', () => {
    const s = fakeSnapshot({ name: 'a', historyMinutes: 10, gaps: [3, 9], horizon: 5, pastForecastMinutes: 4, base: 100 });
    const t = toApiTarget(s);
    expect(t.history).toHaveLength(10);
    expect(t.history[3]).toEqual([NOW - 7 * MIN, null]);
    expect(t.observedQps).toBeNull();
    expect(t.history[0][0]).toBe(NOW - 10 * MIN);
    expect(t.forecast?.quantiles.p50).toHaveLength(5);
    expect(Object.keys(t.forecast?.quantiles ?? {})).toEqual(['p50', 'p90', 'p99']);
    expect(t.forecast?.quantiles.p90[2][1]).toBeCloseTo((t.forecast?.quantiles.p50[2][1] ?? NaN) * 1.2, 9);
    expect(t.pastForecasts).toHaveLength(4);
    expect(t.actuators[0].schedule[0]).toEqual([NOW, expect.any(Number), expect.any(Number), 'reactive-floor']);
    expect(JSON.stringify(t)).not.toMatch(/NaN/);
  });

  it('trims history and past forecasts to the window before the update time', () => {
    const s = fakeSnapshot({ name: 'a', historyMinutes: 120, horizon: 0, pastForecastMinutes: 120, base: 5 });
    const t = toApiTarget(s, { windowMs: 30 * MIN });
    expect(t.history).toHaveLength(30);
    expect(t.pastForecasts).toHaveLength(30);
    expect(t.forecast).toBeNull();
    expect(t.forecastAtMs).toBeNull();
  });

  it('lists actions newest first and scores with null for unknown', () => {
    const s = fakeSnapshot({
      name: 'a',
      historyMinutes: 1,
      horizon: 1,
      pastForecastMinutes: 0,
      base: 5,
      withModel: true,
      actions: [action({ atMs: NOW - 2 * MIN, target: 'a' }), action({ atMs: NOW, target: 'a', action: 'noop' })],
    });
    const t = toApiTarget(s);
    expect(t.actions.map((a) => a.action)).toEqual(['noop', 'patch-scale']);
    expect(t.model?.scores['seasonal-naive']).toEqual({ mase: 1, coverage90: null });
    expect(t.model?.liveMase).toBe(0.7);
    expect(t.model?.band).toEqual({ exponent: 1.2, holdoutUfrBefore: 0.16, holdoutUfrAfter: 0.09 });
    expect(toApiTarget(fakeSnapshot({ name: 'b', historyMinutes: 1, horizon: 1, pastForecastMinutes: 0, base: 5, withModel: true, band: false })).model?.band).toBeNull();
  });
});

describe('web router', () => {
  const store = new StateStore();
  const metrics = createMetrics({ defaultMetrics: false, now: () => NOW });
  let server: Server;
  let base: string;

  beforeAll(async () => {
    store.put(fakeSnapshot({ name: 'checkout', historyMinutes: 1440, horizon: 30, pastForecastMinutes: 1440, base: 200, withModel: true }));
    store.put(fakeSnapshot({ name: 'api', historyMinutes: 0, horizon: 0, pastForecastMinutes: 0, base: 1, fallback: 'no model yet' }));
    for (const s of store.list()) metrics.recordSnapshot(s);
    const app = express();
    app.use(createWebRouter({ store, registry: metrics.registry, readiness: () => ({ ready: true }) }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  it('lists targets sorted by name with their actuators', async () => {
    const res = await fetch(`${base}/api/targets`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ready: boolean; targets: { name: string; fallback: boolean; actuators: unknown[] }[] };
    expect(body.ready).toBe(true);
    expect(body.targets.map((t) => t.name)).toEqual(['api', 'checkout']);
    expect(body.targets[0].fallback).toBe(true);
    expect(body.targets[1].actuators).toHaveLength(1);
  });

  it('serves one target in full', async () => {
    const res = await fetch(`${base}/api/targets/checkout`);
    expect(res.status).toBe(200);
    const t = (await res.json()) as ApiTarget;
    expect(t.history).toHaveLength(1440);
    expect(t.pastForecasts).toHaveLength(1440);
    expect(t.forecast?.quantiles.p99).toHaveLength(30);
    expect(t.model?.kind).toBe('lstm');
    // Past p50 is 1.05 x the actual and p90 1.25 x: WAPE 5 %, every actual under its p90.
    expect(t.liveError?.steps).toBe(1440);
    expect(t.liveError?.wape).toBeCloseTo(0.05, 9);
    expect(t.liveError?.p90Coverage).toBe(1);
  });

  it('answers 404 JSON naming the known targets for an unknown one', async () => {
    const res = await fetch(`${base}/api/targets/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(await res.json()).toEqual({ error: 'no target named "nope"', targets: expect.arrayContaining(['api', 'checkout']) });
  });

  it.each([
    ['/', /text\/html/, 'assets/charts.js'],
    ['/assets/charts.js', /javascript/, 'renderTimeChart'],
    ['/assets/app.js', /javascript/, 'api/targets'],
    ['/assets/style.css', /css/, '{'],
    ['/assets/chart.umd.js', /javascript/, 'Chart.js v4'],
  ])('serves %s locally', async (path, type, needle) => {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(type);
    expect(await res.text()).toContain(needle);
  });

  it('refuses assets outside the list', async () => {
    for (const p of ['/assets/router.ts', '/assets/..%2Frouter.ts', '/assets/index.html']) {
      const res = await fetch(`${base}${p}`);
      expect(res.status).toBe(404);
    }
  });

  it('serves the prometheus text of its own registry', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toContain('prescale_observed_qps{target="checkout"}');
    expect(text).toContain('prescale_fallback_active{target="api"} 1');
  });
});
