import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import type { TargetEvent } from '../service/calendar.js';
import type { SourceFault } from '../sources/trace.js';
import { InputError, errorMessage } from '../util/errors.js';

/**
 * The backtest scenario (`prescale backtest --scenario FILE.yaml`): how the trace is read, what one pod and one
 * unit of provisioned concurrency (PC) do, how the reactive scalers are set up, how prescale plans, and prices.
 * Every object is strict (a typo is an error naming the key) and every key has a default; see docs/backtest.md.
 */

const gt0 = (): z.ZodNumber => z.number().gt(0, 'must be > 0');
const ge0 = (): z.ZodNumber => z.number().min(0, 'must be >= 0');
const count = (): z.ZodNumber => z.number().int('must be a whole number').min(0, 'must be >= 0');

const policy = z.strictObject({
  type: z.enum(['Pods', 'Percent']),
  value: z.number().int('must be a whole number').gt(0, 'must be > 0'),
  periodSeconds: z.number().int('must be a whole number').gt(0, 'must be > 0').max(1800, 'must be <= 1800'),
});
const rules = z.strictObject({
  stabilizationWindowSeconds: z.number().int('must be a whole number').min(0, 'must be >= 0').max(3600, 'must be <= 3600').optional(),
  selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
  policies: z.array(policy).min(1, 'needs at least one policy').optional(),
});

export const scenarioSchema = z.strictObject({
  trace: z
    .strictObject({
      /** How the value column is read; the loader turns it into requests per second. */
      unit: z.enum(['count-per-interval', 'per-second', 'per-minute']).default('count-per-interval'),
      /** Scales the recorded load, e.g. to turn a small server's trace into thousands of QPS. */
      multiplier: gt0().default(1),
    })
    .prefault({}),
  pods: z
    .strictObject({
      /** QPS one pod serves before it is overloaded: demand above ready pods x this is an under-provisioned minute. */
      qpsPerReplica: gt0().default(100),
      readySeconds: ge0().default(90),
      min: count().default(2),
      /** The CloneSet actuator's `maxStepUp`: most pods added from one planned step to the next; absent = none. */
      maxStepUp: z.number().int('must be a whole number').gt(0, 'must be > 0').optional(),
      max: z.number().int('must be a whole number').gt(0, 'must be > 0').default(1000),
      hpa: z
        .strictObject({
          /** The HPA's External metric target (AverageValue, QPS per pod); prescale sizes pods on it too. */
          targetAverageValue: gt0().default(70),
          tolerance: ge0().max(1, 'must be <= 1').default(0.1),
          /** autoscaling/v2 `behavior`; absent = the HPA's defaults. */
          behavior: z.strictObject({ scaleUp: rules.optional(), scaleDown: rules.optional() }).optional(),
        })
        .prefault({}),
    })
    .prefault({})
    .refine((p) => p.min <= p.max, { message: 'min must be <= max', path: ['min'] })
    .refine((p) => p.hpa.targetAverageValue <= p.qpsPerReplica, {
      message: 'must be <= pods.qpsPerReplica (the target is a share of what a pod can serve)',
      path: ['hpa', 'targetAverageValue'],
    }),
  lambda: z
    .strictObject({
      meanDurationMs: gt0().default(200),
      targetUtilization: gt0().max(1, 'must be <= 1').default(0.7),
      allocationSeconds: ge0().default(120),
      /** Whether the alias also has a target-tracking policy (the reactive scaler of provisioned concurrency). */
      targetTracking: z.boolean().default(true),
      min: count().default(1),
      /** The Lambda actuator's `maxStepUp`; absent = none. */
      maxStepUp: z.number().int('must be a whole number').gt(0, 'must be > 0').optional(),
      max: z.number().int('must be a whole number').gt(0, 'must be > 0').default(100000),
    })
    .prefault({})
    .refine((l) => l.min <= l.max, { message: 'min must be <= max', path: ['min'] }),
  predictive: z
    .strictObject({
      /** Forecast quantile the planner sizes capacity on. */
      quantile: z.union([z.literal(0.5), z.literal(0.9), z.literal(0.99)], { error: 'must be one of 0.5, 0.9, 0.99' }).default(0.9),
      podLeadMinutes: ge0().max(180, 'must be <= 180').default(3),
      pcLeadMinutes: ge0().max(180, 'must be <= 180').default(5),
      scaleDownDelayMinutes: ge0().max(1440, 'must be <= 1440').default(10),
      /** Resolution the model forecasts at (the target's forecast.stepMinutes). */
      stepMinutes: z.number().int('must be a whole number').gt(0, 'must be > 0').max(60, 'must be <= 60').default(1),
      /** The target's forecast.horizonMinutes: how far each cycle forecasts and the Lambda schedule reaches. */
      horizonMinutes: z.number().int('must be a whole number').gt(0, 'must be > 0').max(240, 'must be <= 240').default(30),
      /** The target's forecast.maxHistoryAgeMinutes: history older than this is stale (fallback). */
      maxHistoryAgeMinutes: gt0().default(10),
      /** The target's history.days: how much history each cycle reads (and the model is trained on). */
      historyDays: gt0().max(455, 'must be <= 455').default(14),
    })
    .prefault({}),
  /** Known events (a promo, a launch): floors for the planner, as in the service configuration. */
  events: z
    .array(
      z
        .strictObject({
          name: z.string().min(1, 'must not be empty'),
          start: z.iso.datetime({ offset: true, local: true, error: 'must be an ISO date-time, e.g. 2026-01-18T12:00:00Z' }),
          end: z.iso.datetime({ offset: true, local: true, error: 'must be an ISO date-time, e.g. 2026-01-18T14:00:00Z' }),
          /** Expected load over the forecast's p50 while the event lasts. */
          multiplier: gt0().optional(),
          minPods: count().optional(),
          minProvisionedConcurrency: count().optional(),
        })
        .refine((e) => Date.parse(e.end) > Date.parse(e.start), { message: 'must be after start', path: ['end'] })
        .refine((e) => e.multiplier !== undefined || e.minPods !== undefined || e.minProvisionedConcurrency !== undefined, {
          message: 'needs at least one of multiplier, minPods, minProvisionedConcurrency',
          path: ['name'],
        }),
    )
    .default([]),
  /**
   * Faults of prescale's history source during the replay: `source-outage` (every read fails) and `stale-history`
   * (reads succeed but no datapoint after the fault's start arrives until its end). The load itself goes on.
   */
  faults: z
    .array(
      z
        .strictObject({
          kind: z.enum(['source-outage', 'stale-history']),
          start: z.iso.datetime({ offset: true, local: true, error: 'must be an ISO date-time, e.g. 2026-01-18T12:00:00Z' }),
          end: z.iso.datetime({ offset: true, local: true, error: 'must be an ISO date-time, e.g. 2026-01-18T12:30:00Z' }),
        })
        .refine((f) => Date.parse(f.end) > Date.parse(f.start), { message: 'must be after start', path: ['end'] }),
    )
    .default([]),
  prices: z
    .strictObject({
      podHour: ge0().default(0.05),
      pcHour: ge0().default(0.015),
    })
    .prefault({}),
});

