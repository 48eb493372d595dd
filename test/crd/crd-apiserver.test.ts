import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { CRD_FILES, CRD_NAME, predictiveScalerCrd } from '../../src/crd/manifest.js';
import type { Schema } from '../../src/crd/openapi.js';
import { predictiveScalerStatus, PS_API_VERSION, PS_KIND } from '../../src/crd/predictive-scaler.js';
import { validateSpec } from '../../src/crd/validate.js';
import { ROOT } from '../support/cli.js';
import { TestCluster, type KubectlResult } from '../support/test-cluster.js';
import { SPECS_FILE, specCases } from './cases.js';

/**
 * The generated PredictiveScaler CRD (deploy/crd/) on a real kube-apiserver (v1.36.3, test/support/cluster.ts),
 * against zod (src/crd/validate.ts) on the same specs (test/fixtures/crd/specs.yaml): every spec zod accepts the
 * apiserver accepts; a spec the apiserver rejects zod rejects too, and whoever rejects it names the field. Specs
 * go to kubectl as JSON, so kubectl and zod read the same values (kubectl reads YAML 1.1, the yaml package 1.2).
 */

let cluster: TestCluster;
let NS: string;
const { valid, invalid } = specCases();

const obj = (name: string, spec: unknown, status?: unknown) => ({ apiVersion: PS_API_VERSION, kind: PS_KIND, metadata: { name, namespace: NS }, spec, ...(status ? { status } : {}) });

/** `kubectl apply --server-side --dry-run=server`: the apiserver validates, stores nothing. */
function dryRun(o: unknown): Promise<KubectlResult> {
  return cluster.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=prescale-tests', '-f', '-'], { input: JSON.stringify(o) });
}

let installed: KubectlResult;

