import cron from 'node-cron';
import { z } from 'zod';

/**
 * The service configuration (`prescale serve --config FILE`). Every object is strict: an unknown key is an
 * error naming it, so a typo never silently turns a setting off. Documented in README.md and docs/config.md.
 */

const positive = z.number().positive();
const cronExpr = z.string().refine((e) => cron.validate(e), 'must be a cron expression (minute hour day month weekday, optionally seconds first)');
const nonNegInt = z.number().int().nonnegative();
export const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label: lower-case letters, digits and -, at most 63');

const cloudwatchHistory = z
  .object({
    source: z.literal('cloudwatch'),
    namespace: z.string().min(1),
    metric: z.string().min(1),
    dimensions: z.record(z.string(), z.string()).default({}),
    statistic: z.enum(['Sum', 'SampleCount', 'Average', 'Maximum']).default('Sum'),
    periodSeconds: z.number().int().refine((p) => p % 60 === 0, 'must be a multiple of 60').default(60),
    days: positive.max(455).default(14),
  })
  .strict();

const prometheusHistory = z
  .object({
    source: z.literal('prometheus'),
    url: z.url(),
    query: z.string().min(1),
    stepSeconds: z.number().int().positive().default(60),
    days: positive.default(14),
    /** Basic-auth or bearer credentials come from files, never inline. */
    bearerTokenFile: z.string().optional(),
  })
  .strict();

const csvHistory = z
  .object({
    source: z.literal('csv'),
    path: z.string().min(1),
    valueColumn: z.string().optional(),
    unit: z.enum(['count-per-interval', 'per-second', 'per-minute']).default('count-per-interval'),
    /** Scales the recorded values, e.g. to turn hundreds of requests into thousands of QPS. */
    multiplier: positive.default(1),
    days: positive.default(14),
    /**
     * `replay`: the recorded trace is mapped onto the present and revealed minute by minute. `week` keeps the
     * weekday and time of day (shift by whole weeks); `anchor` maps the given trace time to the moment of start.
     */
    replay: z
      .object({
        align: z.enum(['week', 'anchor']).default('week'),
        anchor: z.iso.datetime({ offset: true, local: true }).optional(),
      })
      .strict()
      .refine((r) => r.align !== 'anchor' || r.anchor !== undefined, 'align: anchor needs an anchor time')
      .optional(),
  })
  .strict();

const bounds = {
  leadMinutes: z.number().nonnegative().max(180),
  min: nonNegInt,
  max: z.number().int().positive(),
  scaleDownDelayMinutes: z.number().nonnegative().default(10),
  maxStepUp: z.number().int().positive().optional(),
};

export const lambdaActuator = z
  .object({
    kind: z.literal('lambda-provisioned-concurrency'),
    function: z.string().min(1).max(140),
    qualifier: z.string().min(1).refine((q) => q !== '$LATEST', 'must be an alias or version, never $LATEST'),
    meanDurationMs: positive,
    targetUtilization: positive.max(1),
    ...bounds,
    leadMinutes: bounds.leadMinutes.default(5),
  })
  .strict();

/** A workload with a `/scale` subresource; the CloneSet actuator's `workload` (default: an OpenKruise CloneSet). */
export const workloadKind = z
  .object({
    apiVersion: z.string().regex(/^[a-z0-9.-]+\/[a-z0-9]+$/, 'must be GROUP/VERSION of a named API group, e.g. apps/v1 or apps.kruise.io/v1alpha1'),
    kind: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be a Kind, e.g. Deployment'),
  })
  .strict();

export const clonesetActuator = z
  .object({
    kind: z.literal('cloneset'),
    namespace: dnsLabel,
    name: z.string().min(1).max(253),
    /** The kind of workload scaled (any with a `/scale` subresource); default apps.kruise.io/v1alpha1 CloneSet. */
    workload: workloadKind.optional(),
    qpsPerReplica: positive,
    mode: z.enum(['external-metric', 'direct']).default('external-metric'),
    ...bounds,
    leadMinutes: bounds.leadMinutes.default(3),
  })
  .strict();

export const eventSchema = z
  .object({
    name: z.string().min(1),
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
    /** Groups events of one kind: the service learns each tag's uplift from past events. Without one, a floor only. */
    tag: z.string().min(1).optional(),
    multiplier: positive.optional(),
    minCapacity: nonNegInt.optional(),
  })
  .strict()
  .refine((e) => Date.parse(e.end) > Date.parse(e.start), { message: 'end must be after start', path: ['end'] });

export const historySchema = z.discriminatedUnion('source', [cloudwatchHistory, prometheusHistory, csvHistory]);

export const forecastSchema = z
  .object({
    horizonMinutes: z.number().int().positive().max(240).default(30),
    quantile: z.union([z.literal(0.5), z.literal(0.9), z.literal(0.99)]).default(0.9),
    model: z.enum(['auto', 'lstm', 'holt-winters', 'gbdt', 'ensemble', 'seasonal-naive', 'seasonal-naive-weekly', 'naive']).default('auto'),
    /** A trained model directory to start from (else one is trained from history at start). */
    modelPath: z.string().optional(),
    stepMinutes: z.number().int().positive().default(5),
    /** History older than this makes the forecast stale: fallback (hold capacity, serve observed load). */
    maxHistoryAgeMinutes: positive.default(10),
  })
  .strict()
  .default({ horizonMinutes: 30, quantile: 0.9, model: 'auto', stepMinutes: 5, maxHistoryAgeMinutes: 10 });

