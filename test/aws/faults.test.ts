import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { LambdaProvisionedConcurrencyActuator, parseAt } from '../../src/actuators/lambda-pc.js';
import { createMetricDataApi, createScalingApi, type AwsClientOptions, type ScheduledActionState } from '../../src/aws/clients.js';
import { pointForecast } from '../../src/forecast/forecaster.js';
import { plan, type Plan, type PlanPolicy } from '../../src/plan/planner.js';
import { CloudWatchSource } from '../../src/sources/cloudwatch.js';
import { MINUTE_MS } from '../../src/util/clock.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startMoto, TEST_CREDENTIALS, TEST_REGION, type Moto } from '../support/moto.js';

/**
 * AWS behaviours moto lacks, injected by our own HTTP layer in front of it. Each case checks that no capacity
 * is lost (the raise before the spike and the final lowering are in place, or the old ones are kept) and that
 * the state converges once the fault is gone.
 */

let moto: Moto;
let proxy: FaultProxy;
let opts: AwsClientOptions;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  opts = { region: TEST_REGION, endpoint: proxy.endpoint, credentials: TEST_CREDENTIALS, maxAttempts: 3, requestTimeoutMs: 1_000 };
});

afterEach(() => {
  proxy.clearFaults();
  proxy.scheduledActionQuota = 200;
});

afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});

const T0 = Date.parse('2026-01-05T10:00:30Z');
const model = { kind: 'lambda-provisioned-concurrency', meanDurationMs: 100, targetUtilization: 0.5 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 5, min: 5, max: 500, scaleDownDelayMinutes: 10, maxStepUp: Infinity };
const ctx = { target: 'checkout', nowMs: T0, dryRun: false };
const SPIKE_AT = T0 + 30 * MINUTE_MS;

function spikePlan(from: number, to: number): Plan {
  const qps = Array.from({ length: 12 }, (_, i) => (i >= from && i < to ? 1000 : 100));
  return plan({ nowMs: T0, forecast: pointForecast(T0, 5 * MINUTE_MS, qps), observedQps: 100 }, model, policy);
}

function actuatorFor(fn: string): LambdaProvisionedConcurrencyActuator {
  return new LambdaProvisionedConcurrencyActuator({ api: createScalingApi(opts), functionName: fn, qualifier: 'live', model, policy, backoffMs: 10 });
}

function key(fn: string) {
  return { serviceNamespace: 'lambda', resourceId: `function:${fn}:live`, scalableDimension: 'lambda:function:ProvisionedConcurrency' } as const;
}

async function listOurs(fn: string): Promise<ScheduledActionState[]> {
  const all = await createScalingApi({ ...opts, endpoint: moto.endpoint }).describeScheduledActions(key(fn));
  return all.filter((a) => a.name.startsWith('prescale-')).sort((a, b) => parseAt(a.schedule) - parseAt(b.schedule));
}

/** MinCapacity in effect at `t` if AWS runs our actions on time, from the target's current MinCapacity. */
async function effectiveAt(fn: string, t: number): Promise<number> {
  const target = await createScalingApi({ ...opts, endpoint: moto.endpoint }).describeScalableTarget(key(fn));
  let v = target?.minCapacity ?? 0;
  for (const a of await listOurs(fn)) if (parseAt(a.schedule) <= t) v = a.minCapacity ?? v;
  return v;
}

/** The user's own actions, written straight into moto (in parallel: only the count matters here). */
async function seedUserActions(fn: string, n: number): Promise<void> {
  const direct = createScalingApi({ ...opts, endpoint: moto.endpoint });
  await Promise.all(Array.from({ length: n }, (_, i) => direct.putScheduledAction(key(fn), { name: `user-${i}`, schedule: `cron(${i % 60} 1 * * ? *)`, minCapacity: 1 })));
}

async function expectCapacitySafe(fn: string): Promise<void> {
  expect(await effectiveAt(fn, SPIKE_AT)).toBeGreaterThanOrEqual(200); // raised for the spike
  expect(await effectiveAt(fn, T0 + 24 * 60 * MINUTE_MS)).toBe(policy.min); // and lowered afterwards
}

