import { z } from 'zod';

/**
 * zod schema → Kubernetes structural OpenAPI v3 schema (apiextensions.k8s.io/v1), for the PredictiveScaler CRD.
 *
 * zod's own `z.toJSONSchema` (OpenAPI 3.0 target, input side) does the walking; this module post-processes
 * what it emits into what the apiserver accepts as a structural schema, and is no stricter than zod:
 *
 * - dropped: `$schema`, `default` (the controller applies zod's), `additionalProperties: false` (kubectl's strict
 *   field validation rejects unknown fields without it, and pruning drops them for other clients),
 *   `propertyNames`, the ±2^53−1 limits zod gives every int, formats Kubernetes does not know or checks more
 *   strictly than zod (see FORMATS);
 * - a union of literals becomes one `enum`;
 * - a discriminated union becomes one object holding every variant's properties, the discriminator an enum,
 *   and `x-kubernetes-validations` CEL rules that require each variant's required keys, forbid the other
 *   variants' keys and apply a variant's own limits on a key the variants share;
 * - anything with no structural form (another union, a tuple, a `$ref`, a value of unknown type without
 *   `x-kubernetes-preserve-unknown-fields`) is an error naming its path, never silently loosened.
 *
 * `structuralErrors` checks a schema against the same rules, so the generated CRD is tested, not trusted.
 */

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps this module writes. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  title?: string;
  format?: string;
  nullable?: boolean;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

/** One `x-kubernetes-validations` entry: a CEL rule evaluated with `self` bound to the node that carries it. */
export interface ValidationRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

type Json = Record<string, unknown>;

/** zod's `Number.MAX_SAFE_INTEGER` bounds of every `.int()`: Kubernetes integers are int64, the bound only adds noise. */
const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * zod format → the format written into the CRD. Only formats whose Kubernetes check accepts everything zod
 * accepts are kept; the rest are dropped (zod still checks them in the controller). `uri` is dropped on
 * purpose: Kubernetes checks it with Go's url.ParseRequestURI, which rejects URLs that zod's WHATWG parser
 * accepts (a leading space, a tab), and test/fixtures/crd/specs.yaml has such a spec. `duration` means an
 * ISO 8601 duration to zod and a Go duration to Kubernetes. Patterns zod emits beside a format are kept.
 */
const FORMATS: Readonly<Record<string, string>> = { 'date-time': 'date-time', date: 'date', uuid: 'uuid', ipv4: 'ipv4', ipv6: 'ipv6', email: 'email' };

/** Keys zod may emit that carry nothing Kubernetes takes. */
const DROPPED = new Set(['$schema', 'default', 'propertyNames', 'examples', 'example', 'id', '$id', 'contentEncoding', 'contentMediaType', 'readOnly', 'writeOnly', 'deprecated']);

/** Keys the converter copies as they are (after the value checks of `convertNode`). */
const COPIED = new Set([
  'type',
  'description',
  'title',
  'nullable',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'multipleOf',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);

/** Marks the JSON Schema of a zod discriminated union with its discriminator (zod's output has only `oneOf`). */
const DISCRIMINATOR = 'x-prescale-discriminator';

/** Why a zod schema has no structural form; `path` is where, e.g. `spec.history.oneOf[1].url`. */
export class StructuralSchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'StructuralSchemaError';
  }
}

/**
 * The structural schema of a zod schema's input (what a user writes; defaults make keys optional).
 * `root` names the top of the error paths, e.g. `spec`.
 */
export function toStructuralSchema(schema: z.ZodType, root = '$'): Schema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    cycles: 'throw',
    reused: 'inline',
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def as { type: string; discriminator?: unknown };
      if (def.type === 'union' && typeof def.discriminator === 'string') (ctx.jsonSchema as Json)[DISCRIMINATOR] = def.discriminator;
    },
  }) as Json;
  return convertNode(json, root);
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function convertNode(node: Json, path: string): Schema {
  if (isObj(node.$defs) || isObj(node.definitions) || typeof node.$ref === 'string') {
    throw new StructuralSchemaError(path, 'has a $ref (a recursive or shared zod schema with an id): a CRD schema must be inlined');
  }
  if (typeof node[DISCRIMINATOR] === 'string') return mergeDiscriminated(node, node[DISCRIMINATOR], path);
  const unionKey = Array.isArray(node.anyOf) ? 'anyOf' : Array.isArray(node.oneOf) ? 'oneOf' : undefined;
  if (unionKey && node.type === undefined) return literalUnion(node, unionKey, path);
  return typed(convertKeys(node, path), path);
}