export const targetSchema = z
  .object({
    name: dnsLabel,
    history: historySchema,
    forecast: forecastSchema,
    actuators: z.array(z.discriminatedUnion('kind', [lambdaActuator, clonesetActuator])).min(1),
    events: z.array(eventSchema).default([]),
    /** A promo calendar file (CSV name,start,end,tag[,multiplier][,minCapacity], or synth's JSON), beside `events`. */
    eventsFile: z.string().min(1).optional(),
    paused: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    dryRun: z.boolean().default(false),
    /**
     * The backtest's simulated Application Auto Scaling and Kubernetes (src/sim/world.ts) instead of the real ones: the embedded
     * demo and offline trials. Never set in a real deployment.
     */
    simulated: z.boolean().default(false),
    /**
     * With `simulated`: the simulated world's physics (src/sim/world.ts), as a backtest scenario sets them: pods
     * ready this long after creation, provisioned concurrency ready this long after it is asked for, whether the
     * alias has target tracking, and the HPA's tolerance.
     */
    simulation: z
      .object({
        podReadySeconds: z.number().nonnegative().default(90),
        lambdaAllocationSeconds: z.number().nonnegative().default(120),
        lambdaTargetTracking: z.boolean().default(true),
        hpaTolerance: z.number().nonnegative().max(1).default(0.1),
      })
      .strict()
      .default({ podReadySeconds: 90, lambdaAllocationSeconds: 120, lambdaTargetTracking: true, hpaTolerance: 0.1 }),
    aws: z
      .object({
        region: z.string().min(1).default('us-east-1'),
        endpoint: z.url().optional(),
      })
      .strict()
      .default({ region: 'us-east-1' }),
    kubernetes: z
      .object({ kubeconfig: z.string().optional(), context: z.string().optional() })
      .strict()
      .default({}),
    http: z
      .object({ host: z.string().default('0.0.0.0'), port: z.number().int().min(0).max(65535).default(8080) })
      .strict()
      .default({ host: '0.0.0.0', port: 8080 }),
    metricsApi: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(6443),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Request-header CA and allowed names; in cluster they come from kube-system/extension-apiserver-authentication. */
        clientCaFile: z.string().optional(),
        allowedNames: z.array(z.string()).default([]),
        fromConfigMap: z.boolean().default(false),
        /** Development certificates generated (and reused) in this directory when certFile is absent. */
        devCertsDir: z.string().optional(),
        staleAfterSeconds: z.number().int().positive().default(180),
        stale: z.enum(['observed', 'error']).default('observed'),
      })
      .strict()
      .default({ enabled: false, host: '0.0.0.0', port: 6443, allowedNames: [], fromConfigMap: false, staleAfterSeconds: 180, stale: 'observed' }),
    keda: z
      .object({ enabled: z.boolean().default(true), tokenFile: z.string().optional() })
      .strict()
      .default({ enabled: true }),
    leaderElection: z
      .object({
        enabled: z.boolean().default(false),
        namespace: z.string().default('prescale'),
        leaseName: z.string().default('prescale-leader'),
        leaseDurationSeconds: z.number().int().positive().default(15),
      })
      .strict()
      .default({ enabled: false, namespace: 'prescale', leaseName: 'prescale-leader', leaseDurationSeconds: 15 }),
    schedule: z
      .object({ forecast: cronExpr.default('* * * * *'), retrain: cronExpr.default('0 3 * * *') })
      .strict()
      .default({ forecast: '* * * * *', retrain: '0 3 * * *' }),
    modelsDir: z.string().default('models'),
    audit: z.object({ file: z.string().optional() }).strict().default({}),
    /** Pause and pin endpoints; disabled unless a bearer-token file (e.g. a mounted Secret) is given. */
    admin: z.object({ tokenFile: z.string().optional() }).strict().default({}),
    /**
     * The PredictiveScaler controller (src/controller): targets declared as Kubernetes resources, added, changed
     * and removed live beside the file's `targets`. `namespaces` empty: every namespace.
     */
    controller: z
      .object({
        enabled: z.boolean().default(false),
        namespaces: z.array(dnsLabel).default([]),
        resyncSeconds: z.number().int().positive().default(300),
        /**
         * Whether a PredictiveScaler may name files on prescale's own filesystem (a csv history, a bearer-token
         * file, a model directory). Off: anyone who can write a PredictiveScaler could make prescale read any file.
         */
        allowLocalFiles: z.boolean().default(false),
        /**
         * Whether a PredictiveScaler may use prescale's AWS identity: read CloudWatch, drive a Lambda alias's
         * provisioned concurrency. Off: anyone who can write a PredictiveScaler could act on any alias prescale's IAM
         * role reaches. Turn it on where writing PredictiveScalers is limited to those trusted with that role.
         */
        allowAws: z.boolean().default(false),
      })
      .strict()
      .default({ enabled: false, namespaces: [], resyncSeconds: 300, allowLocalFiles: false, allowAws: false }),
    targets: z.array(targetSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.targets.length === 0 && !c.controller.enabled) ctx.addIssue({ code: 'custom', path: ['targets'], message: 'must list at least one target (or enable the PredictiveScaler controller: controller.enabled)' });
    const seen = new Set<string>();
    c.targets.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
      seen.add(t.name);
      t.actuators.forEach((a, j) => {
        if (a.min > a.max) ctx.addIssue({ code: 'custom', path: ['targets', i, 'actuators', j, 'min'], message: `min (${a.min}) must not exceed max (${a.max})` });
      });
    });
  });

export type Config = z.infer<typeof configSchema>;
export type TargetConfig = Config['targets'][number];
export type HistoryConfig = TargetConfig['history'];
export type ActuatorConfig = TargetConfig['actuators'][number];