export type Scenario = z.infer<typeof scenarioSchema>;

/** Validates a parsed scenario object; `source` names it in errors. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(input ?? {});
  if (!r.success) throw new InputError(formatIssues(source, r.error.issues, input).replace('invalid configuration', 'invalid scenario'));
  return r.data;
}

/** Times without an offset are UTC, like the trace loaders read them. */
function parseTime(iso: string): number {
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

/** The scenario's events as the target's known events: a floor per kind of capacity, and a multiplier. */
export function scenarioEvents(s: Scenario): TargetEvent[] {
  return s.events.map((e) => ({
    name: e.name,
    startMs: parseTime(e.start),
    endMs: parseTime(e.end),
    ...(e.multiplier !== undefined ? { multiplier: e.multiplier } : {}),
    minCapacityByKind: {
      ...(e.minPods !== undefined ? { cloneset: e.minPods } : {}),
      ...(e.minProvisionedConcurrency !== undefined ? { 'lambda-provisioned-concurrency': e.minProvisionedConcurrency } : {}),
    },
  }));
}

/** The scenario's source faults, in epoch milliseconds. */
export function scenarioFaults(s: Scenario): SourceFault[] {
  return s.faults.map((f) => ({ kind: f.kind, startMs: parseTime(f.start), endMs: parseTime(f.end) }));
}

export const defaultScenario: Scenario = parseScenario({});

export function loadScenarioFile(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`${file}: cannot read scenario: ${errorMessage(err)}`, { cause: err });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new InputError(`${file}: not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  return parseScenario(doc.toJS(), file);
}
