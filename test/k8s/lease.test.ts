import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { KubeClient, statusMessage, type LeaseApi } from '../../src/k8s/client.js';
import { LeaderElector } from '../../src/k8s/lease.js';
import { ManualClock } from '../../src/util/clock.js';
import { forbidden, settledAudit, unlisted } from '../support/audit-calls.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { startKubeFaultProxy, type KubeFaultProxy } from '../support/kube-fault-proxy.js';
import { TestCluster } from '../support/test-cluster.js';

/**
 * Leader election against the real kube-apiserver: Leases in the suite's namespace, written by prescale's
 * KubeClient as a service account bound by deploy/base/rbac.yaml's rules (its leader-election Role, renamed
 * for this namespace, is what allows get, create and update on leases here). The compare-and-swap, the 409s of
 * a lost race and the MicroTime validation are the apiserver's own; the 500s come from the fault proxy in front
 * of it. The electors run on injected clocks (the apiserver does not interpret renewTime: expiry is judged by
 * each elector's own clock), except in the loop test.
 */

let cluster: TestCluster;
let NS: string;
let proxy: KubeFaultProxy;
let user: { username: string; token: string; kubeconfig: string };
let client: KubeClient;
let admin: CoordinationV1Api;
const startedAt = Date.now();

beforeAll(async () => {
  cluster = await TestCluster.attach();
  NS = await cluster.namespace('lease');
  proxy = await startKubeFaultProxy(cluster.info);
  user = await prescaleUser(cluster, NS, { server: proxy.server });
  client = KubeClient.fromOptions({ kubeconfigPath: user.kubeconfig, requestTimeoutMs: 15_000 });
  admin = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
});

afterAll(async () => {
  await proxy?.close();
  // The audit log is the record of what the electors called: only calls the RBAC list names, all allowed.
  const events = await settledAudit(cluster, { user: user.username, since: startedAt });
  await cluster.release();
  expect(events.length).toBeGreaterThan(30);
  expect(unlisted(events)).toEqual([]);
  expect(forbidden(events)).toEqual([]);
});

let seq = 0;
function pair(clock: ManualClock) {
  seq += 1;
  const name = `prescale-leader-${seq}`;
  const events: string[] = [];
  const mk = (identity: string) =>
    new LeaderElector({
      api: client,
      namespace: NS,
      name,
      identity,
      leaseDurationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock,
      onStartedLeading: () => events.push(`${identity} started`),
      onStoppedLeading: () => events.push(`${identity} stopped`),
    });
  return { name, a: mk('pod-a'), b: mk('pod-b'), events };
}

/** The Lease as stored, read by the admin; times are the wire strings (client-node leaves MicroTime as text). */
async function leaseSpec(name: string): Promise<Record<string, unknown>> {
  const l = await admin.readNamespacedLease({ namespace: NS, name });
  return (l.spec ?? {}) as Record<string, unknown>;
}

/**
 * The Lease calls for `name` that went through the proxy (tests run one at a time). A create names no Lease in
 * its path (POST .../leases), so creates count from `since`, an index into proxy.calls taken by the test.
 */
function callsFor(name: string, verb: string, since = 0) {
  return proxy.calls.slice(since).filter((c) => c.resource === 'leases' && c.verb === verb && (verb === 'create' || c.name === name));
}

describe('LeaderElector against the real apiserver (injected clock)', () => {
  it('only one of two leads; a clean stop releases the lease and the other takes over at once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0));
    const { name, a, b, events } = pair(clock);
    const since = proxy.calls.length;
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(await leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    // MicroTime as the apiserver stores it: six fractional digits.
    expect(String((await leaseSpec(name)).renewTime)).toBe('2026-11-27T12:00:00.000000Z');

    clock.advance(2_345);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(String((await leaseSpec(name)).renewTime)).toBe('2026-11-27T12:00:02.345000Z');

    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(await leaseSpec(name)).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(b.isLeader()).toBe(true);
    expect(await leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
    expect(events).toEqual(['pod-a started', 'pod-a stopped', 'pod-b started']);
    // The first attempt found no Lease (the apiserver's 404) and created it (201); every later write was a
    // compare-and-swap update the apiserver accepted.
    expect(callsFor(name, 'create', since).map((c) => c.status)).toEqual([201]);
    expect(callsFor(name, 'get')[0].status).toBe(404);
    expect(callsFor(name, 'update').map((c) => c.status)).toEqual([200, 200, 200]);
  });

  it('takes over a crashed leader only after the lease has stayed unrenewed for its duration', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 13, 0));
    const { name, a, b, events } = pair(clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false); // b first sees the lease now
    // a dies without releasing.
    clock.advance(14_999);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(await leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
    // a comes back: it sees b holding a fresh lease and stops leading.
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['pod-a started', 'pod-b started', 'pod-a stopped']);
  });

  it('stops leading when it cannot renew within the renew deadline (500s from the proxy), and counts as not leader even between attempts', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 14, 0));
    const { name, a, events } = pair(clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    proxy.inject(500, 100, { resource: 'leases', name });
    try {
      clock.advance(2_000);
      expect(await a.tryAcquireOrRenew()).toBe(false);
      expect(a.isLeader()).toBe(true); // 2 s since the last renewal: still inside the deadline
      clock.advance(8_000);
      expect(a.isLeader()).toBe(false); // deadline passed, even before the next attempt says so
      expect(await a.tryAcquireOrRenew()).toBe(false);
      expect(events).toEqual(['pod-a started', 'pod-a stopped']);
      expect(callsFor(name, 'get').slice(-2).map((c) => [c.status, c.injected])).toEqual([
        [500, true],
        [500, true],
      ]);
    } finally {
      proxy.clearFaults();
    }
    clock.advance(2_000);
    expect(await a.tryAcquireOrRenew()).toBe(true); // still the holder on the apiserver: renews and leads again
    expect(events).toEqual(['pod-a started', 'pod-a stopped', 'pod-a started']);
  });

  it.each([
    ['a new lease (both create: one gets AlreadyExists)', false],
    ['a released lease (both update the same resourceVersion: one gets Conflict)', true],
  ])('two electors racing for %s: the compare-and-swap lets exactly one win', async (_what, released) => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 15, 0));
    seq += 1;
    const name = `prescale-race-${seq}`;
    if (released) {
      const first = new LeaderElector({ api: client, namespace: NS, name, identity: 'pod-z', clock });
      expect(await first.tryAcquireOrRenew()).toBe(true);
      await first.stop();
    }
    // Both read before either writes: a barrier behind getLease makes the race certain.
    let waiting: (() => void)[] = [];
    const racing: LeaseApi = {
      getLease: async (ns, n) => {
        const r = await client.getLease(ns, n);
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 2) {
            waiting.forEach((w) => w());
            waiting = [];
          }
        });
        return r;
      },
      createLease: (ns, n, l) => client.createLease(ns, n, l),
      replaceLease: (ns, n, l) => client.replaceLease(ns, n, l),
    };
    const mk = (identity: string) => new LeaderElector({ api: racing, namespace: NS, name, identity, clock });
    const since = proxy.calls.length;
    const a = mk('pod-a');
    const b = mk('pod-b');
    const won = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect((await leaseSpec(name)).holderIdentity).toBe(won[0] ? 'pod-a' : 'pod-b');
    // The race's two writes, both answered by the apiserver itself.
    const writes = callsFor(name, released ? 'update' : 'create', since);
    expect(writes.map((c) => [c.status, c.injected]).sort()).toEqual(released ? [[200, false], [409, false]] : [[201, false], [409, false]]);
  });
});

