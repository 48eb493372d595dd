import { describe, expect, it } from '@jest/globals';
import { toTarget } from '../../src/controller/convert.js';
import { canonical, desiredHpas, quantity } from '../../src/controller/hpa.js';
import { statusOf } from '../../src/controller/status.js';
import type { PredictiveScalerObject } from '../../src/crd/predictive-scaler.js';
import type { TargetSnapshot } from '../../src/service/state.js';

const spec = {
  history: { source: 'prometheus', url: 'http://127.0.0.1:9090', query: 'sum(rate(http_requests_total[1m]))' },
  forecast: { model: 'holt-winters' },
  scaleTargets: [{ scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, qpsPerReplica: 50, maxReplicas: 20 }],
  lambdas: [{ function: 'checkout', qualifier: 'live', meanDurationMs: 120, targetUtilization: 0.7, min: 0, max: 500 }],
};

function obj(s: unknown, o: { name?: string; ns?: string; annotations?: Record<string, string> } = {}): PredictiveScalerObject {
  return { metadata: { name: o.name ?? 'checkout', namespace: o.ns ?? 'shop', uid: 'u-1', generation: 4, ...(o.annotations ? { annotations: o.annotations } : {}) }, spec: s };
}

describe('a PredictiveScaler becomes a target of the file config’s shape', () => {
  it('maps scale targets and lambdas onto the actuators, named namespace.name', () => {
    const r = toTarget(obj(spec), { allowLocalFiles: false, allowAws: true });
    if (!r.ok) throw new Error(`${r.field}: ${r.message}`);
    expect(r.target.name).toBe('shop.checkout');
    expect(r.target.forecast).toMatchObject({ model: 'holt-winters', horizonMinutes: 30, quantile: 0.9 });
    expect(r.target.actuators).toEqual([
      expect.objectContaining({ kind: 'cloneset', namespace: 'shop', name: 'web', workload: { apiVersion: 'apps/v1', kind: 'Deployment' }, qpsPerReplica: 50, min: 1, max: 20, leadMinutes: 3, mode: 'external-metric' }),
      expect.objectContaining({ kind: 'lambda-provisioned-concurrency', function: 'checkout', qualifier: 'live', min: 0, max: 500, leadMinutes: 5 }),
    ]);
    expect(r.target.paused).toBe(false);
  });

  it('Preview and the paused annotation pause the target', () => {
    const preview = toTarget(obj({ ...spec, mode: 'Preview' }), { allowLocalFiles: false, allowAws: true });
    const annotated = toTarget(obj(spec, { annotations: { 'prescale.io/paused': 'true' } }), { allowLocalFiles: false, allowAws: true });
    expect(preview.ok && preview.target.paused).toBe(true);
    expect(annotated.ok && annotated.target.paused).toBe(true);
  });

  it.each([
    ['a rule the CRD cannot state', { ...spec, scaleTargets: [{ ...spec.scaleTargets[0], minReplicas: 30 }] }, 'spec.scaleTargets[0].minReplicas', /must not exceed maxReplicas/],
    ['an unknown field', { ...spec, forcast: {} }, 'spec.forcast', /unknown field/],
    ['a Lambda $LATEST', { ...spec, lambdas: [{ ...spec.lambdas[0], qualifier: '$LATEST' }] }, 'spec.lambdas[0].qualifier', /never \$LATEST/],
    ['no capacity at all', { ...spec, scaleTargets: [], lambdas: [] }, 'spec.scaleTargets', /at least one/],
    ['a local file when not allowed', { ...spec, history: { source: 'csv', path: '/etc/passwd' } }, 'spec.history.path', /allowLocalFiles/],
    ['a Lambda alias when AWS is not allowed', spec, 'spec.lambdas', /controller\.allowAws is false/],
    ['CloudWatch history when AWS is not allowed', { ...spec, lambdas: [], history: { source: 'cloudwatch', namespace: 'AWS/Lambda', metric: 'Invocations' } }, 'spec.history.source', /allowAws/],
  ])('reports %s with the field and the rule', (what, s, field, rule) => {
    const r = toTarget(obj(s), { allowLocalFiles: false, allowAws: !/AWS is not allowed/.test(what) });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.field).toBe(field);
    expect(r.message).toMatch(rule);
  });

  it('refuses a namespace.name too long for a label value, naming metadata.name', () => {
    const r = toTarget(obj(spec, { name: 'x'.repeat(60) }), { allowLocalFiles: false, allowAws: true });
    expect(r).toMatchObject({ ok: false, field: 'metadata.name' });
  });
});