/** A converted node, which must have a type unless it keeps any value. */
function typed(out: Schema, path: string): Schema {
  if (out.type === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true && out['x-kubernetes-int-or-string'] !== true) {
    throw new StructuralSchemaError(path, 'has no type (z.unknown() or z.any()): give it a type, or .meta({ "x-kubernetes-preserve-unknown-fields": true }) to keep any value');
  }
  if (out.required?.length === 0) delete out.required;
  return out;
}

/** Every key of a node: dropped, copied, or converted by its KEY_CONVERTERS entry; any other key is an error. */
function convertKeys(node: Json, path: string): Schema {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (COPIED.has(key)) out[key] = value;
    else {
      const convert = KEY_CONVERTERS[key];
      if (!convert) throw new StructuralSchemaError(path, `has "${key}", which a Kubernetes structural schema does not allow (${JSON.stringify(value)})`);
      convert({ out, node, value, path });
    }
  }
  return out as Schema;
}

interface KeyContext {
  readonly out: Json;
  readonly node: Json;
  readonly value: unknown;
  readonly path: string;
}

const bound =
  (key: 'minimum' | 'maximum') =>
  ({ out, value, path }: KeyContext): void => {
    if (typeof value !== 'number') throw new StructuralSchemaError(path, `${key} must be a number, ${JSON.stringify(value)} given`);
    if (Math.abs(value) < SAFE_INT) out[key] = value;
  };

const exclusive =
  (key: 'exclusiveMinimum' | 'exclusiveMaximum', of: 'minimum' | 'maximum') =>
  ({ out, node, value, path }: KeyContext): void => {
    if (typeof value !== 'boolean') throw new StructuralSchemaError(path, `${key} must be a boolean (OpenAPI 3.0), ${JSON.stringify(value)} given`);
    const limit = node[of];
    if (value && typeof limit === 'number' && Math.abs(limit) < SAFE_INT) out[key] = true;
  };

/** The keys that need more than a copy: limits, formats, children. */
const KEY_CONVERTERS: Readonly<Record<string, (c: KeyContext) => void>> = {
  const: ({ out, value }) => {
    out.enum = [value];
  },
  minimum: bound('minimum'),
  maximum: bound('maximum'),
  exclusiveMinimum: exclusive('exclusiveMinimum', 'minimum'),
  exclusiveMaximum: exclusive('exclusiveMaximum', 'maximum'),
  format: ({ out, value }) => {
    const f = FORMATS[String(value)];
    if (f !== undefined) out.format = f;
  },
  properties: ({ out, value, path }) => {
    if (!isObj(value)) throw new StructuralSchemaError(path, 'properties must be an object');
    out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convertNode(v as Json, `${path}.${k}`)]));
  },
  additionalProperties: convertAdditional,
  items: ({ out, value, path }) => {
    if (!isObj(value)) throw new StructuralSchemaError(path, 'items must be one schema (a z.tuple has no structural form)');
    out.items = convertNode(value, `${path}[]`);
  },
  // zod puts stacked patterns and divisors here; as a value validation a branch may not repeat the type.
  allOf: ({ out, value, path }) => {
    out.allOf = (value as unknown[]).map((b, i) => {
      if (!isObj(b)) throw new StructuralSchemaError(`${path}.allOf[${i}]`, 'must be a schema');
      const { type: _type, ...rest } = convertKeys(b, `${path}.allOf[${i}]`);
      return rest;
    });
  },
};

function convertAdditional({ out, node, value, path }: KeyContext): void {
  if (typeof value === 'boolean') return;
  if (!isObj(value)) throw new StructuralSchemaError(path, 'additionalProperties must be a schema');
  if (Object.keys(value).length === 0) {
    if (node['x-kubernetes-preserve-unknown-fields'] === true) return;
    throw new StructuralSchemaError(`${path}.*`, 'a record of values of unknown type: give the values a type, or .meta({ "x-kubernetes-preserve-unknown-fields": true }) on the record');
  }
  if (isObj(node.properties)) throw new StructuralSchemaError(path, 'has both properties and additionalProperties (a z.object with .catchall): Kubernetes allows only one');
  out.additionalProperties = convertNode(value, `${path}.*`);
}

