import { toStructuralSchema, type Schema } from './openapi.js';
import { predictiveScalerSpec, type PredictiveScalerSpec } from './predictive-scaler.js';

/**
 * The controller's check of a PredictiveScaler's spec: zod's parse (defaults applied), or the first broken rule
 * with the field it is about, spelt as the apiserver spells fields (`spec.scaleTargets[0].maxReplicas`), so a
 * condition can name it. The CRD's schema (src/crd/openapi.ts) catches most of these at `kubectl apply`; this
 * catches the rest (refinements, URLs) and anything written past the schema.
 */

export type SpecValidation = { readonly ok: true; readonly spec: PredictiveScalerSpec } | { readonly ok: false; readonly field: string; readonly message: string };

export function validateSpec(spec: unknown): SpecValidation {
  const r = predictiveScalerSpec.safeParse(spec);
  if (r.success) return { ok: true, spec: r.data };
  const issue = r.error.issues[0];
  const path = [...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0]);
    message = `unknown field${issue.keys.length > 1 ? ` (also ${issue.keys.slice(1).join(', ')})` : ''}`;
  } else if (issue.code === 'invalid_union') {
    if (typeof issue.discriminator === 'string' && path[path.length - 1] !== issue.discriminator) path.push(issue.discriminator);
    const allowed = schemaAt(path)?.enum;
    if (allowed) message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (issue.code === 'invalid_type' && valueAt(spec, path) === undefined) {
    message = `is required (${issue.expected})`;
  }
  return { ok: false, field: fieldName(path), message: withValue(message, valueAt(spec, path)) };
}

/** `spec` + a zod path, as Kubernetes field paths read: `spec.history.url`, `spec.scaleTargets[0].maxReplicas`. */
export function fieldName(path: readonly PropertyKey[], root = 'spec'): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : `${s}.${String(p)}`), root);
}

let specSchema: Schema | undefined;

/** The CRD schema node at a path of the spec (for the values a field allows). */
function schemaAt(path: readonly PropertyKey[]): Schema | undefined {
  specSchema ??= toStructuralSchema(predictiveScalerSpec, 'spec');
  let node: Schema | undefined = specSchema;
  for (const p of path) node = typeof p === 'number' ? node?.items : node?.properties?.[String(p)];
  return node;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** The message and the value that broke it, when the value is short enough to read in a condition. */
function withValue(message: string, value: unknown): string {
  if (value === undefined) return message;
  const shown = JSON.stringify(value);
  return shown.length <= 80 ? `${message} (${shown} given)` : message;
}
