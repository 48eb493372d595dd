import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { lambdaActuatorFromConfig, parseAt } from '../../src/actuators/lambda-pc.js';
import { createMetricDataApi, createScalingApi, type AwsClientOptions } from '../../src/aws/clients.js';
import { parseConfig } from '../../src/config/load.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { fillGaps, resampleMean } from '../../src/series/series.js';
import type { LoadedModel, ModelProvider } from '../../src/service/model-provider.js';
import { PrescaleService } from '../../src/service/service.js';
import { StateStore } from '../../src/service/state.js';
import { cloudWatchSourceFromConfig } from '../../src/sources/cloudwatch.js';
import { DAY_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';
import { startMoto, TEST_CREDENTIALS, TEST_REGION, type Moto } from '../support/moto.js';

/**
 * One full service cycle through the library (history from moto's CloudWatch → seasonal-naive forecast →
 * the shared planner → scheduled actions in moto's Application Auto Scaling), the path `serve --once` takes.
 * History: two days at 100 QPS with a daily 15-minute spike to 1000 QPS at the same time of day, 20 minutes
 * after "now". The next spike must be covered by a raise at least the lead time before it and lowered after.
 */

const STEP = 5 * MINUTE_MS;
let moto: Moto;
let opts: AwsClientOptions;
const mutating: string[] = [];
// Half a minute past a 5-minute boundary, like a cron-driven cycle; the spike starts on a boundary.
const NOW = Math.floor(Date.now() / STEP) * STEP + 30_000;
const SPIKE = NOW - 30_000 + 20 * MINUTE_MS;

beforeAll(async () => {
  moto = await startMoto();
  opts = {
    region: TEST_REGION,
    endpoint: moto.endpoint,
    credentials: TEST_CREDENTIALS,
    onCommand: (_s, c) => {
      if (['RegisterScalableTarget', 'PutScheduledAction', 'DeleteScheduledAction'].includes(c)) mutating.push(c);
    },
  };
  const seeder = new CloudWatchClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: TEST_CREDENTIALS });
  const start = Math.floor((NOW - 2 * DAY_MS) / MINUTE_MS) * MINUTE_MS;
  const data = [];
  for (let t = start; t < NOW - MINUTE_MS; t += MINUTE_MS) {
    const phase = (((t - SPIKE) % DAY_MS) + DAY_MS) % DAY_MS;
    const qps = phase < 15 * MINUTE_MS ? 1000 : 100;
    data.push({ MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'checkout' }, { Name: 'Resource', Value: 'checkout:live' }], Timestamp: new Date(t), Value: qps * 60, Unit: 'Count' as const });
  }
  // moto answers 500 to more than 20 datapoints per call (the old AWS limit; AWS now takes 1000).
  for (let i = 0; i < data.length; i += 20) await seeder.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: data.slice(i, i + 20) }));
  seeder.destroy();
});

afterAll(async () => {
  await moto?.stop();
});

const cfg = parseConfig(
  `
targets:
  - name: checkout
    history: { source: cloudwatch, namespace: AWS/Lambda, metric: Invocations, dimensions: { FunctionName: checkout, Resource: "checkout:live" }, statistic: Sum, periodSeconds: 60, days: 2 }
    forecast: { horizonMinutes: 60, quantile: 0.9, model: seasonal-naive, stepMinutes: 5 }
    actuators:
      - { kind: lambda-provisioned-concurrency, function: checkout, qualifier: live, meanDurationMs: 100, targetUtilization: 0.5, leadMinutes: 5, min: 5, max: 500 }
`,
  '/tmp/prescale-h4.yaml',
);

const models: ModelProvider = {
  load: () => Promise.resolve(undefined),
  train: async (_t, history) => {
    const f = new SeasonalNaiveForecaster({ season: 'daily', stepMs: STEP });
    await f.fit(fillGaps(resampleMean(history, STEP)));
    const m: LoadedModel = { forecaster: f, stepMs: STEP, info: { kind: 'seasonal-naive', trainedAtMs: NOW, backend: 'none', scores: {} } };
    return m;
  },
  score: () => 0,
  save: () => Promise.resolve(),
};

describe('service cycle: CloudWatch history in moto → scheduled actions in moto', () => {
  it('raises MinCapacity at least the lead time before the next daily spike, lowers it after, and a second cycle changes nothing', async () => {
    const t = cfg.targets[0];
    const a = t.actuators[0];
    if (t.history.source !== 'cloudwatch' || a.kind !== 'lambda-provisioned-concurrency') throw new Error('config shape');
    const clock = new ManualClock(NOW);
    const scaling = createScalingApi(opts);
    const actuator = lambdaActuatorFromConfig(a, { api: scaling, quantile: t.forecast.quantile });
    const svc = new PrescaleService({
      clock,
      store: new StateStore(),
      models,
      targets: [{ config: t, source: cloudWatchSourceFromConfig(t.history, { api: createMetricDataApi(opts), clock }), actuators: [actuator] }],
      dryRun: false,
      isLeader: () => true,
    });
    await svc.loadModels();
    const decisions = await svc.runCycle();
    expect(decisions).toHaveLength(1);
    expect(decisions[0].fallback).toBeNull();
    expect(decisions[0].actions.filter((r) => r.result === 'error')).toEqual([]);

    const actions = (await scaling.describeScheduledActions({ serviceNamespace: 'lambda', resourceId: actuator.resourceId, scalableDimension: 'lambda:function:ProvisionedConcurrency' }))
      .filter((x) => x.name.startsWith('prescale-'))
      .sort((x, y) => parseAt(x.schedule) - parseAt(y.schedule));
    const raise = actions.find((x) => (x.minCapacity ?? 0) >= 200);
    expect(raise).toBeDefined();
    expect(parseAt(raise?.schedule ?? '')).toBeLessThanOrEqual(SPIKE - 5 * MINUTE_MS);
    expect(parseAt(raise?.schedule ?? '')).toBeGreaterThan(NOW);
    const lowering = actions.find((x) => parseAt(x.schedule) > parseAt(raise?.schedule ?? '') && (x.minCapacity ?? Infinity) < 200);
    expect(parseAt(lowering?.schedule ?? '')).toBeGreaterThanOrEqual(SPIKE + 15 * MINUTE_MS);
    expect(actions[actions.length - 1].minCapacity).toBe(5);
    expect(await actuator.currentCapacity()).toBe(20); // 100 QPS × 0.1 s / 0.5

    mutating.length = 0;
    await svc.runCycle();
    expect(mutating).toEqual([]);
  });
});
