import { describe, expect, it } from '@jest/globals';
import { fieldName, validateSpec } from '../../src/crd/validate.js';
import { merge, SPECS_FILE, specCases } from './cases.js';

const base = {
  history: { source: 'prometheus', url: 'http://prom:9090', query: 'up' },
  scaleTargets: [{ scaleTargetRef: { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: 'web' }, qpsPerReplica: 100, maxReplicas: 10 }],
};
const target = (t: Record<string, unknown>) => ({ scaleTargets: [{ ...base.scaleTargets[0], ...t }] });

describe('validateSpec', () => {
  it('accepts a spec and applies zod’s defaults (the CRD has none)', () => {
    expect(validateSpec(base)).toEqual({
      ok: true,
      spec: {
        mode: 'Auto',
        history: { source: 'prometheus', url: 'http://prom:9090', query: 'up', stepSeconds: 60, days: 14 },
        forecast: { horizonMinutes: 30, quantile: 0.9, model: 'auto', stepMinutes: 5, maxHistoryAgeMinutes: 10 },
        events: [],
        scaleTargets: [{ ...base.scaleTargets[0], minReplicas: 1, leadMinutes: 3, scaleDownDelayMinutes: 10, mode: 'external-metric', metrics: [] }],
        lambdas: [],
      },
    });
  });

  it.each<[string, unknown, string, string]>([
    ['no spec at all', undefined, 'spec', 'is required (object)'],
    ['a spec that is not an object', 'web', 'spec', 'Invalid input: expected object, received string ("web" given)'],
    ['a missing required key', { scaleTargets: base.scaleTargets }, 'spec.history', 'is required (object)'],
    ['a variant’s required key', merge(base, { history: { url: null } }), 'spec.history.url', 'is required (string)'],
    ['an unknown discriminator', merge(base, { history: { source: 'graphite' } }), 'spec.history.source', 'must be one of "cloudwatch", "prometheus", "csv" ("graphite" given)'],
    ['another variant’s key', merge(base, { history: { stepSeconds: 60, periodSeconds: 60 } }), 'spec.history.periodSeconds', 'unknown field (60 given)'],
    ['an unknown key deep down', merge(base, target({ scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'w', namespace: 'x' } })), 'spec.scaleTargets[0].scaleTargetRef.namespace', 'unknown field ("x" given)'],
    ['several unknown keys: the first named, the rest listed', { ...base, a: 1, b: 2 }, 'spec.a', 'unknown field (also b) (1 given)'],
    ['a limit', merge(base, target({ maxReplicas: 0 })), 'spec.scaleTargets[0].maxReplicas', 'Too small: expected number to be >0 (0 given)'],
    ['a refinement', merge(base, target({ minReplicas: 11 })), 'spec.scaleTargets[0].minReplicas', 'minReplicas must not exceed maxReplicas (11 given)'],
    ['a refinement of the whole spec', { ...base, scaleTargets: [] }, 'spec.scaleTargets', 'must list at least one of scaleTargets or lambdas ([] given)'],
    ['a union of literals', { ...base, forecast: { quantile: 0.8 } }, 'spec.forecast.quantile', 'must be one of 0.5, 0.9, 0.99 (0.8 given)'],
    ['an enum', { ...base, mode: 'auto' }, 'spec.mode', 'Invalid option: expected one of "Auto"|"Preview" ("auto" given)'],
    ['a URL', merge(base, { history: { url: 'prometheus 9090' } }), 'spec.history.url', 'Invalid URL ("prometheus 9090" given)'],
    ['an event in an array', { ...base, events: [{ name: 'e', start: '2026-03-02T00:00:00Z', end: '2026-03-01T00:00:00Z' }] }, 'spec.events[0].end', 'end must be after start ("2026-03-01T00:00:00Z" given)'],
  ])('%s: names the field and the rule', (_what, spec, field, message) => {
    expect(validateSpec(spec)).toEqual({ ok: false, field, message });
  });

  it('leaves out a value too long to read in a condition', () => {
    const r = validateSpec(merge(base, { history: { url: `not a url ${'x'.repeat(100)}` } }));
    expect(r).toEqual({ ok: false, field: 'spec.history.url', message: 'Invalid URL' });
  });

  it.each([
    [[], 'spec'],
    [['history', 'url'], 'spec.history.url'],
    [['scaleTargets', 0, 'maxReplicas'], 'spec.scaleTargets[0].maxReplicas'],
    [['scaleTargets', 2, 'metrics', 1], 'spec.scaleTargets[2].metrics[1]'],
  ])('fieldName(%j) is %s', (path, name) => {
    expect(fieldName(path)).toBe(name);
  });
});

describe(`the specs of ${SPECS_FILE}, as zod alone sees them`, () => {
  const { valid, invalid } = specCases();
  it('has valid and invalid cases, the invalid ones of both verdicts', () => {
    expect(valid.length).toBeGreaterThanOrEqual(4);
    expect(new Set(invalid.map((c) => c.invalid?.apiserver))).toEqual(new Set(['rejects', 'accepts']));
  });
  it.each(valid.map((c) => [c.name, c] as const))('%s is valid', (_n, c) => {
    const r = validateSpec(c.spec);
    expect(r.ok ? 'ok' : `${r.field}: ${r.message}`).toBe('ok');
  });
  it.each(invalid.map((c) => [c.name, c.invalid?.field, c] as const))('%s is rejected at %s', (_n, field, c) => {
    expect(validateSpec(c.spec)).toMatchObject({ ok: false, field });
  });
});
