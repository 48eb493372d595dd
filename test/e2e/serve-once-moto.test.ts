import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { parseAt } from '../../src/actuators/lambda-pc.js';
import { createScalingApi, type ScheduledActionState } from '../../src/aws/clients.js';
import { DAY_MS, MINUTE_MS } from '../../src/util/clock.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startMoto, TEST_CREDENTIALS, TEST_REGION, type Moto } from '../support/moto.js';

/**
 * `prescale serve --once` as a user runs it, against moto_server (through our proxy, which only counts calls
 * here). CloudWatch holds two days of Lambda invocations at 100 QPS with a 15-minute spike to 1000 QPS at the
 * same time every day, the next one 20–25 minutes from now. One cycle must leave scheduled actions that raise
 * MinCapacity at least the lead time (5 min) before the spike and lower it after; a second run changes nothing.
 */

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
// One process (no tsx wrapper process), so SIGKILL hits the process doing the work.
const CLI = ['--import', 'tsx', path.join(root, 'src/cli.ts'), 'serve', '--once', '--json'];
const STEP = 5 * MINUTE_MS;
const MUTATING = new Set(['RegisterScalableTarget', 'PutScheduledAction', 'DeleteScheduledAction']);
const RESOURCE = { serviceNamespace: 'lambda', resourceId: 'function:checkout:live', scalableDimension: 'lambda:function:ProvisionedConcurrency' } as const;

let moto: Moto;
let proxy: FaultProxy;
let dir: string;
let configFile: string;
const SPIKE = Math.ceil((Date.now() + 20 * MINUTE_MS) / STEP) * STEP;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  dir = mkdtempSync(path.join(tmpdir(), 'prescale-serve-once-'));
  configFile = path.join(dir, 'prescale.yaml');
  writeFileSync(
    configFile,
    `dryRun: false
aws: { region: ${TEST_REGION}, endpoint: "${proxy.endpoint}" }
http: { host: 127.0.0.1, port: 0 }
modelsDir: "${path.join(dir, 'models')}"
targets:
  - name: checkout
    history: { source: cloudwatch, namespace: AWS/Lambda, metric: Invocations, dimensions: { FunctionName: checkout, Resource: "checkout:live" }, statistic: Sum, periodSeconds: 60, days: 2 }
    forecast: { horizonMinutes: 60, quantile: 0.9, model: seasonal-naive, stepMinutes: 5 }
    actuators:
      - { kind: lambda-provisioned-concurrency, function: checkout, qualifier: live, meanDurationMs: 100, targetUtilization: 0.5, leadMinutes: 5, min: 5, max: 500 }
`,
  );
  const seeder = new CloudWatchClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
  const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  const data = [];
  for (let t = end - 2 * DAY_MS; t < end; t += MINUTE_MS) {
    const phase = (((t - SPIKE) % DAY_MS) + DAY_MS) % DAY_MS;
    const qps = phase < 15 * MINUTE_MS ? 1000 : 100;
    data.push({ MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'checkout' }, { Name: 'Resource', Value: 'checkout:live' }], Timestamp: new Date(t), Value: qps * 60, Unit: 'Count' as const });
  }
  // moto answers 500 to more than 20 datapoints per call (the old AWS limit; AWS now takes 1000).
  for (let i = 0; i < data.length; i += 20) await seeder.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: data.slice(i, i + 20) }));
  seeder.destroy();
});

afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serveOnce(): Promise<{ decisions: { actions: { action: string; result: string }[]; fallback: string | null }[] }> {
  const { stdout } = await run(process.execPath, [...CLI, '--config', configFile], { cwd: root, timeout: 120_000, env: childEnv() });
  const parsed = JSON.parse(stdout) as unknown;
  const decisions = (Array.isArray(parsed) ? parsed : (parsed as { decisions: unknown[] }).decisions) as { actions: { action: string; result: string }[]; fallback: string | null }[];
  return { decisions };
}