describe('the owned HPA', () => {
  it('keeps the reactive metrics beside prescale-qps, selected by target and workload, owned by the PredictiveScaler', () => {
    const s = toTarget(obj({ ...spec, lambdas: [], scaleTargets: [{ ...spec.scaleTargets[0], metrics: [{ type: 'Resource', resource: { name: 'cpu' } }] }, { ...spec.scaleTargets[0], scaleTargetRef: { ...spec.scaleTargets[0].scaleTargetRef, name: 'api' }, qpsPerReplica: 12.5, mode: 'direct' }] }), { allowLocalFiles: false });
    if (!s.ok) throw new Error(s.message);
    const d = desiredHpas(obj(spec), s.spec, 'shop.checkout');
    expect(d).toHaveLength(1); // the direct-mode target gets none
    expect(d[0].actuatorId).toBe('deployment:shop/web');
    expect(d[0].hpa.metadata).toMatchObject({ name: 'checkout', namespace: 'shop', ownerReferences: [{ kind: 'PredictiveScaler', uid: 'u-1', controller: true }] });
    expect(d[0].hpa.spec?.metrics?.map((m) => m.type)).toEqual(['Resource', 'External']);
    expect(d[0].hpa.spec?.metrics?.[1].external?.metric.selector?.matchLabels).toEqual({ target: 'shop.checkout', cloneset: 'web' });
    // Preview: the HPA keeps the reactive metrics only (nothing acts on the forecast); with none, no HPA at all.
    const preview = desiredHpas(obj(spec), { ...s.spec, mode: 'Preview' }, 'shop.checkout');
    expect(preview.map((x) => x.hpa.spec?.metrics?.map((m) => m.type))).toEqual([['Resource']]);
    expect(desiredHpas(obj(spec), { ...s.spec, mode: 'Preview', scaleTargets: s.spec.scaleTargets.map((t) => ({ ...t, metrics: [] })) }, 'shop.checkout')).toEqual([]);
  });

  it('writes quantities the apiserver parses', () => {
    expect([quantity(100), quantity(12.5), quantity(0.25)]).toEqual(['100', '12500m', '250m']);
  });

  it('compares objects whatever their key order', () => {
    expect(canonical({ a: 1, b: { d: [1, { f: 2, e: 3 }], c: undefined } })).toBe(canonical({ b: { d: [1, { e: 3, f: 2 }] }, a: 1 }));
  });
});

function snapshot(over: Partial<TargetSnapshot> = {}): TargetSnapshot {
  const now = Date.parse('2026-12-02T10:00:00Z');
  return {
    name: 'shop.checkout',
    updatedAtMs: now,
    forecastAtMs: now,
    observedQps: 900,
    history: { startMs: now, stepMs: 60_000, values: new Float64Array() },
    forecast: { startMs: now, stepMs: 300_000, horizon: 3, probabilistic: true, values: [Float64Array.from([800, 950, 900]), Float64Array.from([1000, 1200, 1100]), Float64Array.from([1300, 1600, 1500])] },
    pastForecasts: [],
    actuators: [
      {
        id: 'deployment:shop/web',
        kind: 'cloneset',
        namespace: 'shop',
        name: 'web',
        qpsPerReplica: 50,
        plannedQps: 1000,
        plannedCapacity: 20,
        currentCapacity: 18,
        schedule: [
          { atMs: now, qps: 1000, capacity: 20, reason: 'forecast' },
          { atMs: now + 300_000, qps: 1400, capacity: 28, reason: 'forecast' },
        ],
      },
    ],
    model: { kind: 'holt-winters', trainedAtMs: now - 3600_000, backend: 'cpu', scores: { 'holt-winters': { mase: 0.61234 } } },
    fallback: { active: false },
    actions: [],
    ...over,
  } as TargetSnapshot;
}

