import { z } from 'zod';
import { eventSchema, forecastSchema, historySchema, lambdaActuator, workloadKind } from '../config/schema.js';

/**
 * The PredictiveScaler custom resource: one target declared in Kubernetes (prescale.io/v1alpha1), the shape
 * KEDA's ScaledObject and Crane's EffectiveHorizontalPodAutoscaler gave users. Its spec is built from the
 * same zod pieces as the file config's targets (src/config/schema.ts), and the CRD's OpenAPI schema is
 * generated from this file (`npm run gen:crd`, src/crd/openapi.ts), so the two cannot drift apart.
 */

export const PS_GROUP = 'prescale.io';
export const PS_VERSION = 'v1alpha1';
export const PS_API_VERSION = `${PS_GROUP}/${PS_VERSION}`;
export const PS_KIND = 'PredictiveScaler';
export const PS_PLURAL = 'predictivescalers';
export const PS_SINGULAR = 'predictivescaler';
export const PS_SHORT_NAMES = ['psc'] as const;

/** `prescale.io/paused: "true"` stops actuation, as KEDA's `autoscaling.keda.sh/paused`. */
export const PAUSED_ANNOTATION = 'prescale.io/paused';
/** On an HPA that exists already: `prescale.io/adopt: "<PredictiveScaler name>"` lets prescale take it over. */
export const ADOPT_ANNOTATION = 'prescale.io/adopt';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'prescale';

const positive = z.number().positive();

/** An autoscaling/v2 object passed through to the HPA as it is; the apiserver validates it when the HPA is written. */
const passThrough = (description: string): z.ZodRecord<z.ZodString, z.ZodUnknown> => z.record(z.string(), z.unknown()).meta({ description, 'x-kubernetes-preserve-unknown-fields': true });

export const scaleTargetSpec = z
  .object({
    /** Any workload with a `/scale` subresource in the PredictiveScaler's namespace: CloneSet, Deployment, Argo Rollout. */
    scaleTargetRef: workloadKind
      .extend({ name: z.string().min(1).max(253) })
      .strict()
      .describe('The workload scaled: any kind with a /scale subresource in this namespace (CloneSet, Deployment, Argo Rollout).'),
    /** The load one replica serves; replicas = ceil(forecast / qpsPerReplica). */
    qpsPerReplica: positive.describe('Requests per second one replica serves; replicas = ceil(forecast QPS / qpsPerReplica).'),
    minReplicas: z.number().int().min(1).default(1).describe('Fewest replicas planned (default 1).'),
    maxReplicas: z.number().int().positive().describe('Most replicas planned.'),
    /** How long before the forecast load a replica must be asked for (pod start and warm-up). */
    leadMinutes: z.number().nonnegative().max(180).default(3).describe('How long before the forecast load replicas are asked for: pod start and warm-up (default 3).'),
    scaleDownDelayMinutes: z.number().nonnegative().default(10).describe('How long a lower plan must hold before capacity goes down (default 10).'),
    maxStepUp: z.number().int().positive().optional().describe('Most replicas added in one cycle (default: no limit).'),
    /**
     * `external-metric`: prescale creates and owns an HPA that reads `prescale-qps` beside `metrics` (the HPA takes
     * the max). `direct`: prescale writes `/scale` itself, refused while any HPA targets the workload.
     */
    mode: z
      .enum(['external-metric', 'direct'])
      .default('external-metric')
      .describe('external-metric (default): prescale owns an HPA reading prescale-qps beside `metrics`. direct: prescale writes /scale itself (refused while an HPA targets the workload).'),
    /** autoscaling/v2 MetricSpecs kept in the generated HPA beside prescale-qps (the reactive metrics). */
    metrics: z.array(passThrough('An autoscaling/v2 MetricSpec, copied into the generated HPA.')).default([]),
    /** autoscaling/v2 HorizontalPodAutoscalerBehavior, copied into the generated HPA. */
    behavior: passThrough('An autoscaling/v2 HorizontalPodAutoscalerBehavior, copied into the generated HPA.').optional(),
  })
  .strict()
  .refine((s) => s.minReplicas <= s.maxReplicas, { message: 'minReplicas must not exceed maxReplicas', path: ['minReplicas'] });

export const lambdaSpec = lambdaActuator
  .omit({ kind: true })
  .strict()
  .refine((l) => l.min <= l.max, { message: 'min must not exceed max', path: ['min'] });