function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PRESCALE_LOG_LEVEL: 'silent',
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** Starts `serve --once` and SIGKILLs it when the proxy sees the `n`-th request of `op` arrive (held back by a delay). */
async function serveOnceKilledAt(op: string, n: number): Promise<void> {
  const child = spawn(process.execPath, [...CLI, '--config', configFile], { cwd: root, env: childEnv(), stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 120_000;
  while (proxy.arrivals.filter((a) => a === op).length < n) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve --once ended before its ${n}th ${op}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

async function ours(): Promise<ScheduledActionState[]> {
  const all = await createScalingApi({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS }).describeScheduledActions(RESOURCE);
  return all.filter((a) => a.name.startsWith('prescale-')).sort((a, b) => parseAt(a.schedule) - parseAt(b.schedule));
}

describe('prescale serve --once against moto', () => {
  it('raises MinCapacity at least the lead time before the next daily spike and lowers it after; a second run changes nothing', async () => {
    // Both runs must fall in one 5-minute slot for "the same plan" (names sit on a 5-minute grid).
    const left = STEP - (Date.now() % STEP);
    if (left < 90_000) await new Promise((r) => setTimeout(r, left + 1_000));
    const first = await serveOnce();
    expect(first.decisions).toHaveLength(1);
    expect(first.decisions[0].fallback).toBeNull();
    expect(first.decisions[0].actions.filter((a) => a.result === 'error')).toEqual([]);
    const actions = await ours();
    const raise = actions.find((a) => (a.minCapacity ?? 0) >= 200);
    expect(raise).toBeDefined();
    expect(parseAt(raise?.schedule ?? '')).toBeLessThanOrEqual(SPIKE - 5 * MINUTE_MS);
    const lowering = actions.find((a) => parseAt(a.schedule) > parseAt(raise?.schedule ?? '') && (a.minCapacity ?? Infinity) < 200);
    expect(parseAt(lowering?.schedule ?? '')).toBeGreaterThanOrEqual(SPIKE + 15 * MINUTE_MS);
    expect(actions[actions.length - 1].minCapacity).toBe(5);

    // Same minute, same plan: nothing to change. (A run in the next 5-minute slot may move the final lowering.)
    const before = proxy.calls.length;
    const second = await serveOnce();
    const changes = proxy.calls.slice(before).filter((c) => MUTATING.has(c.op));
    expect(changes).toEqual([]);
    expect(second.decisions[0].actions).toEqual([expect.objectContaining({ action: 'noop' })]);
    expect(await ours()).toEqual(actions);
  }, 300_000);

  it('SIGKILL in the middle of writing the schedule, then a restart: no duplicate, nothing stale, the same schedule', async () => {
    const left = STEP - (Date.now() % STEP);
    if (left < 90_000) await new Promise((r) => setTimeout(r, left + 1_000));
    await serveOnce();
    const want = await ours();
    expect(want.length).toBeGreaterThanOrEqual(3);
    // Start from nothing of ours, so that the killed run has several actions to write.
    const direct = createScalingApi({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
    for (const a of want) await direct.deleteScheduledAction(RESOURCE, a.name);
    await direct.registerScalableTarget(RESOURCE, { minCapacity: 5 });
    const puts = proxy.arrivals.filter((a) => a === 'PutScheduledAction').length;
    // The second put of the run is held for 2 s at the proxy; the process is killed while it waits (the held request
    // still reaches moto afterwards, as a request already sent may still be applied by AWS).
    proxy.inject({ op: 'PutScheduledAction', skip: 1, times: 1, fault: { kind: 'delay', ms: 2_000 } });
    await serveOnceKilledAt('PutScheduledAction', puts + 2);
    await new Promise((r) => setTimeout(r, 2_500));
    const half = await ours();
    expect(half.length).toBeGreaterThan(0);
    expect(half.length).toBeLessThan(want.length);
    expect(half[half.length - 1].minCapacity).toBe(5); // what was written so far ends with the lowering
    await serveOnce();
    const after = await ours();
    expect(after).toEqual(want);
    expect(new Set(after.map((a) => a.schedule)).size).toBe(after.length);
  }, 300_000);
});
