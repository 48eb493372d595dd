import { describe, expect, it, afterAll, beforeAll } from '@jest/globals';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminRouter, tokenMatches } from '../../src/service/admin.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

const clock = new ManualClock(1_000_000);
const calls: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(
    createAdminRouter({
      token: 's3cret-token',
      clock,
      control: {
        hasTarget: (n) => n === 'checkout',
        pause: (t, until) => calls.push(`pause ${t} ${until}`),
        pin: (t, min, until) => calls.push(`pin ${t} ${min} ${until}`),
      },
    }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (path: string, body: unknown, token?: string) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

describe('admin API', () => {
  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'nope', 403],
  ])('refuses %s', async (_w, token, status) => {
    expect((await post('/admin/targets/checkout/pause', { minutes: 5 }, token)).status).toBe(status);
    expect(calls).toEqual([]);
  });

  it('pauses and pins for a time window', async () => {
    expect((await post('/admin/targets/checkout/pause', { minutes: 5 }, 's3cret-token')).status).toBe(200);
    const res = await post('/admin/targets/checkout/pin', { minutes: 10, minCapacity: 40 }, 's3cret-token');
    expect(await res.json()).toEqual({ target: 'checkout', action: 'pin', until: new Date(1_000_000 + 10 * MINUTE_MS).toISOString() });
    expect(calls).toEqual([`pause checkout ${1_000_000 + 5 * MINUTE_MS}`, `pin checkout 40 ${1_000_000 + 10 * MINUTE_MS}`]);
  });

  it.each([
    ['/admin/targets/nope/pause', { minutes: 5 }, 404, 'unknown target "nope"'],
    ['/admin/targets/checkout/pause', { minutes: -1 }, 400, 'minutes must be a number in (0, 10080], got -1'],
    ['/admin/targets/checkout/pin', { minutes: 5, minCapacity: 1.5 }, 400, 'minCapacity must be a whole number >= 0, got 1.5'],
    ['/admin/targets/checkout/explode', { minutes: 5 }, 404, 'unknown action "explode"'],
  ])('rejects %s %j', async (path, body, status, msg) => {
    const res = await post(path, body, 's3cret-token');
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toContain(msg);
  });

  it('never accepts an empty expected token', () => {
    expect(tokenMatches('', '')).toBe(false);
    expect(tokenMatches('a', 'a')).toBe(true);
  });
});
