import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { KubeClient, type LeaseApi } from '../../src/k8s/client.js';
import { LeaderElector } from '../../src/k8s/lease.js';
import { isCallUsed } from '../../src/k8s/rbac.js';
import { ManualClock } from '../../src/util/clock.js';
import { KubeStandIn } from '../support/kube-standin.js';

const NS = 'prescale';
let standin: KubeStandIn;
let client: KubeClient;
let kc: KubeConfig;

beforeAll(async () => {
  standin = new KubeStandIn();
  await standin.start();
  kc = new KubeConfig();
  kc.loadFromString(standin.kubeconfig());
  client = new KubeClient(kc, { requestTimeoutMs: 15_000 });
});

afterAll(async () => {
  const unlisted = standin.calls.filter((c) => !isCallUsed({ apiGroup: c.group, resource: c.resource, subresource: c.subresource, verb: c.verb }));
  await standin.stop();
  expect(unlisted.map((c) => `${c.verb} ${c.group}/${c.resource}`)).toEqual([]);
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

function leaseSpec(name: string): Record<string, unknown> {
  return standin.getLease(NS, name)?.spec as Record<string, unknown>;
}

describe('LeaderElector against the stand-in (injected clock)', () => {
  it('only one of two leads; a clean stop releases the lease and the other takes over at once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0));
    const { name, a, b, events } = pair(clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    // MicroTime on the wire: six fractional digits.
    expect(String(leaseSpec(name).renewTime)).toMatch(/\.\d{6}Z$/);

    clock.advance(2_000);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(Date.parse(String(leaseSpec(name).renewTime))).toBe(clock.now());

    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(leaseSpec(name)).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(b.isLeader()).toBe(true);
    expect(leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
    expect(events).toEqual(['pod-a started', 'pod-a stopped', 'pod-b started']);
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
    expect(leaseSpec(name)).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
    // a comes back: it sees b holding a fresh lease and stops leading.
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['pod-a started', 'pod-b started', 'pod-a stopped']);
  });

  it('stops leading when it cannot renew within the renew deadline, and counts as not leader even between attempts', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 14, 0));
    const { a, events } = pair(clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    standin.inject(500, 100, { resource: 'leases' });
    clock.advance(2_000);
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader()).toBe(true); // 2 s since the last renewal: still inside the deadline
    clock.advance(8_000);
    expect(a.isLeader()).toBe(false); // deadline passed, even before the next attempt says so
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(events).toEqual(['pod-a started', 'pod-a stopped']);
    standin.clearFaults();
    clock.advance(2_000);
    expect(await a.tryAcquireOrRenew()).toBe(true); // still the holder: renews and leads again
  });

  it.each([
    ['a new lease (both create)', false],
    ['a released lease (both update the same resourceVersion)', true],
  ])('two electors racing for %s: the compare-and-swap lets exactly one win', async (_what, released) => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 15, 0));
    seq += 1;
    const name = `prescale-race-${seq}`;
    if (released) {
      const first = new LeaderElector({ api: client, namespace: NS, name, identity: 'pod-z', clock });
      expect(await first.tryAcquireOrRenew()).toBe(true);
      await first.stop();
    }
    // Both read before either writes: a barrier in front of getLease makes the race certain.
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
    const a = mk('pod-a');
    const b = mk('pod-b');
    const won = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(leaseSpec(name).holderIdentity).toBe(won[0] ? 'pod-a' : 'pod-b');
    const verb = released ? 'update' : 'create';
    // The two writes of the race are the last two of their verb (tests run one at a time).
    const writes = standin.calls.filter((c) => c.resource === 'leases' && c.verb === verb).slice(-2);
    expect(writes.map((c) => c.status).sort()).toEqual(released ? [200, 409] : [201, 409]);
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
    b.start();
    // b has tried several times by now and must not lead while a renews.
    await until(() => standin.calls.filter((c) => c.name === name && c.verb === 'get').length > 10);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    await a.stop();
    await until(() => b.isLeader());
    expect(a.isLeader()).toBe(false);
    await b.stop();
    expect(leaseSpec(name).holderIdentity).toBe('');
  });
});

describe('the stand-in checks Lease times as the apiserver does', () => {
  it('rejects a plain Date (milliseconds) in renewTime with 400, which is why the client sends V1MicroTime', async () => {
    const api = kc.makeApiClient(CoordinationV1Api);
    const body: V1Lease = { metadata: { name: 'plain-date' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 5, renewTime: new Date() } };
    await expect(api.createNamespacedLease({ namespace: NS, body })).rejects.toMatchObject({ code: 400 });
    expect(standin.getLease(NS, 'plain-date')).toBeUndefined();
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