export const predictiveScalerSpec = z
  .object({
    /** `Auto` forecasts and actuates; `Preview` forecasts and reports in status and metrics, and changes nothing. */
    mode: z.enum(['Auto', 'Preview']).default('Auto').describe('Auto (default): forecast and actuate. Preview: forecast and report in status, change nothing.'),
    history: historySchema.describe('Where the request rate comes from: source prometheus (url, query), cloudwatch (namespace, metric, dimensions) or csv (path; needs controller.allowLocalFiles).'),
    forecast: forecastSchema.describe('How it is forecast: horizonMinutes (30), quantile sized for (0.9), model (auto), stepMinutes (5), maxHistoryAgeMinutes (10).'),
    /** Known events (promos): planner floors and the calendar the forecast learns uplifts from. */
    events: z.array(eventSchema).default([]).describe('Known events (promos): with a tag the forecast learns and applies their uplift; minCapacity and multiplier set floors.'),
    scaleTargets: z.array(scaleTargetSpec).default([]).describe('Workloads whose replicas follow the forecast.'),
    /** Lambda aliases whose provisioned concurrency follows the forecast (through Application Auto Scaling). */
    lambdas: z.array(lambdaSpec).default([]).describe('Lambda aliases whose provisioned concurrency follows the forecast, through Application Auto Scaling (needs controller.allowAws).'),
  })
  .strict()
  .refine((s) => s.scaleTargets.length + s.lambdas.length > 0, { message: 'must list at least one of scaleTargets or lambdas', path: ['scaleTargets'] });

export type PredictiveScalerSpec = z.infer<typeof predictiveScalerSpec>;
export type ScaleTargetSpec = PredictiveScalerSpec['scaleTargets'][number];

/** metav1.Condition. */
export const conditionSchema = z
  .object({
    type: z.string().min(1).max(316),
    status: z.enum(['True', 'False', 'Unknown']),
    observedGeneration: z.number().int().nonnegative().optional(),
    lastTransitionTime: z.iso.datetime({ offset: true }),
    reason: z.string().regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/).max(1024),
    message: z.string().max(32768),
  })
  .strict();

export type Condition = z.infer<typeof conditionSchema>;
export const CONDITION_TYPES = ['Ready', 'ForecastReady', 'Fallback', 'Paused'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** One capacity target's plan, as status reports it. */
export const capacityStatus = z
  .object({
    /** `Kind/name` of a scale target, or `lambda:function:qualifier`. */
    target: z.string(),
    planned: z.number().int().nonnegative(),
    current: z.number().int().nonnegative().optional(),
    /** The next time the plan raises capacity, and to what; absent when no raise is planned in the horizon. */
    nextRaise: z.object({ at: z.iso.datetime({ offset: true }), capacity: z.number().int().nonnegative() }).strict().optional(),
    /** The HPA prescale owns for this target (external-metric mode). */
    hpa: z.string().optional(),
  })
  .strict();

export const predictiveScalerStatus = z
  .object({
    observedGeneration: z.number().int().nonnegative().optional(),
    /** What the target does now: `Auto`, `Preview`, or `Paused` (annotated prescale.io/paused). */
    mode: z.enum(['Auto', 'Preview', 'Paused']).optional(),
    conditions: z.array(conditionSchema).default([]).meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    /** The model in use and its holdout score (MASE on the last day held out). */
    model: z
      .object({ kind: z.string(), trainedAt: z.iso.datetime({ offset: true }), holdoutMase: z.number().optional() })
      .strict()
      .optional(),
    /** The last forecast: p50 and p90 of the peak over the next forecast window. */
    forecast: z
      .object({ at: z.iso.datetime({ offset: true }), windowMinutes: z.number().int().positive(), peakP50: z.number(), peakP90: z.number() })
      .strict()
      .optional(),
    capacity: z.array(capacityStatus).default([]),
    /** The first scale target's planned replicas, for the printer column. */
    plannedReplicas: z.number().int().nonnegative().optional(),
  })
  .strict();

export type PredictiveScalerStatus = z.infer<typeof predictiveScalerStatus>;

/** The object as the controller reads it from the API server. */
export interface PredictiveScalerObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string | Date;
  };
  readonly spec?: unknown;
  readonly status?: unknown;
}

/** The printer columns of `kubectl get psc`. */
export const PRINTER_COLUMNS = [
  { name: 'Target', type: 'string', jsonPath: '.spec.scaleTargets[0].scaleTargetRef.name', description: 'The first scale target' },
  { name: 'Mode', type: 'string', jsonPath: '.status.mode', description: 'Auto, Preview, or Paused (annotated prescale.io/paused)' },
  { name: 'Model', type: 'string', jsonPath: '.status.model.kind' },
  { name: 'P90', type: 'number', jsonPath: '.status.forecast.peakP90', description: 'p90 of the peak QPS over the next forecast window' },
  { name: 'Planned', type: 'integer', jsonPath: '.status.plannedReplicas', description: 'Replicas the first scale target is planned to have' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;
