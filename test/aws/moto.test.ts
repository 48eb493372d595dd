import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApplicationAutoScalingClient,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  PutScheduledActionCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { LambdaProvisionedConcurrencyActuator, parseAt } from '../../src/actuators/lambda-pc.js';
import { createMetricDataApi, createScalingApi, type AwsClientOptions, type ScalingApi, type ScheduledActionState } from '../../src/aws/clients.js';
import { AWS_ACTIONS_USED } from '../../src/aws/iam.js';
import { pointForecast } from '../../src/forecast/forecaster.js';
import { plan, type Plan, type PlanPolicy } from '../../src/plan/planner.js';
import { CloudWatchSource } from '../../src/sources/cloudwatch.js';
import { MINUTE_MS } from '../../src/util/clock.js';
import { startMoto, TEST_CREDENTIALS, TEST_REGION, type Moto } from '../support/moto.js';

/**
 * Against a real moto_server: CloudWatch history read back through CloudWatchSource, and the Lambda actuator's
 * scheduled actions. moto never runs scheduled actions and never pages GetMetricData (the unit tests cover
 * paging), so these tests check what AWS would store, not what it would later do.
 */

const MUTATING = new Set(['RegisterScalableTarget', 'PutScheduledAction', 'DeleteScheduledAction']);
const used = new Set<string>();
const commands: string[] = [];
let moto: Moto;
let opts: AwsClientOptions;
let raw: ApplicationAutoScalingClient;

beforeAll(async () => {
  moto = await startMoto();
  opts = {
    region: TEST_REGION,
    endpoint: moto.endpoint,
    credentials: TEST_CREDENTIALS,
    onCommand: (service, command) => {
      used.add(`${service}:${command}`);
      commands.push(command);
    },
  };
  raw = new ApplicationAutoScalingClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
});

afterAll(async () => {
  raw?.destroy();
  await moto?.stop();
});

const T0 = Date.parse('2026-01-05T10:00:30Z');
const model = { kind: 'lambda-provisioned-concurrency', meanDurationMs: 100, targetUtilization: 0.5 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 5, min: 5, max: 500, scaleDownDelayMinutes: 10, maxStepUp: Infinity };

function spikePlan(from: number, to: number, now = T0): Plan {
  const qps = Array.from({ length: 12 }, (_, i) => (i >= from && i < to ? 1000 : 100));
  return plan({ nowMs: now, forecast: pointForecast(now, 5 * MINUTE_MS, qps), observedQps: 100 }, model, policy);
}

function actuatorFor(fn: string, api: ScalingApi = createScalingApi(opts)): LambdaProvisionedConcurrencyActuator {
  return new LambdaProvisionedConcurrencyActuator({ api, functionName: fn, qualifier: 'live', model, policy, backoffMs: 10 });
}

const ctx = { target: 'checkout', nowMs: T0, dryRun: false };

function ours(actions: ScheduledActionState[]): ScheduledActionState[] {
  return actions.filter((a) => a.name.startsWith('prescale-')).sort((a, b) => parseAt(a.schedule) - parseAt(b.schedule));
}

function key(fn: string) {
  return { serviceNamespace: 'lambda', resourceId: `function:${fn}:live`, scalableDimension: 'lambda:function:ProvisionedConcurrency' } as const;
}

describe('CloudWatchSource against moto', () => {
  it('reads seeded per-minute Sums back as requests/second with NaN where nothing was published', async () => {
    const seeder = new CloudWatchClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const start = end - 60 * MINUTE_MS;
    const data = [];
    for (let i = 0; i < 60; i++) {
      if (i >= 20 && i < 25) continue; // a five-minute gap
      data.push({ MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'checkout' }], Timestamp: new Date(start + i * MINUTE_MS), Value: 60 * (i + 1), Unit: 'Count' as const });
    }
    for (let i = 0; i < data.length; i += 20) await seeder.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: data.slice(i, i + 20) }));
    // Another function's datapoints must not leak in through a loose dimension match.
    await seeder.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: [{ MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'other' }], Timestamp: new Date(start), Value: 1e6 }] }));
    seeder.destroy();
    const src = new CloudWatchSource({ api: createMetricDataApi(opts), namespace: 'AWS/Lambda', metric: 'Invocations', dimensions: { FunctionName: 'checkout' }, statistic: 'Sum', periodSeconds: 60 });
    const s = await src.history(start, end);
    expect(s.startMs).toBe(start);
    expect(s.values).toHaveLength(60);
    const want = Array.from({ length: 60 }, (_, i) => (i >= 20 && i < 25 ? NaN : i + 1));
    expect(Array.from(s.values)).toEqual(want);
  });
});

