import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { celField, KUBERNETES_FORMATS, structuralErrors, StructuralSchemaError, toStructuralSchema, type Schema } from '../../src/crd/openapi.js';
import { predictiveScalerCrd } from '../../src/crd/manifest.js';
import { predictiveScalerSpec, predictiveScalerStatus } from '../../src/crd/predictive-scaler.js';

/** Every node of a schema with its path, for checks that must hold everywhere. */
function nodes(s: Schema, path = '$'): [string, Schema][] {
  const out: [string, Schema][] = [[path, s]];
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...nodes(v, `${path}.${k}`));
  if (s.items) out.push(...nodes(s.items, `${path}[]`));
  if (s.additionalProperties) out.push(...nodes(s.additionalProperties, `${path}.*`));
  return out;
}

describe('toStructuralSchema on small zod schemas', () => {
  it.each<[string, z.ZodType, Schema]>([
    ['a strict object: required keys, no additionalProperties: false, defaults dropped', z.object({ a: z.string(), b: z.number().default(3) }).strict(), { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a'] }],
    ['an int: zod’s ±2^53−1 bounds dropped, real ones kept', z.object({ n: z.number().int(), m: z.number().int().min(1).max(9) }), { type: 'object', properties: { n: { type: 'integer' }, m: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['n', 'm'] }],
    ['positive: OpenAPI 3.0’s boolean exclusiveMinimum', z.number().positive().lt(5), { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 5, exclusiveMaximum: true }],
    ['an int > 0: the exclusive bound stays, the safe-int maximum goes', z.number().int().positive(), { type: 'integer', minimum: 0, exclusiveMinimum: true }],
    ['a literal: a one-value enum, never const', z.literal('x'), { type: 'string', enum: ['x'] }],
    ['a union of number literals: one enum', z.union([z.literal(1), z.literal(2.5)]), { type: 'number', enum: [1, 2.5] }],
    ['z.enum with a description', z.enum(['a', 'b']).describe('pick one'), { type: 'string', enum: ['a', 'b'], description: 'pick one' }],
    ['a string record: additionalProperties, no propertyNames', z.record(z.string(), z.string()), { type: 'object', additionalProperties: { type: 'string' } }],
    ['a record kept whole by its meta', z.record(z.string(), z.unknown()).meta({ 'x-kubernetes-preserve-unknown-fields': true }), { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }],
    ['an array of strings with limits', z.array(z.string().min(1).max(3)).min(1), { type: 'array', items: { type: 'string', minLength: 1, maxLength: 3 }, minItems: 1 }],
    ['nullable', z.string().nullable(), { type: 'string', nullable: true }],
    ['date-time keeps its format and zod’s pattern', z.iso.datetime(), { type: 'string', format: 'date-time', pattern: expect.stringMatching(/^\^/) as unknown as string }],
    ['url: the uri format is dropped (Go’s parser is stricter than zod’s)', z.url(), { type: 'string' }],
    ['an ISO duration: format dropped (Kubernetes’ duration is Go’s)', z.iso.duration(), { type: 'string', pattern: expect.any(String) as unknown as string }],
  ])('%s', (_what, schema, want) => {
    const got = toStructuralSchema(schema);
    expect(got).toEqual(want);
    expect(structuralErrors(got)).toEqual([]);
  });

  const union = z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('a'), x: z.string(), n: z.number().max(10).optional() }).strict(),
    z.object({ kind: z.literal('b'), y: z.number().optional(), n: z.number().optional() }).strict(),
  ]);

  it('a discriminated union: one object with every property, the discriminator an enum, CEL rules for the rest', () => {
    const got = toStructuralSchema(union);
    expect(got).toEqual({
      type: 'object',
      properties: { kind: { type: 'string', enum: ['a', 'b'] }, x: { type: 'string' }, n: { type: 'number' }, y: { type: 'number' } },
      required: ['kind'],
      'x-kubernetes-validations': [
        { rule: "self.kind != 'a' || !has(self.n) || self.n <= 10.0", message: 'n must be at most 10 for kind a', fieldPath: '.n', reason: 'FieldValueInvalid' },
        { rule: "self.kind != 'a' || has(self.x)", message: 'kind a requires x', fieldPath: '.x', reason: 'FieldValueRequired' },
        { rule: "self.kind != 'a' || !has(self.y)", message: 'y is not a field of kind a (only of b)', fieldPath: '.y', reason: 'FieldValueForbidden' },
        { rule: "self.kind != 'b' || !has(self.x)", message: 'x is not a field of kind b (only of a)', fieldPath: '.x', reason: 'FieldValueForbidden' },
      ],
    });
    expect(structuralErrors(got)).toEqual([]);
  });

  it('a key every variant requires is required on the merged object, with no rule', () => {
    const both = z.discriminatedUnion('k', [z.object({ k: z.literal('a'), id: z.string() }), z.object({ k: z.literal('b'), id: z.string() })]);
    expect(toStructuralSchema(both)).toEqual({ type: 'object', properties: { k: { type: 'string', enum: ['a', 'b'] }, id: { type: 'string' } }, required: ['k', 'id'], 'x-kubernetes-validations': [] });
  });

  it.each<[string, z.ZodType, RegExp]>([
    ['a union of unlike types', z.object({ v: z.union([z.string(), z.number()]) }), /^\$\.v: a union \(anyOf\) of string, number has no structural form/],
    ['a value of unknown type', z.object({ v: z.unknown() }), /^\$\.v: has no type/],
    ['a record of unknown values', z.object({ r: z.record(z.string(), z.unknown()) }), /^\$\.r\.\*: a record of values of unknown type/],
    ['a tuple of unlike types', z.object({ t: z.tuple([z.string(), z.number()]) }), /^\$\.t\[\]: a union \(anyOf\) of string, number/],
    ['properties beside a catchall', z.object({ a: z.string() }).catchall(z.string()), /^\$: has both properties and additionalProperties/],
    ['variants that give a key different types', z.discriminatedUnion('k', [z.object({ k: z.literal('a'), v: z.string() }), z.object({ k: z.literal('b'), v: z.number() })]), /^\$\.v: the variants give v different types \(string, number\)/],
    ['a variant-only limit no CEL rule here says', z.discriminatedUnion('k', [z.object({ k: z.literal('a'), v: z.number().multipleOf(5) }), z.object({ k: z.literal('b'), v: z.number() })]), /^\$\.v: v has "multipleOf" in variant a only/],
  ])('refuses %s, naming the path', (_what, schema, message) => {
    expect(() => toStructuralSchema(schema)).toThrow(StructuralSchemaError);
    expect(() => toStructuralSchema(schema)).toThrow(message);
  });

  it('a recursive schema is refused', () => {
    const node: z.ZodType = z.object({ children: z.array(z.lazy(() => node)) });
    expect(() => toStructuralSchema(node)).toThrow();
  });

  it.each([
    ['namespace', 'self.__namespace__'],
    ['url', 'self.url'],
    ['a-b', 'self.a__dash__b'],
    ['a.b', 'self.a__dot__b'],
    ['x__y', 'self.x__underscores__y'],
  ])('names %s in CEL as %s', (name, cel) => {
    expect(celField(name)).toBe(cel);
  });
});