beforeAll(async () => {
  cluster = await TestCluster.attach();
  installed = await cluster.kubectl(['apply', '--server-side', '--field-manager=prescale-tests', '-f', join(ROOT, CRD_FILES[0])]);
  if (installed.code !== 0) throw new Error(`${CRD_FILES[0]} did not install: ${installed.stderr}`);
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD_NAME}`]);
  NS = await cluster.namespace('crd');
}, 120_000);

afterAll(async () => {
  // The CRD stays: other suites sharing this control plane may use it; this suite's objects are in its namespace.
  await cluster?.release();
});

describe('the generated CRD on kube-apiserver', () => {
  it('installs without warnings; Established and NamesAccepted', async () => {
    expect(installed.stderr).toBe('');
    const crd = JSON.parse(await cluster.kubectlOk(['get', 'crd', CRD_NAME, '-o', 'json'])) as { status: { conditions: { type: string; status: string }[] } };
    const cond = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
    expect(cond).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(cond.NonStructuralSchema).toBeUndefined();
  });

  it('is served as prescale.io/v1alpha1, namespaced, short name psc, category prescale, with a status subresource', async () => {
    const list = JSON.parse(await cluster.kubectlOk(['get', '--raw', '/apis/prescale.io/v1alpha1'])) as { resources: Record<string, unknown>[] };
    expect(list.resources.find((r) => r.name === 'predictivescalers')).toMatchObject({ kind: 'PredictiveScaler', namespaced: true, shortNames: ['psc'], categories: ['prescale'] });
    expect(list.resources.find((r) => r.name === 'predictivescalers/status')).toMatchObject({ kind: 'PredictiveScaler', verbs: ['get', 'patch', 'update'] });
    // A kubectl cache of its own: one from before the CRD was installed does not know the category yet.
    const r = await cluster.kubectl(['--cache-dir', join(cluster.info.dir, `kubectl-cache-${NS}`), 'get', 'prescale', '-n', NS]);
    expect(r.stderr).toMatch(/^No resources found/);
  });
});

describe(`the specs of ${SPECS_FILE}: zod and the apiserver agree`, () => {
  it.each(valid.map((c) => [c.name, c] as const))('%s: zod accepts, so the apiserver accepts', async (_name, c) => {
    const z = validateSpec(c.spec);
    expect(z.ok ? 'ok' : `${z.field}: ${z.message}`).toBe('ok');
    const r = await dryRun(obj(c.name, c.spec));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it.each(invalid.map((c) => [c.name, c.invalid?.field, c.invalid?.apiserver, c] as const))('%s: zod rejects %s; the CRD %s it', async (_name, field, verdict, c) => {
    const z = validateSpec(c.spec);
    expect(z).toMatchObject({ ok: false, field });
    const r = await dryRun(obj(c.name, c.spec));
    if (verdict === 'rejects') {
      expect(r.code).not.toBe(0);
      // kubectl prints `spec.x: ...` for schema and CEL errors, `.spec.x: field not declared in schema` for unknown fields.
      expect({ field, stderr: r.stderr.includes(String(field)) ? 'names the field' : r.stderr }).toEqual({ field, stderr: 'names the field' });
    } else {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    }
  });
});

/** Every property path of the spec schema (arrays at index 0): where a random mutation may land. */
function fieldPaths(s: Schema, at: (string | number)[] = []): (string | number)[][] {
  const here = at.length > 0 ? [at] : [];
  if (s.type === 'array' && s.items) return [...here, ...fieldPaths(s.items, [...at, 0])];
  if (s['x-kubernetes-preserve-unknown-fields']) return here;
  return [...here, ...Object.entries(s.properties ?? {}).flatMap(([k, v]) => fieldPaths(v, [...at, k]))];
}

/** A copy of `spec` with `value` at `path` (intermediate objects and arrays made as needed; undefined deletes). */
function setAt(spec: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const root = structuredClone(spec) as Record<string | number, unknown>;
  let node = root;
  path.slice(0, -1).forEach((p, i) => {
    const next = node[p];
    node[p] = next !== null && typeof next === 'object' ? next : typeof path[i + 1] === 'number' ? [] : {};
    node = node[p] as Record<string | number, unknown>;
  });
  const last = path[path.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return root;
}

describe('random mutations of the valid specs: whatever zod accepts, the apiserver accepts', () => {
  const specSchema = (predictiveScalerCrd() as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } }).spec.versions[0].schema.openAPIV3Schema.properties?.spec as Schema;
  const paths = fieldPaths(specSchema);
  const nodeAt = (path: readonly (string | number)[]): Schema => path.reduce<Schema>((n, p) => (typeof p === 'number' ? (n.items as Schema) : (n.properties?.[p] as Schema)), specSchema);
  const strings = ['', 'x', 'AWS/Lambda', 'http://prom:9090', ' http://prom:9090', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.5+01:00', '2026-01-01T00:00:00', '$LATEST', 'apps/v1', 'Deployment'];
  /** Values worth trying at a node: its enum, its limits and either side of them, and a wrong type; undefined deletes the key. */
  function candidates(n: Schema): unknown[] {
    const around = (v: number | undefined) => (v === undefined ? [] : [v, v + 1, v - 1]);
    switch (n.type) {
      case 'string':
        return [undefined, 1, ...(n.enum ?? strings)];
      case 'integer':
      case 'number':
        return [undefined, '1', 0, 1, 0.5, 2.5, 0.9, ...(n.enum ?? []), ...around(n.minimum), ...around(n.maximum)];
      case 'object':
        return [undefined, {}, 'x'];
      case 'array':
        return [undefined, [], 'x'];
      default:
        return [undefined, true, 'x'];
    }
  }
  const mutation = fc.record({ base: fc.integer({ min: 0, max: valid.length - 1 }), edits: fc.array(fc.tuple(fc.integer({ min: 0, max: paths.length - 1 }), fc.nat()), { minLength: 1, maxLength: 2 }) });

  it('holds for 80 specs (seeded: a failure prints the spec)', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const spec = m.edits.reduce<unknown>((s, [p, v]) => {
          const c = candidates(nodeAt(paths[p]));
          return setAt(s, paths[p], c[v % c.length]);
        }, valid[m.base].spec);
        const z = validateSpec(spec);
        const r = await dryRun(obj('mutant', spec));
        if (z.ok) accepted++;
        // zod accepts ⇒ the apiserver accepts; equivalently, the apiserver rejects ⇒ zod rejects.
        if (z.ok && r.code !== 0) throw new Error(`zod accepts ${JSON.stringify(spec)} but the apiserver says: ${r.stderr}`);
      }),
      { numRuns: 80, seed: 17, endOnFailure: true },
    );
    // The mutations are not all rejected by zod, or the property would prove nothing.
    expect(accepted).toBeGreaterThan(15);
  }, 120_000);
});

describe('unknown fields', () => {
  const spec = valid.find((c) => c.name === 'minimal')?.spec as Record<string, unknown>;

  it.each([
    ['spec.history.step', { history: { ...(spec.history as object), step: 60 } }],
    ['spec.forecast.horizon', { forecast: { horizon: 30 } }],
    ['spec.scaleTargets[0].scaleTargetRef.namespace', { scaleTargets: [{ ...(spec.scaleTargets as Record<string, object>[])[0], scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'w', namespace: 'other' } }] }],
  ])('%s: rejected by kubectl apply --server-side and by kubectl create (strict field validation), and by zod', async (field, change) => {
    const o = obj('unknown', { ...spec, ...change });
    const applied = await dryRun(o);
    expect({ code: applied.code, stderr: applied.stderr.trim() }).toEqual({ code: 1, stderr: expect.stringContaining(`.${field}: field not declared in schema`) });
    const created = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(o) });
    expect({ code: created.code, stderr: created.stderr.trim() }).toEqual({ code: 1, stderr: expect.stringContaining(`strict decoding error: unknown field "${field}"`) });
    expect(validateSpec(o.spec)).toEqual({ ok: false, field, message: expect.stringMatching(/^unknown field/) });
  });

  it('a client that skips field validation has them pruned, never stored; the pass-through HPA objects keep theirs', async () => {
    const metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } }, vendorExtra: 1 }];
    const targets = [{ ...(spec.scaleTargets as object[])[0], metrics, replicas: 3 }];
    // (Server-side apply refuses unknown fields even then: it cannot type the patch.)
    await cluster.kubectlOk(['create', '--validate=false', '-f', '-'], { input: JSON.stringify(obj('pruned', { ...spec, scaleTargets: targets, extra: true })) });
    const stored = JSON.parse(await cluster.kubectlOk(['get', 'psc', 'pruned', '-n', NS, '-o', 'json'])) as { spec: Record<string, unknown> & { scaleTargets: Record<string, unknown>[] } };
    expect(stored.spec.extra).toBeUndefined();
    expect(stored.spec.scaleTargets[0].replicas).toBeUndefined();
    expect(stored.spec.scaleTargets[0].metrics).toEqual(metrics);
    // No defaults in the CRD: what is stored is what was written; zod applies the defaults when the controller reads it.
    expect(stored.spec.mode).toBeUndefined();
  });
});

describe('deploy/examples/predictivescaler-cloneset.yaml', () => {
  const example = parse(readFileSync(join(ROOT, 'deploy/examples/predictivescaler-cloneset.yaml'), 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { scaleTargets: { metrics: unknown[]; behavior: unknown; scaleTargetRef: unknown; minReplicas: number; maxReplicas: number }[] } };

  it('is a PredictiveScaler that zod and the apiserver accept', async () => {
    expect({ apiVersion: example.apiVersion, kind: example.kind }).toEqual({ apiVersion: PS_API_VERSION, kind: PS_KIND });
    const z = validateSpec(example.spec);
    expect(z.ok ? 'ok' : `${z.field}: ${z.message}`).toBe('ok');
    const r = await dryRun({ ...example, metadata: { ...example.metadata, namespace: NS } });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('scales a CloneSet from Prometheus history, with CPU as the reactive metric, and its metrics and behavior make a valid autoscaling/v2 HPA', async () => {
    const z = validateSpec(example.spec);
    if (!z.ok) throw new Error(`${z.field}: ${z.message}`);
    expect(z.spec.history.source).toBe('prometheus');
    const t = z.spec.scaleTargets[0];
    expect(t.scaleTargetRef).toMatchObject({ apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet' });
    expect(t.metrics).toEqual([expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) })]);
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'example', namespace: NS }, spec: { scaleTargetRef: t.scaleTargetRef, minReplicas: t.minReplicas, maxReplicas: t.maxReplicas, metrics: t.metrics, behavior: t.behavior } };
    const r = await dryRun(hpa);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('status subresource and printer columns', () => {
  const spec = valid.find((c) => c.name === 'minimal')?.spec;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  const status = {
    observedGeneration: 1,
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now, reason: 'Forecasting', message: 'forecast and plan current' }],
    model: { kind: 'holt-winters', trainedAt: now, holdoutMase: 0.8 },
    forecast: { at: now, windowMinutes: 30, peakP50: 700, peakP90: 812.5 },
    capacity: [{ target: 'CloneSet/web', planned: 9, current: 4, nextRaise: { at: now, capacity: 9 }, hpa: 'prescale-web' }],
    plannedReplicas: 9,
    mode: 'Preview' as const,
  };

  beforeAll(async () => {
    expect(predictiveScalerStatus.safeParse(status).success).toBe(true);
    // A status in the main resource's body is ignored: only the status subresource writes it.
    await cluster.apply(JSON.stringify(obj('columns', spec, status)));
  });

  const get = async (): Promise<string[]> => (await cluster.kubectlOk(['get', 'psc', '-n', NS, 'columns'])).trim().split('\n');

  it('kubectl get psc prints the columns of PRINTER_COLUMNS; status written with the object is dropped', async () => {
    const [header, row] = await get();
    expect(header.split(/\s+/)).toEqual(['NAME', 'TARGET', 'MODE', 'MODEL', 'P90', 'PLANNED', 'READY', 'AGE']);
    // No status (the mode column is the status's effective mode): only the name, the target and the age have values.
    expect(row).toMatch(/^columns\s+web\s+\d+s$/);
    expect(JSON.parse(await cluster.kubectlOk(['get', 'psc', 'columns', '-n', NS, '-o', 'json'])).status).toBeUndefined();
  });

  it('after a status patch through the status subresource, prints its values', async () => {
    await cluster.kubectlOk(['patch', 'psc', 'columns', '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    const [, row] = await get();
    expect(row).toMatch(/^columns\s+web\s+Preview\s+holt-winters\s+812\.5\s+9\s+True\s+\d+s$/);
  });

  it('the status subresource validates status against the schema, naming the field', async () => {
    const bad = { status: { conditions: [{ ...status.conditions[0], status: 'Yes' }] } };
    const r = await cluster.kubectl(['patch', 'psc', 'columns', '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify(bad)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('status.conditions[0].status: Unsupported value: "Yes"');
  });
});