describe('LambdaProvisionedConcurrencyActuator against moto', () => {
  it("raises MinCapacity at least the lead time before a spike and lowers it after, leaving the user's policy and actions alone", async () => {
    const k = key('checkout');
    await raw.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'lambda', ResourceId: k.resourceId, ScalableDimension: k.scalableDimension, MinCapacity: 2, MaxCapacity: 100 }));
    await raw.send(
      new PutScalingPolicyCommand({
        PolicyName: 'user-target-tracking',
        ServiceNamespace: 'lambda',
        ResourceId: k.resourceId,
        ScalableDimension: k.scalableDimension,
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: { TargetValue: 0.7, PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' } },
      }),
    );
    await raw.send(
      new PutScheduledActionCommand({ ServiceNamespace: 'lambda', ResourceId: k.resourceId, ScalableDimension: k.scalableDimension, ScheduledActionName: 'user-weekend', Schedule: 'cron(0 8 ? * SAT *)', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 100 } }),
    );
    const policiesBefore = (await raw.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'lambda', ResourceId: k.resourceId }))).ScalingPolicies;

    const api = createScalingApi(opts);
    const a = actuatorFor('checkout', api);
    const records = await a.apply(spikePlan(6, 9), ctx);
    expect(records.filter((r) => r.result === 'error')).toEqual([]);

    const all = await api.describeScheduledActions(k);
    const mine = ours(all);
    const spikeAt = T0 + 6 * 5 * MINUTE_MS;
    const raise = mine.find((x) => (x.minCapacity ?? 0) >= 200);
    expect(raise).toBeDefined();
    expect(parseAt(raise?.schedule ?? '')).toBeLessThanOrEqual(spikeAt - policy.leadMinutes * MINUTE_MS);
    const lowering = mine.find((x) => parseAt(x.schedule) > parseAt(raise?.schedule ?? '') && (x.minCapacity ?? Infinity) < 200);
    expect(parseAt(lowering?.schedule ?? '')).toBeGreaterThanOrEqual(T0 + 9 * 5 * MINUTE_MS);
    expect(mine[mine.length - 1].minCapacity).toBe(policy.min);
    expect(all).toContainEqual({ name: 'user-weekend', schedule: 'cron(0 8 ? * SAT *)', minCapacity: 1, maxCapacity: 100 });
    const policiesAfter = (await raw.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'lambda', ResourceId: k.resourceId }))).ScalingPolicies;
    expect(policiesAfter).toEqual(policiesBefore);
    // Max raised to what the plan needs (200 > the user's 100); Min set to the plan for now (20 units of 100 QPS).
    expect(await api.describeScalableTarget(k)).toEqual({ minCapacity: 20, maxCapacity: 200 });

    commands.length = 0;
    const again = await a.apply(spikePlan(6, 9), ctx);
    expect(commands.filter((c) => MUTATING.has(c))).toEqual([]);
    expect(again).toEqual([expect.objectContaining({ action: 'noop' })]);
  });

  it('moves the raise when the forecast moves, deleting the stale actions', async () => {
    const a = actuatorFor('checkout');
    await a.apply(spikePlan(8, 10), ctx);
    const mine = ours(await createScalingApi(opts).describeScheduledActions(key('checkout')));
    expect(mine.map((x) => [x.schedule, x.minCapacity])).toEqual([
      ['at(2026-01-05T10:35:00)', 200],
      ['at(2026-01-05T11:00:00)', 20],
      ['at(2026-01-05T11:15:00)', 5],
    ]);
  });

  it('converges after a run killed midway: no duplicates, nothing stale, every raise lowered', async () => {
    // Reference: a clean run on another function.
    await actuatorFor('clean').apply(spikePlan(6, 9), ctx);
    await actuatorFor('clean').apply(spikePlan(8, 10), ctx);
    const want = ours(await createScalingApi(opts).describeScheduledActions(key('clean'))).map((x) => [x.schedule, x.minCapacity]);

    await actuatorFor('killed').apply(spikePlan(6, 9), ctx);
    const real = createScalingApi(opts);
    let changes = 0;
    const dying: ScalingApi = {
      describeScalableTarget: (kk, s) => real.describeScalableTarget(kk, s),
      describeScheduledActions: (kk, s) => real.describeScheduledActions(kk, s),
      registerScalableTarget: (kk, c, s) => (++changes > 1 ? Promise.reject(new Error('SIGKILL')) : real.registerScalableTarget(kk, c, s)),
      putScheduledAction: (kk, x, s) => (++changes > 1 ? Promise.reject(new Error('SIGKILL')) : real.putScheduledAction(kk, x, s)),
      deleteScheduledAction: (kk, n, s) => (++changes > 1 ? Promise.reject(new Error('SIGKILL')) : real.deleteScheduledAction(kk, n, s)),
    };
    await actuatorFor('killed', dying).apply(spikePlan(8, 10), ctx);
    const half = ours(await real.describeScheduledActions(key('killed')));
    expect(half[half.length - 1].minCapacity).toBe(policy.min); // the last action in time is a lowering
    await actuatorFor('killed').apply(spikePlan(8, 10), ctx);
    const after = ours(await real.describeScheduledActions(key('killed')));
    expect(after.map((x) => [x.schedule, x.minCapacity])).toEqual(want);
    expect(new Set(after.map((x) => x.schedule)).size).toBe(after.length);
  });

  it('dry run calls nothing that changes state', async () => {
    commands.length = 0;
    const recs = await actuatorFor('dry').apply(spikePlan(6, 9), { ...ctx, dryRun: true });
    expect(recs.length).toBeGreaterThan(1);
    expect(recs.every((r) => r.result === 'dry-run')).toBe(true);
    expect(commands.filter((c) => MUTATING.has(c))).toEqual([]);
    expect(await createScalingApi(opts).describeScalableTarget(key('dry'))).toBeUndefined();
  });
});

describe('IAM', () => {
  it('AWS_ACTIONS_USED lists exactly the calls the code made in these tests', () => {
    expect([...used].sort()).toEqual([...AWS_ACTIONS_USED].sort());
  });
});