describe('structuralErrors', () => {
  const ok: Schema = { type: 'object', properties: { a: { type: 'string' } } };
  it.each<[string, unknown, string]>([
    ['a node without a type', { type: 'object', properties: { a: {} } }, '$.a: has no type'],
    ['an unknown type', { type: 'null' }, '$: type "null" is not one of'],
    ['$schema', { ...ok, $schema: 'https://json-schema.org/draft/2020-12/schema' }, '$: "$schema" is not allowed in a CRD schema'],
    ['$ref', { type: 'object', properties: { a: { type: 'string', $ref: '#/x' } } }, '$.a: "$ref" is not allowed'],
    ['const', { type: 'string', const: 'x' }, '$: "const" is not a JSONSchemaProps field (use a one-value enum)'],
    ['propertyNames', { type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'string' } }, '$: "propertyNames" is not a JSONSchemaProps field'],
    ['additionalProperties: false', { ...ok, additionalProperties: false }, '$: additionalProperties: false'],
    ['additionalProperties beside properties', { ...ok, additionalProperties: { type: 'string' } }, '$: additionalProperties beside properties'],
    ['a default', { type: 'string', default: 'x' }, '$: "default" is dropped'],
    ['zod’s int bound', { type: 'integer', maximum: 9007199254740991 }, "$: maximum 9007199254740991 is zod's int bound"],
    ['a JSON Schema 2020 exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, '$: exclusiveMinimum must be a boolean'],
    ['an unknown format', { type: 'string', format: 'cidrv4' }, '$: format "cidrv4" is not one Kubernetes knows'],
    ['an array without items', { type: 'array' }, '$: an array needs items'],
    ['uniqueItems', { type: 'array', items: { type: 'string' }, uniqueItems: true }, '$: uniqueItems: true is not allowed'],
    ['a type inside oneOf', { ...ok, oneOf: [{ type: 'object', required: ['a'] }] }, '$.oneOf[0]: "type" is not allowed inside allOf/anyOf/oneOf/not'],
    ['a oneOf property not declared outside', { ...ok, oneOf: [{ properties: { b: { enum: ['x'] } } }] }, '$.oneOf[0].b: not declared in the outer schema'],
    ['a required key that is not a property', { ...ok, required: ['b'] }, '$: required "b" is not among its properties'],
    ['a CEL rule without a message', { ...ok, 'x-kubernetes-validations': [{ rule: 'has(self.a)' }] }, '$.x-kubernetes-validations[0]: needs a message'],
    ['a CEL rule with an unknown reason', { ...ok, 'x-kubernetes-validations': [{ rule: 'has(self.a)', message: 'm', reason: 'Nope' }] }, '$.x-kubernetes-validations[0]: reason "Nope" is not one of'],
    ['an enum value of the wrong type', { type: 'string', enum: ['a', 1] }, '$: enum value 1 is not of type string'],
  ])('finds %s', (_what, schema, message) => {
    const errs = structuralErrors(schema);
    expect(errs).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
  });

  it('passes a structural schema, with oneOf as a value validation', () => {
    expect(structuralErrors({ ...ok, oneOf: [{ required: ['a'] }, { properties: { a: { enum: ['x'] } } }] })).toEqual([]);
    expect(structuralErrors({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true })).toEqual([]);
  });
});

