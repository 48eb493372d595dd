import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { AuditLine } from '../../src/obs/audit.js';
import { prescaleUser } from '../support/deploy-rbac.js';
import { freePort } from '../support/moto.js';
import { PrescaleProcess } from '../support/prescale-process.js';
import { until as pollUntil } from '../support/until.js';
import { writeSyntheticTrace } from '../support/synthetic-trace.js';
import { cloneSetYaml, TestCluster } from '../support/test-cluster.js';

/**
 * Leader election on a real Lease, between two `prescale serve` processes: the leader is killed with SIGKILL
 * (no chance to release the Lease, as when its node dies), and the other must take over, with no cycle actuated
 * by both. Both run as a service account bound by deploy/base/rbac.yaml's rules, with deploy's lease duration
 * (15 s). Time is compressed in one place: the forecast cycle runs every 10 s instead of every minute, so a
 * "minute" of the issue is a 10-second cycle slot here. A CloneSet in direct mode is what they actuate (no
 * HPA); its status is kept in step with its spec by the test, as kruise-manager would (it is not run here).
 */

const LEASE_SECONDS = 15;
const CYCLE_MS = 10_000;
/** The elector's retry period (2/15 of the lease, client-go's ratio): how often each replica reads the Lease. */
const RETRY_MS = (LEASE_SECONDS * 1000 * 2) / 15;

let cluster: TestCluster;
let ns: string;
let dir: string;
const procs: { name: string; p: PrescaleProcess; audit: string }[] = [];

