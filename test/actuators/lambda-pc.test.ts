import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  actionName,
  actionPrefix,
  actionsFor,
  compactSchedule,
  LambdaProvisionedConcurrencyActuator,
  parseAt,
  type Level,
} from '../../src/actuators/lambda-pc.js';
import { AwsQuotaError, type ScheduledActionState } from '../../src/aws/clients.js';
import { pointForecast } from '../../src/forecast/forecaster.js';
import { plan, type CapacityModel, type Plan, type PlanPoint, type PlanPolicy } from '../../src/plan/planner.js';
import { awsError, FakeScalingApi } from '../support/fake-scaling-api.js';

const MIN = 60_000;
const T0 = Date.parse('2026-01-05T10:00:30Z');
const model: Extract<CapacityModel, { kind: 'lambda-provisioned-concurrency' }> = { kind: 'lambda-provisioned-concurrency', meanDurationMs: 100, targetUtilization: 0.5 };
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 5, min: 5, max: 500, scaleDownDelayMinutes: 10, maxStepUp: Infinity };
const defaults = { gridMinutes: 5, hysteresis: 0.1, minDipMinutes: 15, maxActions: 50, tailMinutes: 10 };
const RESOURCE = 'function:checkout:live';

/** Plan from a 5-minute point forecast of QPS starting at `now`: 100 QPS → 20 units, 1000 QPS → 200 units. */
function planOf(qps: number[], now = T0): Plan {
  return plan({ nowMs: now, forecast: pointForecast(now, 5 * MIN, qps), observedQps: qps[0] }, model, policy);
}

/** Base load with a spike at steps [from, to). */
function spike(from: number, to: number, n = 12): number[] {
  return Array.from({ length: n }, (_, i) => (i >= from && i < to ? 1000 : 100));
}