describe('status', () => {
  const base = { generation: 4, nowMs: Date.parse('2026-12-02T10:00:30Z'), hpas: new Map([['deployment:shop/web', 'checkout']]) };

  it('reports the model, the window peak, the plan and the next raise, with conditions at the generation', () => {
    const s = statusOf({ ...base, snapshot: snapshot() });
    expect(s.model).toEqual({ kind: 'holt-winters', trainedAt: '2026-12-02T09:00:00.000Z', holdoutMase: 0.6123 });
    expect(s.forecast).toEqual({ at: '2026-12-02T10:00:00.000Z', windowMinutes: 15, peakP50: 950, peakP90: 1200 });
    expect(s.capacity).toEqual([{ target: 'deployment/web', planned: 20, current: 18, nextRaise: { at: '2026-12-02T10:05:00.000Z', capacity: 28 }, hpa: 'checkout' }]);
    expect(s.plannedReplicas).toBe(20);
    expect(s.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Ready', 'True', 'Planning', 4],
      ['ForecastReady', 'True', 'ModelForecast', 4],
      ['Fallback', 'False', 'ForecastInUse', 4],
      ['Paused', 'False', 'Active', 4],
    ]);
  });

  it('fallback, training, an invalid edit and a conflict each say why', () => {
    const fb = statusOf({ ...base, snapshot: snapshot({ fallback: { active: true, reason: 'history unavailable: HTTP 503' }, forecast: undefined }) });
    expect(fb.conditions.find((c) => c.type === 'Fallback')).toMatchObject({ status: 'True', reason: 'HistoryUnavailable', message: expect.stringContaining('HTTP 503') });
    expect(fb.conditions.find((c) => c.type === 'ForecastReady')).toMatchObject({ status: 'False', reason: 'Fallback' });
    const training = statusOf({ ...base, snapshot: snapshot({ model: undefined, forecast: undefined, fallback: { active: true, reason: 'forecast failed: no model yet' } }) });
    expect(training.conditions.find((c) => c.type === 'ForecastReady')?.reason).toBe('ModelTraining');
    const young = statusOf({ ...base, snapshot: snapshot({ model: undefined }) });
    expect(young.conditions.find((c) => c.type === 'ForecastReady')).toMatchObject({ status: 'True', reason: 'SeasonalBaseline', message: expect.stringMatching(/^no model yet \(training\); the seasonal baseline forecasts meanwhile/) });
    const invalid = statusOf({ ...base, invalid: { field: 'spec.scaleTargets[0].minReplicas', message: 'minReplicas must not exceed maxReplicas' }, runningGeneration: 3, snapshot: snapshot() });
    expect(invalid.conditions[0]).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: 'spec.scaleTargets[0].minReplicas: minReplicas must not exceed maxReplicas; still running generation 3' });
    const conflict = statusOf({ ...base, ownedProblem: { reason: 'HPAConflict', message: 'HPA shop/checkout exists' }, snapshot: snapshot() });
    expect(conflict.conditions[0]).toMatchObject({ status: 'False', reason: 'HPAConflict' });
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = statusOf({ ...base, snapshot: snapshot() });
    const later = statusOf({ ...base, nowMs: base.nowMs + 60_000, snapshot: snapshot({ fallback: { active: true, reason: 'no observed load in the last 10 min' } }), previous: first });
    const t = (s: typeof first, type: string): string | undefined => s.conditions.find((c) => c.type === type)?.lastTransitionTime;
    expect(t(later, 'Ready')).toBe(t(first, 'Ready'));
    expect(t(later, 'Fallback')).not.toBe(t(first, 'Fallback'));
  });
});