/** `z.union([z.literal(a), z.literal(b)])` (and `z.enum` pieces): one typed enum. */
function literalUnion(node: Json, key: 'anyOf' | 'oneOf', path: string): Schema {
  const branches = node[key] as Json[];
  const types = new Set(branches.map((b) => b.type));
  const literal = branches.every((b) => Array.isArray(b.enum) && Object.keys(b).every((k) => k === 'type' || k === 'enum' || k === 'description'));
  if (!literal || types.size !== 1) {
    throw new StructuralSchemaError(path, `a union (${key}) of ${branches.map((b) => String(b.type ?? 'untyped')).join(', ')} has no structural form: use z.discriminatedUnion, a z.enum, or .meta({ "x-kubernetes-preserve-unknown-fields": true })`);
  }
  const out: Json = { type: [...types][0], enum: branches.flatMap((b) => b.enum as unknown[]) };
  for (const [k, v] of Object.entries(node)) {
    if (k === key || DROPPED.has(k)) continue;
    if (COPIED.has(k)) out[k] = v;
    else throw new StructuralSchemaError(path, `has "${k}" beside a union of literals`);
  }
  return out as Schema;
}

/** Keywords of a shared key that may differ between variants; each becomes a CEL rule for its variant. */
const CEL_LIMITS: Readonly<Record<string, (field: string, value: unknown, type: Schema['type']) => { cel: string; says: string }>> = {
  maximum: (f, v, t) => ({ cel: `${f} <= ${celNumber(v, t)}`, says: `at most ${String(v)}` }),
  minimum: (f, v, t) => ({ cel: `${f} >= ${celNumber(v, t)}`, says: `at least ${String(v)}` }),
  maxLength: (f, v) => ({ cel: `size(${f}) <= ${String(v)}`, says: `at most ${String(v)} characters` }),
  minLength: (f, v) => ({ cel: `size(${f}) >= ${String(v)}`, says: `at least ${String(v)} characters` }),
  pattern: (f, v) => ({ cel: `${f}.matches(${celString(String(v))})`, says: `matching ${String(v)}` }),
  enum: (f, v) => ({ cel: `${f} in [${(v as unknown[]).map((x) => (typeof x === 'string' ? celString(x) : String(x))).join(', ')}]`, says: `one of ${(v as unknown[]).join(', ')}` }),
};

function celNumber(v: unknown, type: Schema['type']): string {
  const n = Number(v);
  return type === 'number' && Number.isInteger(n) ? `${n}.0` : String(n);
}

function celString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** CEL keywords that Kubernetes escapes in field names (apiextensions-apiserver's CEL field-name escaping). */
const CEL_RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/** `self.<name>` as Kubernetes' CEL environment spells it. */
export function celField(name: string): string {
  if (!/^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$/.test(name)) throw new Error(`property "${name}" cannot be named in a CEL rule`);
  if (CEL_RESERVED.has(name)) return `self.__${name}__`;
  return `self.${name.replace(/__/g, '__underscores__').replace(/\./g, '__dot__').replace(/-/g, '__dash__').replace(/\//g, '__slash__')}`;
}

/** A `fieldPath` for a property of the node that carries the rule. */
function fieldPathOf(name: string): string {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) ? `.${name}` : `['${name}']`;
}

interface Variant {
  readonly value: string;
  readonly schema: Schema;
}

/**
 * A discriminated union as one structural object. Every variant must be an object whose discriminator is a
 * one-value string enum. A key in several variants gets the keywords all its variants agree on; where a variant
 * is stricter, the difference becomes a CEL rule for that variant, or an error when no rule can say it.
 */
function mergeDiscriminated(node: Json, discriminator: string, path: string): Schema {
  const variants = variantsOf(node, discriminator, path);
  const keys = [...new Set(variants.flatMap((v) => Object.keys(v.schema.properties ?? {})))];
  const rules: ValidationRule[] = [];
  const properties: Record<string, Schema> = { [discriminator]: { type: 'string', enum: variants.map((v) => v.value) } };
  for (const key of keys) {
    if (key === discriminator) continue;
    const having = variants.filter((v) => v.schema.properties?.[key] !== undefined);
    properties[key] = sharedKey(key, having, `${path}.${key}`, { discriminator, addRule: (r) => rules.push(r) });
  }
  const requiredByAll = keys.filter((k) => k !== discriminator && variants.every((v) => v.schema.required?.includes(k)));
  for (const v of variants) rules.push(...variantRules(v, { discriminator, keys, requiredByAll, variants }));
  const out: Schema = { type: 'object' };
  if (typeof node.description === 'string') out.description = node.description;
  out.properties = Object.fromEntries(keys.map((k) => [k, properties[k]]));
  out.required = [discriminator, ...requiredByAll];
  out['x-kubernetes-validations'] = rules;
  return out;
}