function points(caps: number[], now = T0, stepMs = 5 * MIN): PlanPoint[] {
  return caps.map((capacity, h) => ({ atMs: now + h * stepMs, qps: 0, capacity, reason: 'forecast' }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** MinCapacity in effect at `t` if AWS runs `actions` on time starting from `current`. */
function effectiveAt(actions: readonly ScheduledActionState[], current: number, t: number): number {
  let v = current;
  let at = -Infinity;
  for (const a of actions) {
    const ta = parseAt(a.schedule);
    if (ta <= t && ta >= at) [v, at] = [a.minCapacity ?? v, ta];
  }
  return v;
}

function actuator(api: FakeScalingApi, extra: Partial<ConstructorParameters<typeof LambdaProvisionedConcurrencyActuator>[0]> = {}): LambdaProvisionedConcurrencyActuator {
  return new LambdaProvisionedConcurrencyActuator({ api, functionName: 'checkout', qualifier: 'live', model, policy, sleep: async () => undefined, ...extra });
}

const ctx = (nowMs = T0, dryRun = false) => ({ target: 'checkout', nowMs, dryRun });

describe('compactSchedule', () => {
  it('raises on the grid at least the lead time before a spike and lowers after it, ending at the floor', () => {
    const p = planOf(spike(6, 9)); // spike 10:30:30–10:45:30
    const levels = compactSchedule(p.schedule, { ...defaults, nowMs: T0, floor: policy.min, maxChanges: 50 });
    expect(levels.map((l) => [iso(l.fromMs), l.capacity])).toEqual([
      ['10:00', 20],
      ['10:25', 200], // spike at 10:30:30, lead 5 min → wanted from 10:25:30, rounded earlier
      ['10:55', 20], // the planner holds 200 until 10:50:30 (10 min delay); the slot from 10:50 keeps it, lowered after
      ['11:15', 5], // after the horizon (11:00:30) + tail 10 min, back to the floor
    ]);
    expect(levels[0].fromMs).toBe(T0);
  });

  it.each([
    ['flat at the floor: nothing to schedule', [5, 5, 5, 5], [[0, 5]]],
    ['small changes merge into the higher (hysteresis)', [100, 105, 98, 100, 5], [[0, 105], [4, 5]]],
    ['a short dip is filled', [200, 200, 20, 200, 200, 5, 5, 5, 5], [[0, 200], [5, 5]]],
    ['a long dip stays', [200, 20, 20, 20, 20, 200, 5, 5, 5, 5], [[0, 200], [1, 20], [5, 200], [6, 5]]],
  ])('%s', (_name, caps, want) => {
    const levels = compactSchedule(points(caps, T0 - 30_000), { ...defaults, tailMinutes: 0, nowMs: T0 - 30_000, floor: 5, maxChanges: 50 });
    expect(levels.map((l) => [(l.fromMs - (T0 - 30_000)) / (5 * MIN), l.capacity])).toEqual(want);
  });

  it('merges the closest neighbours into the higher when over the action budget', () => {
    const caps = [10, 50, 10, 60, 10, 70, 10, 80, 10, 90, 5, 5, 5, 5];
    const levels = compactSchedule(points(caps), { ...defaults, minDipMinutes: 0, nowMs: T0, floor: 5, maxChanges: 3 });
    expect(levels.length - 1).toBeLessThanOrEqual(3);
    expect(levels[levels.length - 1].capacity).toBe(5);
  });

  it('never plans below the schedule, ends at the floor, stays within the budget (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 5, max: 300 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 299 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 15 }),
        (caps, offsetS, maxChanges, gridMinutes) => {
          const now = Date.parse('2026-01-05T10:00:00Z') + offsetS * 1000;
          const pts = points(caps, now, MIN);
          const levels = compactSchedule(pts, { ...defaults, gridMinutes, nowMs: now, floor: 5, maxChanges });
          const acts = actionsFor(levels, 'prescale-f-q-');
          expect(acts.length).toBeLessThanOrEqual(maxChanges);
          expect(new Set(acts.map((a) => a.name)).size).toBe(acts.length);
          expect(levels[levels.length - 1].capacity).toBe(5);
          for (const a of acts) expect(parseAt(a.schedule)).toBeGreaterThanOrEqual(now + MIN);
          // From now to the horizon end the level in effect is never below the plan.
          for (let t = now; t < now + caps.length * MIN; t += 30_000) {
            const planned = caps[Math.floor((t - now) / MIN)];
            expect(effectiveAt(acts, levels[0].capacity, t)).toBeGreaterThanOrEqual(planned);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('names', () => {
  it('are deterministic from the time, free of : / | and at most 256 characters', () => {
    const at = Date.parse('2026-01-05T10:25:00Z');
    expect(actionName(actionPrefix('checkout', 'live'), at)).toBe('prescale-checkout-live-20260105T1025');
    const long = actionName(actionPrefix('f'.repeat(140), 'q'.repeat(128)), at);
    expect(long.length).toBeLessThanOrEqual(256);
    expect(long).not.toMatch(/[:/|]/);
    expect(long).toMatch(/^prescale-f+-q+-[0-9a-f]{8}-20260105T1025$/);
    expect(actionPrefix('f'.repeat(140), 'q'.repeat(128))).not.toBe(actionPrefix('f'.repeat(140), 'q'.repeat(127)));
  });

  it.each([
    ['at(2026-01-05T10:25:00)', Date.parse('2026-01-05T10:25:00Z')],
    ['cron(0 10 * * ? *)', NaN],
    ['at(2026-01-05 10:25:00)', NaN],
  ])('parseAt(%p)', (s, want) => {
    expect(parseAt(s)).toBe(want);
  });

  it('rejects $LATEST and names with separators', () => {
    expect(() => actuator(new FakeScalingApi(), { qualifier: '$LATEST' })).toThrow(/never \$LATEST/);
    expect(() => actuator(new FakeScalingApi(), { functionName: 'a:b' })).toThrow(/function "a:b"/);
  });
});

describe('LambdaProvisionedConcurrencyActuator reconcile (fake Application Auto Scaling)', () => {
  it('registers a missing target, writes the plan, and a second run with the same plan changes nothing', async () => {
    const api = new FakeScalingApi();
    api.invisibleReads = 1; // first Describe: missing; then the poll after Register does not see it yet
    const a = actuator(api);
    const p = planOf(spike(6, 9));
    const first = await a.apply(p, ctx());
    expect(first.filter((r) => r.result === 'error')).toEqual([]);
    expect(api.targets.get(RESOURCE)).toEqual({ minCapacity: 20, maxCapacity: 500 });
    const acts = api.actionsOf(RESOURCE).sort((x, y) => parseAt(x.schedule) - parseAt(y.schedule));
    expect(acts.map((x) => [x.name, x.schedule, x.minCapacity])).toEqual([
      ['prescale-checkout-live-20260105T1025', 'at(2026-01-05T10:25:00)', 200],
      ['prescale-checkout-live-20260105T1055', 'at(2026-01-05T10:55:00)', 20],
      ['prescale-checkout-live-20260105T1115', 'at(2026-01-05T11:15:00)', 5],
    ]);
    const before = api.mutations();
    const second = await a.apply(p, ctx());
    expect(api.mutations()).toBe(before);
    expect(second).toEqual([expect.objectContaining({ action: 'noop', result: 'ok' })]);
    expect(await a.currentCapacity()).toBe(20);
  });

  it("keeps the user's Min/Max bounds and actions: raises Max only when the plan needs more, never lowers it", async () => {
    const api = new FakeScalingApi();
    api.targets.set(RESOURCE, { minCapacity: 20, maxCapacity: 100 });
    const user: ScheduledActionState = { name: 'nightly-floor', schedule: 'cron(0 2 * * ? *)', minCapacity: 1, maxCapacity: 100 };
    const userOld: ScheduledActionState = { name: 'user-at', schedule: 'at(2025-01-01T00:00:00)', minCapacity: 3 };
    await api.putScheduledAction({ serviceNamespace: 'lambda', resourceId: RESOURCE, scalableDimension: 'lambda:function:ProvisionedConcurrency' }, user);
    await api.putScheduledAction({ serviceNamespace: 'lambda', resourceId: RESOURCE, scalableDimension: 'lambda:function:ProvisionedConcurrency' }, userOld);
    await actuator(api).apply(planOf(spike(6, 9)), ctx());
    expect(api.targets.get(RESOURCE)).toEqual({ minCapacity: 20, maxCapacity: 200 });
    expect(api.actionsOf(RESOURCE)).toEqual(expect.arrayContaining([user, userOld]));
    // A later, smaller plan leaves the raised Max alone.
    await actuator(api).apply(planOf(Array(12).fill(100), T0 + 60 * MIN), ctx(T0 + 60 * MIN));
    expect(api.targets.get(RESOURCE)?.maxCapacity).toBe(200);
    expect(api.actionsOf(RESOURCE)).toEqual(expect.arrayContaining([user, userOld]));
  });

  it('dry run records every change it would make and makes none', async () => {
    const api = new FakeScalingApi();
    const records = await actuator(api).apply(planOf(spike(6, 9)), ctx(T0, true));
    expect(api.mutations()).toBe(0);
    expect(records.map((r) => [r.action, r.result])).toEqual([
      ['register-scalable-target', 'dry-run'],
      ['put-scheduled-action', 'dry-run'],
      ['put-scheduled-action', 'dry-run'],
      ['put-scheduled-action', 'dry-run'],
    ]);
  });

  it('moves a raise when the forecast moves: new actions first (latest first), stale ones deleted after', async () => {
    const api = new FakeScalingApi();
    const a = actuator(api);
    await a.apply(planOf(spike(6, 9)), ctx());
    api.calls.length = 0;
    await a.apply(planOf(spike(8, 10)), ctx());
    const ops = api.calls.filter((c) => c.op !== 'describeScalableTarget' && c.op !== 'describeScheduledActions').map((c) => `${c.op} ${JSON.stringify(c.arg)}`);
    const firstDelete = ops.findIndex((o) => o.startsWith('delete'));
    expect(firstDelete).toBeGreaterThan(0);
    expect(ops.slice(firstDelete).every((o) => o.startsWith('delete'))).toBe(true);
    const acts = api.actionsOf(RESOURCE);
    expect(acts.map((x) => iso(parseAt(x.schedule))).sort()).toEqual(['10:35', '11:00', '11:15']);
  });

  it('deletes our past actions and lowers MinCapacity now when the plan no longer wants the raise', async () => {
    const api = new FakeScalingApi();
    const a = actuator(api);
    await a.apply(planOf(spike(6, 9)), ctx());
    api.targets.set(RESOURCE, { minCapacity: 200, maxCapacity: 500 }); // AWS ran the 10:25 raise
    const later = T0 + 3 * 60 * MIN;
    await a.apply(planOf(Array(12).fill(100), later), ctx(later));
    expect(api.targets.get(RESOURCE)?.minCapacity).toBe(20);
    expect(api.actionsOf(RESOURCE).every((x) => parseAt(x.schedule) > later)).toBe(true);
    expect(effectiveAt(api.actionsOf(RESOURCE), 20, later + 24 * 60 * MIN)).toBe(policy.min);
  });

  it('retries ConcurrentUpdateException and succeeds', async () => {
    const api = new FakeScalingApi();
    let left = 2;
    api.fault = (op) => (op === 'putScheduledAction' && left-- > 0 ? awsError('ConcurrentUpdateException') : undefined);
    const records = await actuator(api).apply(planOf(spike(6, 9)), ctx());
    expect(records.filter((r) => r.result === 'error')).toEqual([]);
    expect(api.actionsOf(RESOURCE)).toHaveLength(3);
  });

  it('stays within half the room other actions leave, and refuses when there is none', async () => {
    const api = new FakeScalingApi();
    const key = { serviceNamespace: 'lambda', resourceId: RESOURCE, scalableDimension: 'lambda:function:ProvisionedConcurrency' } as const;
    api.targets.set(RESOURCE, { minCapacity: 5, maxCapacity: 500 });
    for (let i = 0; i < 196; i++) await api.putScheduledAction(key, { name: `user-${i}`, schedule: 'cron(0 1 * * ? *)', minCapacity: 1 });
    await actuator(api).apply(planOf(spike(6, 9)), ctx());
    const ours = api.actionsOf(RESOURCE).filter((x) => x.name.startsWith('prescale-'));
    expect(ours).toHaveLength(2); // (200 - 196) / 2
    // Three changes do not fit in two: the raise moves to now (MinCapacity set at once), the lowerings stay.
    const now = api.targets.get(RESOURCE)?.minCapacity ?? 0;
    expect(now).toBe(200);
    expect(effectiveAt(ours, now, Date.parse('2026-01-05T10:30:30Z'))).toBeGreaterThanOrEqual(200);
    expect(effectiveAt(ours, now, T0 + 24 * 60 * MIN)).toBe(5);
    for (let i = 196; i < 199; i++) await api.putScheduledAction(key, { name: `user-${i}`, schedule: 'cron(0 1 * * ? *)', minCapacity: 1 });
    const before = api.mutations();
    const recs = await actuator(api).apply(planOf(spike(6, 9)), ctx());
    expect(recs).toEqual([expect.objectContaining({ result: 'error', detail: expect.stringMatching(/no room/) })]);
    expect(api.mutations()).toBe(before);
  });

  it('on LimitExceeded stops creating, keeps the old raises with their lowerings, and recovers afterwards', async () => {
    const api = new FakeScalingApi();
    const a = actuator(api);
    await a.apply(planOf(spike(6, 9)), ctx());
    const old = api.actionsOf(RESOURCE);
    let puts = 0;
    api.fault = (op) => (op === 'putScheduledAction' && ++puts >= 2 ? new AwsQuotaError('LimitExceededException: quota') : undefined);
    const recs = await a.apply(planOf(spike(8, 10)), ctx());
    expect(recs.some((r) => r.result === 'error' && /quota reached/.test(r.detail))).toBe(true);
    expect(api.calls.some((c) => c.op === 'deleteScheduledAction')).toBe(false);
    for (const o of old) expect(api.actionsOf(RESOURCE)).toContainEqual(o);
    expect(effectiveAt(api.actionsOf(RESOURCE), 20, T0 + 24 * 60 * MIN)).toBe(5);
    api.fault = undefined;
    await a.apply(planOf(spike(8, 10)), ctx());
    const clean = new FakeScalingApi();
    await actuator(clean).apply(planOf(spike(8, 10)), ctx());
    expect(api.actionsOf(RESOURCE).sort(byName)).toEqual(clean.actionsOf(RESOURCE).sort(byName));
  });

  it('a run killed after any number of changes never leaves a raise without a lowering, and a restart converges', async () => {
    const replan = planOf(spike(9, 11));
    const clean = new FakeScalingApi();
    await actuator(clean).apply(planOf(spike(6, 9)), ctx());
    await actuator(clean).apply(replan, ctx());
    const total = clean.mutations();
    for (let k = 0; k <= total; k++) {
      const api = new FakeScalingApi();
      await actuator(api).apply(planOf(spike(6, 9)), ctx());
      const start = api.mutations();
      api.fault = (op) => (['registerScalableTarget', 'putScheduledAction', 'deleteScheduledAction'].includes(op) && api.mutations() - start > k ? new Error('SIGKILL') : undefined);
      await actuator(api).apply(replan, ctx());
      const min = api.targets.get(RESOURCE)?.minCapacity ?? 0;
      expect(effectiveAt(api.actionsOf(RESOURCE), min, T0 + 24 * 60 * MIN)).toBe(policy.min);
      api.fault = undefined;
      await actuator(api).apply(replan, ctx());
      expect(api.actionsOf(RESOURCE).sort(byName)).toEqual(clean.actionsOf(RESOURCE).sort(byName));
      expect(api.targets.get(RESOURCE)).toEqual(clean.targets.get(RESOURCE));
    }
  });

  it('without a forecast (fallback) keeps the last written schedule, never lowers, and raises now only with a lowering', async () => {
    const api = new FakeScalingApi();
    const a = actuator(api);
    await a.apply(planOf(spike(6, 9)), ctx());
    const written = api.actionsOf(RESOURCE).sort(byName);
    const later = T0 + 2 * MIN;
    const fallback = (observedQps: number, current: number): Plan => plan({ nowMs: later, forecast: undefined, observedQps, currentCapacity: current, fallback: true }, model, policy);
    api.calls.length = 0;
    await a.apply(fallback(50, 20), ctx(later));
    expect(api.mutations()).toBe(0);
    expect(api.actionsOf(RESOURCE).sort(byName)).toEqual(written);
    // Observed load above the current floor: raised now; the existing final lowering covers it.
    await a.apply(fallback(600, 20), ctx(later));
    expect(api.targets.get(RESOURCE)?.minCapacity).toBe(120);
    expect(api.actionsOf(RESOURCE).sort(byName)).toEqual(written);
    // A target with no schedule of ours gets the final lowering before the raise.
    const fresh = new FakeScalingApi();
    fresh.targets.set(RESOURCE, { minCapacity: 5, maxCapacity: 500 });
    await actuator(fresh).apply(fallback(600, 5), ctx(later));
    expect(fresh.targets.get(RESOURCE)?.minCapacity).toBe(120);
    expect(fresh.actionsOf(RESOURCE).map((x) => [iso(parseAt(x.schedule)), x.minCapacity])).toEqual([['10:15', 5]]);
  });

  it('reports an outside failure as a record instead of throwing', async () => {
    const api = new FakeScalingApi();
    api.fault = () => awsError('AccessDeniedException', 'not authorized to perform DescribeScalableTargets');
    const recs = await actuator(api).apply(planOf(spike(6, 9)), ctx());
    expect(recs).toEqual([expect.objectContaining({ action: 'error', result: 'error', detail: expect.stringMatching(/AccessDeniedException: not authorized/) })]);
    expect(await actuator(api).currentCapacity()).toBeUndefined();
  });
});

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}

export type { Level };

describe('lambdaActuatorFromConfig', () => {
  it('maps the config entry onto the actuator', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    const { lambdaActuatorFromConfig } = await import('../../src/actuators/lambda-pc.js');
    const cfg = parseConfig(
      `
targets:
  - name: checkout
    history: { source: cloudwatch, namespace: AWS/Lambda, metric: Invocations, dimensions: { FunctionName: checkout } }
    actuators:
      - { kind: lambda-provisioned-concurrency, function: checkout, qualifier: live, meanDurationMs: 120, targetUtilization: 0.7, min: 5, max: 500 }
`,
      '/tmp/c.yaml',
    );
    const entry = cfg.targets[0].actuators[0];
    if (entry.kind !== 'lambda-provisioned-concurrency') throw new Error('wrong kind');
    const a = lambdaActuatorFromConfig(entry, { api: new FakeScalingApi(), quantile: 0.9 });
    expect(a.id).toBe('lambda:function:checkout:live');
    expect(a.resourceId).toBe('function:checkout:live');
    expect(a.model).toEqual({ kind: 'lambda-provisioned-concurrency', meanDurationMs: 120, targetUtilization: 0.7 });
    expect(a.policy).toEqual({ quantile: 0.9, leadMinutes: 5, min: 5, max: 500, scaleDownDelayMinutes: 10, maxStepUp: Infinity });
  });
});