describe('the PredictiveScaler schema', () => {
  const crd = predictiveScalerCrd() as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
  const root = crd.spec.versions[0].schema.openAPIV3Schema;
  const raw = z.toJSONSchema(predictiveScalerSpec, { io: 'input' }) as Record<string, unknown>;

  it('is structural', () => {
    expect(structuralErrors(root, 'openAPIV3Schema')).toEqual([]);
  });

  it('every node has a type, and no zod-only keyword survives anywhere', () => {
    const text = JSON.stringify(root);
    for (const k of ['$schema', '$ref', 'const', 'propertyNames', '"default"', '9007199254740991']) expect({ k, found: text.includes(k) }).toEqual({ k, found: false });
    for (const [path, n] of nodes(root)) expect({ path, type: n.type }).toEqual({ path, type: expect.any(String) });
  });

  it('every format is one Kubernetes knows', () => {
    for (const [path, n] of nodes(root)) if (n.format !== undefined) expect({ path, known: KUBERNETES_FORMATS.has(n.format) }).toEqual({ path, known: true });
  });

  it('keeps zod’s descriptions: the pass-through autoscaling/v2 objects keep every field', () => {
    const target = root.properties?.spec.properties?.scaleTargets.items;
    expect(target?.properties?.metrics.items).toEqual({ type: 'object', description: 'An autoscaling/v2 MetricSpec, copied into the generated HPA.', 'x-kubernetes-preserve-unknown-fields': true });
    expect(target?.properties?.behavior['x-kubernetes-preserve-unknown-fields']).toBe(true);
  });

  it('history is one object with every source’s keys; source an enum; the variants kept apart by CEL rules', () => {
    const history = root.properties?.spec.properties?.history as Schema;
    const variants = (raw.properties as Record<string, { oneOf: { properties: Record<string, unknown>; required: string[] }[] }>).history.oneOf;
    const keys = [...new Set(variants.flatMap((v) => Object.keys(v.properties)))];
    expect(Object.keys(history.properties ?? {}).sort()).toEqual(keys.sort());
    expect(history.properties?.source).toEqual({ type: 'string', enum: ['cloudwatch', 'prometheus', 'csv'] });
    expect(history.required).toEqual(['source']);
    const rules = history['x-kubernetes-validations'] ?? [];
    // One rule per variant's required key, one per key of the other variants, and cloudwatch's days ≤ 455.
    const required = variants.reduce((n, v) => n + v.required.length - 1, 0);
    const forbidden = variants.reduce((n, v) => n + keys.filter((k) => !(k in v.properties)).length, 0);
    expect(rules).toHaveLength(required + forbidden + 1);
    expect(rules).toEqual(expect.arrayContaining([
      { rule: "self.source != 'prometheus' || has(self.url)", message: 'source prometheus requires url', fieldPath: '.url', reason: 'FieldValueRequired' },
      { rule: "self.source != 'cloudwatch' || has(self.__namespace__)", message: 'source cloudwatch requires namespace', fieldPath: '.namespace', reason: 'FieldValueRequired' },
      { rule: "self.source != 'csv' || !has(self.url)", message: 'url is not a field of source csv (only of prometheus)', fieldPath: '.url', reason: 'FieldValueForbidden' },
      { rule: "self.source != 'cloudwatch' || !has(self.days) || self.days <= 455.0", message: 'days must be at most 455 for source cloudwatch', fieldPath: '.days', reason: 'FieldValueInvalid' },
    ]));
  });

  it('the status schema converts too', () => {
    expect(structuralErrors(toStructuralSchema(predictiveScalerStatus, 'status'), 'status')).toEqual([]);
    expect(root.properties?.status.properties?.conditions.items?.properties?.status).toEqual({ type: 'string', enum: ['True', 'False', 'Unknown'] });
  });
});