function variantsOf(node: Json, discriminator: string, path: string): Variant[] {
  const branches = node.oneOf ?? node.anyOf;
  if (!Array.isArray(branches)) throw new StructuralSchemaError(path, 'a discriminated union without variants');
  return branches.map((b: Json, i) => {
    const schema = convertNode(b, `${path}<${i}>`);
    const d = schema.properties?.[discriminator];
    if (schema.type !== 'object' || d?.type !== 'string' || d.enum?.length !== 1) {
      throw new StructuralSchemaError(`${path}<${i}>`, `a variant of a union discriminated by "${discriminator}" must be an object whose ${discriminator} is one string literal`);
    }
    return { value: String(d.enum[0]), schema };
  });
}

/** A variant's rules: its required keys present, the other variants' keys absent, when the discriminator names it. */
function variantRules(v: Variant, o: { discriminator: string; keys: readonly string[]; requiredByAll: readonly string[]; variants: readonly Variant[] }): ValidationRule[] {
  const when = `${celField(o.discriminator)} != ${celString(v.value)}`;
  const required = (v.schema.required ?? []).filter((k) => k !== o.discriminator && !o.requiredByAll.includes(k));
  const foreign = o.keys.filter((k) => v.schema.properties?.[k] === undefined);
  return [
    ...required.map((k): ValidationRule => ({ rule: `${when} || has(${celField(k)})`, message: `${o.discriminator} ${v.value} requires ${k}`, fieldPath: fieldPathOf(k), reason: 'FieldValueRequired' })),
    ...foreign.map((k): ValidationRule => {
      const owners = o.variants.filter((w) => w.schema.properties?.[k] !== undefined).map((w) => w.value);
      return { rule: `${when} || !has(${celField(k)})`, message: `${k} is not a field of ${o.discriminator} ${v.value} (only of ${owners.join(', ')})`, fieldPath: fieldPathOf(k), reason: 'FieldValueForbidden' };
    }),
  ];
}

