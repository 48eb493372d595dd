import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { StateStore } from '../../src/service/state.js';
import { ManualClock } from '../../src/util/clock.js';
import { createKedaRouter, constantTimeEquals, type KedaRouterOptions } from '../../src/metrics-api/keda.js';
import { cloneset, lambda, T0, target } from './helpers.js';

function store(): StateStore {
  const s = new StateStore();
  s.put(target('web', [cloneset('default', 'web', { plannedQps: 1234.5, plannedCapacity: 13 })]));
  s.put(target('multi', [cloneset('default', 'a', { plannedQps: 10, plannedCapacity: 1 }), cloneset('prod', 'a', { plannedQps: 20, plannedCapacity: 2 }), lambda()]));
  s.put(target('fn', [lambda()]));
  s.put(target('new', [cloneset('default', 'new')], { forecastAtMs: undefined, observedQps: 150 }));
  return s;
}

const clock = new ManualClock(T0 + 60_000);
const servers: Server[] = [];

async function serve(over: Partial<KedaRouterOptions> = {}): Promise<string> {
  const app = express();
  app.use(createKedaRouter({ store: store(), staleAfterSeconds: 180, stale: 'observed', clock, ...over }));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function json(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

let open: string;
let guarded: string;
let strict: string;

beforeAll(async () => {
  open = await serve();
  guarded = await serve({ token: 's3cret' });
  strict = await serve({ stale: 'error' });
});

afterAll(async () => {
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
});

describe('KEDA metrics-api endpoint', () => {
  it('serves the planned QPS and replicas of the only CloneSet', async () => {
    expect(await json(`${open}/keda/targets/web`)).toEqual({
      status: 200,
      body: { target: 'web', actuator: 'cloneset:default/web', namespace: 'default', cloneset: 'web', qps: 1234.5, replicas: 13, stale: false, forecastAt: '2026-11-27T10:00:00.000Z', servedAt: '2026-11-27T10:01:00.000Z' },
    });
  });

  it.each([
    ['multi', 400, /3 actuators: choose one with \?cloneset=NAME/],
    ['multi?cloneset=a', 400, /ambiguous.*namespace=/],
    ['multi?cloneset=zzz', 404, /no CloneSet zzz/],
    ['nope', 404, /unknown target "nope"/],
  ])('%s → %d', async (path, status, message) => {
    const r = await json(`${open}/keda/targets/${path}`);
    expect(r.status).toBe(status);
    expect(String(r.body.error)).toMatch(message);
  });

  it('picks a CloneSet by name and namespace, and a lone Lambda actuator', async () => {
    expect((await json(`${open}/keda/targets/multi?cloneset=a&namespace=prod`)).body).toMatchObject({ replicas: 2, qps: 20, namespace: 'prod' });
    expect((await json(`${open}/keda/targets/fn`)).body).toMatchObject({ actuator: 'lambda:fn:live', replicas: 40, qps: 500 });
  });

  it('flags the observed load when there is no fresh forecast, or answers 503 under stale: error', async () => {
    expect((await json(`${open}/keda/targets/new`)).body).toMatchObject({ qps: 150, replicas: 2, stale: true, forecastAt: null });
    const r = await json(`${strict}/keda/targets/new`);
    expect(r.status).toBe(503);
    expect(String(r.body.error)).toMatch(/has no forecast yet; stale: error/);
  });

  it('needs the bearer token when one is configured', async () => {
    expect((await json(`${guarded}/keda/targets/web`)).status).toBe(401);
    expect((await json(`${guarded}/keda/targets/web`, { Authorization: 'Bearer wrong' })).status).toBe(403);
    expect((await json(`${guarded}/keda/targets/web`, { Authorization: 'Bearer s3cret' })).body).toMatchObject({ replicas: 13 });
  });

  it('compares tokens by value whatever their lengths', () => {
    expect(constantTimeEquals('abc', 'abc')).toBe(true);
    expect(constantTimeEquals('abc', 'abcd')).toBe(false);
    expect(constantTimeEquals('', 'x')).toBe(false);
  });
});