beforeAll(async () => {
  cluster = await TestCluster.attach();
  ns = await cluster.namespace('failover');
  dir = join(cluster.info.dir, `failover-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const user = await prescaleUser(cluster, ns);
  cluster.keepCloneSetStatus(ns);
  await cluster.apply(cloneSetYaml({ namespace: ns, name: 'web', replicas: 1 }));
  const trace = join(dir, 'trace.csv');
  writeSyntheticTrace(trace, { baseQps: 500 });
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const audit = join(dir, `audit-${name}.log`);
    const config = join(dir, `config-${name}.yaml`);
    writeFileSync(
      config,
      stringify({
        kubernetes: { kubeconfig: user.kubeconfig },
        http: { host: '127.0.0.1', port },
        metricsApi: { enabled: false },
        keda: { enabled: false },
        leaderElection: { enabled: true, namespace: ns, leaseName: 'prescale-leader', leaseDurationSeconds: LEASE_SECONDS },
        schedule: { forecast: '*/10 * * * * *' },
        modelsDir: join(dir, `models-${name}`),
        audit: { file: audit },
        targets: [
          {
            name: 'shop',
            history: { source: 'csv', path: trace, valueColumn: 'qps', unit: 'per-second', days: 3, replay: { align: 'week' } },
            forecast: { model: 'seasonal-naive' },
            actuators: [{ kind: 'cloneset', namespace: ns, name: 'web', qpsPerReplica: 100, mode: 'direct', min: 1, max: 50 }],
          },
        ],
      }),
    );
    procs.push({ name, p: PrescaleProcess.start({ config, httpPort: port, log: join(dir, `prescale-${name}.log`) }), audit });
  }
  await Promise.all(procs.map((x) => x.p.ready()));
}, 180_000);

afterAll(async () => {
  await Promise.all(procs.map((x) => x.p.stop()));
  await cluster.release();
});

interface Lease {
  holderIdentity?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

async function lease(): Promise<Lease> {
  return (JSON.parse(await cluster.kubectlOk(['get', 'lease', 'prescale-leader', '-n', ns, '-o', 'json'])) as { spec: Lease }).spec;
}

/** The decisions of one process that changed or checked the CloneSet (not skipped as a follower). */
function actuations(audit: string): AuditLine[] {
  let text = '';
  try {
    text = readFileSync(audit, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((d) => d.actions.some((a) => a.result !== 'skipped'));
}

/** Polls until the probe gives a value; on time-out the error carries the processes' logs. */
function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs: number): Promise<T> {
  return pollUntil(what, probe, { limitMs, intervalMs: 200, context: () => procs.map((x) => `--- ${x.name}\n${x.p.tail(8)}`).join('\n') });
}

describe('two prescale processes on one Lease', () => {
  it('after kill -9 of the leader the other takes over within the lease duration plus one cycle, and no cycle is actuated twice', async () => {
    // The holder identity is `<hostname>-<pid>`: which process leads.
    const holder = await until('a leader', async () => (await lease()).holderIdentity || undefined, 60_000);
    const leader = procs.find((x) => holder.endsWith(`-${x.p.pid}`));
    const other = procs.find((x) => x !== leader);
    if (!leader || !other) throw new Error(`lease holder ${holder} is neither process (${procs.map((x) => x.p.pid).join(', ')})`);
    // Both cycle; only the leader actuates. Let the follower see a few of the leader's cycles.
    await until('three actuated cycles by the leader', async () => (actuations(leader.audit).length >= 3 ? true : undefined), 60_000);
    expect(actuations(other.audit)).toEqual([]);
    const transitions = (await lease()).leaseTransitions ?? 0;

    const killedAt = Date.now();
    await leader.p.kill();
    const took = await until('the survivor actuating', async () => actuations(other.audit)[0], (LEASE_SECONDS + 30) * 1000);
    const l = await lease();
    const acquiredAt = Date.parse(l.acquireTime ?? '');
    const takeoverMs = took.atMs - killedAt;
    process.stderr.write(
      `\nleader failover: kill -9 of ${leader.name} (pid ${leader.p.pid}) at ${new Date(killedAt).toISOString()}; ` +
        `${other.name} acquired the Lease after ${((acquiredAt - killedAt) / 1000).toFixed(1)} s and actuated its first cycle after ${(takeoverMs / 1000).toFixed(1)} s ` +
        `(lease ${LEASE_SECONDS} s, cycle ${CYCLE_MS / 1000} s)\n`,
    );
    expect(l.holderIdentity).toBe(`${holder.slice(0, holder.lastIndexOf('-'))}-${other.p.pid}`);
    expect(l.leaseTransitions).toBe(transitions + 1);
    // The survivor judges the Lease expired by its own clock, leaseDuration after it last saw it change (as
    // client-go does, so clock skew does not matter); it reads the Lease every retry period, so it sees the last
    // renewal up to one retry period late and acts on the expiry up to one more: hence 2 retry periods of slack.
    expect(acquiredAt - killedAt).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 2 * RETRY_MS);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 2 * RETRY_MS + CYCLE_MS);

    // A few more cycles, then: no cycle slot was actuated by both processes, and one actuated every slot from
    // the first to the last except the handover gap. (One process may run two cycles in its first slot: the
    // cycle at start, after its model loaded, and the schedule's tick. Both are the leader's, and idempotent.)
    await until('three actuated cycles by the survivor', async () => (actuations(other.audit).length >= 3 ? true : undefined), 60_000);
    const bySlot = new Map<number, Set<string>>();
    for (const x of procs) for (const d of actuations(x.audit)) bySlot.set(Math.floor(d.atMs / CYCLE_MS), new Set([...(bySlot.get(Math.floor(d.atMs / CYCLE_MS)) ?? []), x.name]));
    const twice = [...bySlot.entries()].filter(([, who]) => who.size > 1).map(([slot, who]) => `${new Date(slot * CYCLE_MS).toISOString()}: ${[...who].join(', ')}`);
    expect(twice).toEqual([]);
    const slots = [...bySlot.keys()].sort((p, q) => p - q);
    const gaps = slots.slice(1).filter((s, i) => s - slots[i] > 1).length;
    expect(gaps).toBeLessThanOrEqual(1);
  }, 180_000);
});