/** The schema of a key several variants share, and the rules for the limits only some of them set. */
function sharedKey(key: string, having: readonly Variant[], path: string, o: { discriminator: string; addRule: (r: ValidationRule) => void }): Schema {
  const sel = celField(o.discriminator);
  const schemas = having.map((v) => v.schema.properties?.[key] as Schema);
  if (schemas.every((s) => deepEqual(s, schemas[0]))) return schemas[0];
  const common: Json = {};
  const first = schemas[0] as Json;
  for (const [k, value] of Object.entries(first)) {
    if (schemas.every((s) => deepEqual((s as Json)[k], value))) common[k] = value;
  }
  if (common.type === undefined) throw new StructuralSchemaError(path, `the variants give ${key} different types (${schemas.map((s) => s.type).join(', ')})`);
  having.forEach((v, i) => {
    const s = schemas[i] as Json;
    for (const [k, value] of Object.entries(s)) {
      if (k in common || k === 'description') continue;
      const limit = CEL_LIMITS[k];
      if (!limit || (k === 'minimum' && s.exclusiveMinimum) || (k === 'maximum' && s.exclusiveMaximum)) {
        throw new StructuralSchemaError(path, `${key} has "${k}" in variant ${v.value} only, which no CEL rule here can say`);
      }
      const { cel, says } = limit(celField(key), value, s.type as Schema['type']);
      o.addRule({ rule: `${sel} != ${celString(v.value)} || !has(${celField(key)}) || ${cel}`, message: `${key} must be ${says} for ${o.discriminator} ${v.value}`, fieldPath: fieldPathOf(key), reason: 'FieldValueInvalid' });
    }
  });
  return common as Schema;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every key JSONSchemaProps has in apiextensions.k8s.io/v1; anything else is an unknown field to the apiserver. */
const JSON_SCHEMA_PROPS = new Set([
  ...COPIED,
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'properties',
  'additionalProperties',
  'items',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'externalDocs',
  'default',
  'example',
  'uniqueItems',
  'patternProperties',
  'dependencies',
  'additionalItems',
  'definitions',
  '$ref',
  '$schema',
  'id',
]);

/** Valid JSONSchemaProps that a structural schema may not use, or this CRD does not (default: zod applies its own). */
const FORBIDDEN: Readonly<Record<string, string>> = {
  $schema: 'not allowed in a CRD schema',
  $ref: 'not allowed in a CRD schema (inline it)',
  id: 'not allowed in a CRD schema',
  definitions: 'not allowed in a CRD schema',
  patternProperties: 'not supported by structural schemas',
  dependencies: 'not supported by structural schemas',
  additionalItems: 'not supported by structural schemas',
  default: 'dropped: the controller applies zod’s defaults',
};

/** The formats kube-apiserver validates (apiextensions-apiserver's supported formats). */
export const KUBERNETES_FORMATS = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5', 'isbn', 'isbn10', 'isbn13',
  'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration', 'datetime', 'date-time', 'int32', 'int64', 'float', 'double',
]);

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const REASONS = new Set(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);
/** Inside allOf/anyOf/oneOf/not (value validations), these may not be set (structural schema rule). */
const NOT_IN_JUNCTORS = ['type', 'description', 'default', 'additionalProperties', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations'];

/**
 * What makes `schema` not a structural schema Kubernetes accepts (or not as this project generates them); empty
 * when it is one. Each entry is `path: rule broken`.
 */
export function structuralErrors(schema: unknown, path = '$'): string[] {
  const errs: string[] = [];
  checkNode(schema, path, errs);
  return errs;
}

function checkNode(schema: unknown, path: string, errs: string[]): void {
  if (!isObj(schema)) {
    errs.push(`${path}: must be a schema object, ${JSON.stringify(schema)} given`);
    return;
  }
  for (const check of [...KEYWORD_CHECKS, checkType, checkShape, checkObject]) errs.push(...check(schema, path));
  for (const [childPath, child] of children(schema, path)) checkNode(child, childPath, errs);
  for (const [branchPath, branch] of junctors(schema, path)) checkJunctor(branch, schema, branchPath, errs);
}

type Check = (s: Json, path: string) => string[];

/** The node's child schemas: properties, additionalProperties (unless a boolean), items. */
function children(s: Json, path: string): [string, unknown][] {
  const out: [string, unknown][] = isObj(s.properties) ? Object.entries(s.properties).map(([k, v]) => [`${path}.${k}`, v]) : [];
  if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean') out.push([`${path}.*`, s.additionalProperties]);
  if (s.items !== undefined) out.push([`${path}[]`, s.items]);
  return out;
}

function junctors(s: Json, path: string): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const j of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = s[j];
    if (Array.isArray(branches)) branches.forEach((b: unknown, i) => out.push([`${path}.${j}[${i}]`, b]));
  }
  if (s.not !== undefined) out.push([`${path}.not`, s.not]);
  return out;
}

const checkType: Check = (s, path) => {
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (s.type === undefined) return preserve ? [] : [`${path}: has no type`];
  return TYPES.has(String(s.type)) ? [] : [`${path}: type ${JSON.stringify(s.type)} is not one of ${[...TYPES].join(', ')}`];
};

const checkShape: Check = (s, path) => {
  const errs: string[] = [];
  if (s.type === 'array' && !isObj(s.items)) errs.push(`${path}: an array needs items (one schema)`);
  if (s.type !== 'array' && s.items !== undefined) errs.push(`${path}: items on a non-array`);
  if (s.type !== 'object' && (s.properties !== undefined || s.additionalProperties !== undefined)) errs.push(`${path}: properties on a non-object`);
  return errs;
};

const checkObject: Check = (s, path) => {
  const errs: string[] = [];
  if (s.additionalProperties === false) errs.push(`${path}: additionalProperties: false (unknown fields are pruned or rejected by field validation without it)`);
  else if (s.additionalProperties !== undefined && s.properties !== undefined) errs.push(`${path}: additionalProperties beside properties`);
  const declared = isObj(s.properties) ? s.properties : {};
  for (const k of Array.isArray(s.required) ? s.required : []) if (!(String(k) in declared)) errs.push(`${path}: required "${String(k)}" is not among its properties`);
  return errs;
};

const checkKeys: Check = (s, path) =>
  Object.keys(s).flatMap((key) => {
    if (!JSON_SCHEMA_PROPS.has(key)) return [`${path}: "${key}" is not a JSONSchemaProps field${key === 'const' ? ' (use a one-value enum)' : key === 'propertyNames' ? ' (drop it: keys are strings)' : ''}`];
    return FORBIDDEN[key] !== undefined ? [`${path}: "${key}" is ${FORBIDDEN[key]}`] : [];
  });

