import path from 'node:path';
import { z } from 'zod';
import { targetSchema, type ActuatorConfig, type TargetConfig } from '../config/schema.js';
import { formatPath } from '../config/load.js';
import { PAUSED_ANNOTATION, type PredictiveScalerObject, type PredictiveScalerSpec, type ScaleTargetSpec } from '../crd/predictive-scaler.js';
import { validateSpec } from '../crd/validate.js';

/**
 * A PredictiveScaler becomes one of the service's targets, the same TargetConfig a config file's `targets` entry
 * gives: both paths feed one kind of target. Its name is `<namespace>.<name>` (a namespace is a DNS label, so the
 * dot cannot be ambiguous): unique in the cluster, and a valid label value for the external metric's `target`.
 */

export type Converted =
  | { readonly ok: true; readonly spec: PredictiveScalerSpec; readonly target: TargetConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

export interface ConvertOptions {
  /** `controller.allowLocalFiles`: may a spec name files on prescale's filesystem. */
  readonly allowLocalFiles: boolean;
  /** `controller.allowAws`: may a spec use prescale's AWS identity (CloudWatch history, Lambda aliases). */
  readonly allowAws?: boolean;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The file config's own target schema, with the name rule widened to namespace.name: both paths give one shape. */
const crTargetSchema = targetSchema.extend({ name: z.string().max(63).regex(LABEL_VALUE) });

export function targetName(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}

/** The service target of a PredictiveScaler, or the first problem: the field (`spec.history.url`) and the rule broken. */
export function toTarget(obj: PredictiveScalerObject, o: ConvertOptions): Converted {
  const { namespace, name } = obj.metadata;
  const parsed = validateSpec(obj.spec ?? {});
  if (!parsed.ok) return parsed;
  const spec = parsed.spec;
  const tname = targetName(namespace, name);
  if (tname.length > 63 || !LABEL_VALUE.test(tname)) {
    return { ok: false, field: 'metadata.name', message: `"${tname}" (namespace.name) must be a label value of at most 63 characters` };
  }
  const local = localFile(spec);
  if (local && !o.allowLocalFiles) {
    return { ok: false, field: local, message: 'names a file on prescale\'s own filesystem, which this installation does not allow (controller.allowLocalFiles is false)' };
  }
  const aws = spec.history.source === 'cloudwatch' ? 'spec.history.source' : spec.lambdas.length > 0 ? 'spec.lambdas' : undefined;
  if (aws && !o.allowAws) {
    return { ok: false, field: aws, message: 'uses prescale\'s AWS identity (CloudWatch, Lambda), which this installation does not allow from PredictiveScalers (controller.allowAws is false)' };
  }
  const paused = obj.metadata.annotations?.[PAUSED_ANNOTATION] === 'true' || spec.mode === 'Preview';
  const actuators: ActuatorConfig[] = [
    ...spec.scaleTargets.map((s) => scaleActuator(namespace, s)),
    ...spec.lambdas.map((l) => ({ kind: 'lambda-provisioned-concurrency' as const, ...l })),
  ];
  const candidate = {
    name: tname,
    history: spec.history.source === 'csv' ? { ...spec.history, path: path.resolve(spec.history.path) } : spec.history,
    forecast: spec.forecast,
    actuators,
    events: spec.events,
    paused,
  };
  const checked = crTargetSchema.safeParse(candidate);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return { ok: false, field: formatPath(['spec', ...issue.path]), message: issue.message };
  }
  return { ok: true, spec, target: checked.data };
}

function scaleActuator(namespace: string, s: ScaleTargetSpec): ActuatorConfig {
  const ref = s.scaleTargetRef;
  return {
    kind: 'cloneset',
    namespace,
    name: ref.name,
    workload: { apiVersion: ref.apiVersion, kind: ref.kind },
    qpsPerReplica: s.qpsPerReplica,
    mode: s.mode,
    leadMinutes: s.leadMinutes,
    min: s.minReplicas,
    max: s.maxReplicas,
    scaleDownDelayMinutes: s.scaleDownDelayMinutes,
    ...(s.maxStepUp !== undefined ? { maxStepUp: s.maxStepUp } : {}),
  };
}

/** The first field of the spec naming a local file, or undefined. */
function localFile(spec: PredictiveScalerSpec): string | undefined {
  if (spec.history.source === 'csv') return 'spec.history.path';
  if (spec.history.source === 'prometheus' && spec.history.bearerTokenFile !== undefined) return 'spec.history.bearerTokenFile';
  if (spec.forecast.modelPath !== undefined) return 'spec.forecast.modelPath';
  return undefined;
}