describe('Lambda actuator behind the fault proxy', () => {
  it.each([
    ['throttling on reads and writes', [{ op: 'DescribeScalableTargets', times: 1, fault: { kind: 'error', type: 'ThrottlingException' } }, { op: 'PutScheduledAction', times: 1, fault: { kind: 'error', type: 'ThrottlingException' } }]],
    ['a 500 and a 503', [{ op: 'PutScheduledAction', times: 1, fault: { kind: 'status', status: 500 } }, { op: 'DescribeScheduledActions', times: 1, fault: { kind: 'status', status: 503 } }]],
    ['ConcurrentUpdateException twice', [{ op: 'PutScheduledAction', times: 2, fault: { kind: 'error', type: 'ConcurrentUpdateException' } }]],
    ['a response slower than the request timeout', [{ op: 'PutScheduledAction', times: 1, fault: { kind: 'delay', ms: 1_500 } }]],
  ] as const)('%s: retried, nothing lost, complete in one run', async (name, faults) => {
    const fn = `f-${name.replace(/[^a-z0-9]+/g, '-')}`.slice(0, 40);
    for (const f of faults) proxy.inject({ ...f });
    const records = await actuatorFor(fn).apply(spikePlan(6, 9), ctx);
    expect(records.filter((r) => r.result === 'error')).toEqual([]);
    expect(proxy.calls.some((c) => c.status >= 400) || faults.some((f) => f.fault.kind === 'delay')).toBe(true);
    await expectCapacitySafe(fn);
    const names = (await listOurs(fn)).map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('LimitExceeded: stops creating, keeps the old raise and its lowering, records the error, recovers after', async () => {
    const fn = 'limit';
    await actuatorFor(fn).apply(spikePlan(6, 9), ctx);
    const old = await listOurs(fn);
    proxy.inject({ op: 'PutScheduledAction', skip: 1, times: 10, fault: { kind: 'error', type: 'LimitExceededException' } });
    const records = await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect(records.some((r) => r.result === 'error' && /quota reached.*LimitExceededException/.test(r.detail))).toBe(true);
    expect(records.some((r) => r.action === 'delete-scheduled-action')).toBe(false);
    const during = await listOurs(fn);
    for (const o of old) expect(during).toContainEqual(o);
    expect(await effectiveAt(fn, T0 + 24 * 60 * MINUTE_MS)).toBe(policy.min);
    proxy.clearFaults();
    await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect((await listOurs(fn)).map((a) => [a.schedule, a.minCapacity])).toEqual([
      ['at(2026-01-05T10:35:00)', 200],
      ['at(2026-01-05T11:00:00)', 20],
      ['at(2026-01-05T11:15:00)', 5],
    ]);
  });

  it('the 200-action quota (which moto does not enforce): fits in the room left, and keeps capacity when the room runs out', async () => {
    const fn = 'quota';
    const api = createScalingApi(opts);
    await api.registerScalableTarget(key(fn), { minCapacity: 5, maxCapacity: 500 });
    await seedUserActions(fn, 194);
    await actuatorFor(fn).apply(spikePlan(6, 9), ctx);
    expect((await listOurs(fn)).length).toBe(3); // (200 - 194) / 2
    await expectCapacitySafe(fn);
    // The user fills the target to the quota (the proxy enforces it: one more is refused).
    for (let i = 194; i < 197; i++) await api.putScheduledAction(key(fn), { name: `user-${i}`, schedule: 'cron(0 2 * * ? *)', minCapacity: 1 });
    await expect(api.putScheduledAction(key(fn), { name: 'user-over', schedule: 'cron(0 3 * * ? *)', minCapacity: 1 })).rejects.toThrow(/LimitExceededException/);
    // Room for one action of ours: the raise moves to now, the final lowering stays.
    const records = await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect(records.filter((r) => r.result === 'error')).toEqual([]);
    expect((await listOurs(fn)).map((a) => [a.schedule, a.minCapacity])).toEqual([['at(2026-01-05T11:15:00)', 5]]);
    await expectCapacitySafe(fn);
    // The user removes theirs: the next cycle converges to the full schedule.
    for (let i = 190; i < 197; i++) await api.deleteScheduledAction(key(fn), `user-${i}`);
    const after = await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect(after.filter((r) => r.result === 'error')).toEqual([]);
    expect((await listOurs(fn)).map((a) => a.schedule)).toEqual(['at(2026-01-05T10:35:00)', 'at(2026-01-05T11:00:00)', 'at(2026-01-05T11:15:00)']);
    expect(await effectiveAt(fn, T0)).toBe(20);
  });

  it('a quota hit mid-reconcile (less room than Describe showed): raises now what could not be scheduled, keeps the old actions', async () => {
    const fn = 'quota-race';
    const api = createScalingApi(opts);
    await api.registerScalableTarget(key(fn), { minCapacity: 5, maxCapacity: 500 });
    await seedUserActions(fn, 194);
    await actuatorFor(fn).apply(spikePlan(6, 9), ctx);
    const old = await listOurs(fn);
    proxy.scheduledActionQuota = 198; // another writer took the room
    const records = await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect(records.some((r) => r.result === 'error' && /quota reached.*LimitExceededException/.test(r.detail))).toBe(true);
    const during = await listOurs(fn);
    for (const o of old) expect(during).toContainEqual(o);
    expect(await effectiveAt(fn, T0)).toBe(200); // the 10:35 raise could not be scheduled: applied now
    expect(await effectiveAt(fn, T0 + 24 * 60 * MINUTE_MS)).toBe(policy.min);
    proxy.scheduledActionQuota = 200;
    await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect((await listOurs(fn)).map((a) => a.schedule)).toEqual(['at(2026-01-05T10:35:00)', 'at(2026-01-05T11:00:00)', 'at(2026-01-05T11:15:00)']);
  });

  it('throttling that outlasts the retries: an error record, the previous actions intact, recovery next cycle', async () => {
    const fn = 'long-throttle';
    await actuatorFor(fn).apply(spikePlan(6, 9), ctx);
    const old = await listOurs(fn);
    proxy.inject({ op: 'DescribeScheduledActions', times: 3, fault: { kind: 'error', type: 'ThrottlingException' } });
    const records = await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect(records).toEqual([expect.objectContaining({ result: 'error', detail: expect.stringMatching(/ThrottlingException/) })]);
    expect(await listOurs(fn)).toEqual(old);
    await actuatorFor(fn).apply(spikePlan(8, 10), ctx);
    expect((await listOurs(fn)).map((a) => a.schedule)).toEqual(['at(2026-01-05T10:35:00)', 'at(2026-01-05T11:00:00)', 'at(2026-01-05T11:15:00)']);
  });
});

describe('CloudWatchSource behind the fault proxy', () => {
  const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  const start = end - 10 * MINUTE_MS;

  beforeAll(async () => {
    const seeder = new CloudWatchClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    const data = Array.from({ length: 10 }, (_, i) => ({ MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'cw' }], Timestamp: new Date(start + i * MINUTE_MS), Value: 120 }));
    await seeder.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: data }));
    seeder.destroy();
  });

  function src(timeoutMs = 10_000): CloudWatchSource {
    return new CloudWatchSource({ api: createMetricDataApi(opts), namespace: 'AWS/Lambda', metric: 'Invocations', dimensions: { FunctionName: 'cw' }, statistic: 'Sum', periodSeconds: 60, timeoutMs });
  }

  it('rides out one throttling answer', async () => {
    proxy.inject({ op: 'GetMetricData', times: 1, fault: { kind: 'error', type: 'Throttling' } });
    const s = await src().history(start, end);
    expect(Array.from(s.values)).toEqual(Array(10).fill(2));
  });

  it('gives up within its budget on a hung CloudWatch, naming the metric', async () => {
    proxy.inject({ op: 'GetMetricData', times: 5, fault: { kind: 'delay', ms: 1_500 } });
    await expect(src(500).history(start, end)).rejects.toThrow(/cloudwatch AWS\/Lambda Invocations \{FunctionName=cw\} Sum: GetMetricData failed: timed out/);
  });
});