const checkLimits: Check = (s, path) => {
  const errs: string[] = [];
  if (s.uniqueItems === true) errs.push(`${path}: uniqueItems: true is not allowed (use x-kubernetes-list-type: set)`);
  for (const key of ['minimum', 'maximum'] as const) {
    const v = s[key];
    if (v !== undefined && typeof v !== 'number') errs.push(`${path}: ${key} must be a number`);
    if (typeof v === 'number' && Math.abs(v) >= SAFE_INT) errs.push(`${path}: ${key} ${v} is zod's int bound, not a limit of the field`);
  }
  for (const [key, of] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'boolean') errs.push(`${path}: ${key} must be a boolean (OpenAPI v3.0), ${JSON.stringify(s[key])} given`);
    if (s[key] === true && s[of] === undefined) errs.push(`${path}: ${key} without ${of}`);
  }
  return errs;
};

const checkValues: Check = (s, path) => {
  const errs: string[] = [];
  if (s.format !== undefined && !KUBERNETES_FORMATS.has(String(s.format))) errs.push(`${path}: format "${String(s.format)}" is not one Kubernetes knows`);
  if (s.nullable !== undefined && typeof s.nullable !== 'boolean') errs.push(`${path}: nullable must be a boolean`);
  return errs;
};

const checkEnum: Check = (s, path) => {
  if (s.enum === undefined) return [];
  if (!Array.isArray(s.enum) || s.enum.length === 0) return [`${path}: enum must be a non-empty list`];
  const want = s.type === 'integer' || s.type === 'number' ? 'number' : s.type;
  if (want === undefined) return [];
  return s.enum.filter((v: unknown) => typeof v !== want).map((v: unknown) => `${path}: enum value ${JSON.stringify(v)} is not of type ${String(s.type)}`);
};

const RULE_KEYS = new Set(['rule', 'message', 'messageExpression', 'fieldPath', 'reason', 'optionalOldSelf']);

const checkRules: Check = (s, path) => {
  const rules = s['x-kubernetes-validations'];
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) return [`${path}: x-kubernetes-validations must be a list`];
  return rules.flatMap((r: unknown, i) => {
    const at = `${path}.x-kubernetes-validations[${i}]`;
    if (!isObj(r) || typeof r.rule !== 'string' || r.rule === '') return [`${at}: needs a rule`];
    const errs = Object.keys(r).filter((k) => !RULE_KEYS.has(k)).map((k) => `${at}: "${k}" is not a ValidationRule field`);
    if (typeof r.message !== 'string' || r.message === '') errs.push(`${at}: needs a message (the error a user reads)`);
    if (r.reason !== undefined && !REASONS.has(String(r.reason))) errs.push(`${at}: reason ${JSON.stringify(r.reason)} is not one of ${[...REASONS].join(', ')}`);
    return errs;
  });
};

/** Checks that hold for every schema, value validations included. */
const KEYWORD_CHECKS: readonly Check[] = [checkKeys, checkLimits, checkValues, checkEnum, checkRules];

/** A value validation: no type, description, ...; every property it names is declared by the outer schema. */
function checkJunctor(branch: unknown, outer: Json, path: string, errs: string[]): void {
  if (!isObj(branch)) {
    errs.push(`${path}: must be a schema object`);
    return;
  }
  for (const k of NOT_IN_JUNCTORS) if (branch[k] !== undefined) errs.push(`${path}: "${k}" is not allowed inside allOf/anyOf/oneOf/not`);
  for (const check of KEYWORD_CHECKS) errs.push(...check(branch, path));
  for (const [k, v] of isObj(branch.properties) ? Object.entries(branch.properties) : []) {
    const declared = isObj(outer.properties) ? outer.properties[k] : undefined;
    if (isObj(declared)) checkJunctor(v, declared, `${path}.${k}`, errs);
    else errs.push(`${path}.${k}: not declared in the outer schema's properties`);
  }
  if (branch.items !== undefined) {
    if (isObj(outer.items)) checkJunctor(branch.items, outer.items, `${path}[]`, errs);
    else errs.push(`${path}[]: items not declared in the outer schema`);
  }
  for (const [branchPath, b] of junctors(branch, path)) checkJunctor(b, outer, branchPath, errs);
}