describe('LeaderElector loop (real timers)', () => {
  it('runs with start(); when the leader stops, the other takes over', async () => {
    seq += 1;
    const name = `prescale-loop-${seq}`;
    const mk = (identity: string) => new LeaderElector({ api: client, namespace: NS, name, identity, leaseDurationSeconds: 10, renewDeadlineMs: 8_000, retryPeriodMs: 100 });
    const a = mk('pod-a');
    const b = mk('pod-b');
    a.start();
    await until(() => a.isLeader());
    const getsBefore = callsFor(name, 'get').length;
    b.start();
    // b has tried several times by now and must not lead while a renews.
    await until(() => callsFor(name, 'get').length > getsBefore + 10);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    await a.stop();
    await until(() => b.isLeader());
    expect(a.isLeader()).toBe(false);
    await b.stop();
    expect((await leaseSpec(name)).holderIdentity).toBe('');
  });
});

describe('Lease times on the real apiserver', () => {
  it('rejects a plain Date (milliseconds) in renewTime with 400 BadRequest, which is why the client sends V1MicroTime', async () => {
    const api = cluster.kubeConfig({ token: user.token }).makeApiClient(CoordinationV1Api);
    const at = Date.UTC(2026, 10, 27, 12, 0, 0, 123);
    const body = (name: string, renewTime: Date): V1Lease => ({ metadata: { name }, spec: { holderIdentity: 'x', leaseDurationSeconds: 5, renewTime } });
    const err = (await api.createNamespacedLease({ namespace: NS, body: body('plain-date', new Date(at)) }).catch((e: unknown) => e)) as { code?: number; body?: unknown };
    expect(err.code).toBe(400);
    // The apiserver decodes metav1.MicroTime with Go's layout RFC3339Micro, which wants exactly six digits.
    expect(statusMessage(err.body)).toBe(
      'BadRequest: Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-27T12:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"',
    );
    await expect(admin.readNamespacedLease({ namespace: NS, name: 'plain-date' })).rejects.toMatchObject({ code: 404 });
    // The same instant as V1MicroTime is accepted and stored with six digits.
    await api.createNamespacedLease({ namespace: NS, body: body('micro-time', new V1MicroTime(at)) });
    expect(String((await leaseSpec('micro-time')).renewTime)).toBe('2026-11-27T12:00:00.123000Z');
  });
});

async function until(cond: () => boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LeaderElector timing options', () => {
  const NS = 'prescale';
  const api: LeaseApi = {
    getLease: async () => undefined,
    createLease: async (_ns, _n, l) => l,
    replaceLease: async (_ns, _n, l) => l,
  };
  it.each([1, 5, 15, 60])('derives renew deadline and retry period from a %i s lease (client-go ratios)', async (secs) => {
    const clock = new ManualClock(0);
    const e = new LeaderElector({ api, namespace: NS, name: 'x', identity: 'a', leaseDurationSeconds: secs, clock });
    expect(await e.tryAcquireOrRenew()).toBe(true);
    clock.advance(Math.round((secs * 2000) / 3) - 1);
    expect(e.isLeader()).toBe(true);
    clock.advance(1);
    expect(e.isLeader()).toBe(false);
  });

  it.each([
    [{ leaseDurationSeconds: 0 }, /leaseDurationSeconds must be a whole number >= 1, 0 given/],
    [{ leaseDurationSeconds: 15, renewDeadlineMs: 15_000 }, /renewDeadlineMs must be in \(0, leaseDuration\)/],
    [{ leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 10_000 }, /retryPeriodMs must be in \(0, renewDeadlineMs\)/],
  ])('rejects %j', (o, msg) => {
    expect(() => new LeaderElector({ api, namespace: NS, name: 'x', identity: 'a', ...o })).toThrow(msg);
  });
});
