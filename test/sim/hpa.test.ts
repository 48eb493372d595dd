import { describe, expect, it } from '@jest/globals';
import { HpaSimulator, type HpaSpec } from '../../src/sim/hpa.js';

const S = 1000;

/**
 * Runs syncs every 15 s from t = 0 with the given metric totals, writing each decision back as if the scale
 * subresource and the pods followed at once (status = ready = spec), and returns the replicas after each sync.
 */
function run(spec: HpaSpec, start: number, metrics: Record<string, number | undefined>[]): number[] {
  const hpa = new HpaSimulator(spec);
  let cur = start;
  return metrics.map((m, i) => {
    cur = hpa.sync(i * 15 * S, { specReplicas: cur, statusReplicas: cur, readyPods: cur, metrics: m }).replicas;
    return cur;
  });
}

const avg = (averageValue: number): HpaSpec['metrics'][number] => ({ name: 'load', target: { type: 'AverageValue', averageValue } });
const load = (v: number | undefined, n: number): Record<string, number | undefined>[] => Array.from({ length: n }, () => ({ load: v }));

describe('HPA: scale up limited by policies', () => {
  it.each([
    // default behavior: Pods 4 / Percent 100 per 15 s, Max: 1 -> max(5, 2) = 5 -> max(9, 10) = 10 -> 20 -> 40 -> 50 (the proposal)
    ['defaults, selectPolicy Max', {}, 1, [5, 10, 20, 40, 50, 50]],
    // Min: 1 -> min(5, 2) = 2 -> min(6, 4) = 4 -> min(8, 8) = 8 -> min(12, 16) = 12 -> 16 -> 20
    ['defaults, selectPolicy Min', { scaleUp: { selectPolicy: 'Min' as const } }, 1, [2, 4, 8, 12, 16, 20]],
    // Pods 4 per 60 s: +4 at t=0, then the event is inside (t-60, t] until t = 60 (After(cutoff) is strict)
    ['Pods 4 / 60 s', { scaleUp: { policies: [{ type: 'Pods' as const, value: 4, periodSeconds: 60 }] } }, 2, [6, 6, 6, 6, 10, 10]],
    // Percent 50 per 15 s: ceil(2 * 1.5) = 3, ceil(4.5) = 5, ceil(7.5) = 8, 12, 18, 27
    ['Percent 50 / 15 s', { scaleUp: { policies: [{ type: 'Percent' as const, value: 50, periodSeconds: 15 }] } }, 2, [3, 5, 8, 12, 18, 27]],
    ['Disabled', { scaleUp: { selectPolicy: 'Disabled' as const } }, 2, [2, 2, 2, 2, 2, 2]],
  ])('%s', (_name, behavior, start, want) => {
    const spec: HpaSpec = { minReplicas: 1, maxReplicas: 100, metrics: [avg(10)], behavior };
    expect(run(spec, start, load(500, want.length))).toEqual(want);
  });

  it('without behavior, scale-up is limited to max(2 x cur, 4) per sync', () => {
    // 2 -> max(4, 4) = 4 -> 8 -> 16 -> 32 -> 50
    expect(run({ minReplicas: 1, maxReplicas: 100, metrics: [avg(10)] }, 2, load(500, 6))).toEqual([4, 8, 16, 32, 50, 50]);
  });
});

describe('HPA: scale down held by the stabilization window', () => {
  // t = 0: load 100 at 10 pods (ratio 1, keeps 10); from t = 15: load 20 -> proposal 2.
  const metrics = [{ load: 100 }, ...load(20, 22)];
  it('with behavior: held until the t=0 recommendation is 300 s old (strictly newer ones count)', () => {
    const got = run({ minReplicas: 1, maxReplicas: 100, metrics: [avg(10)], behavior: {} }, 10, metrics);
    // syncs at 0, 15, ..., 285 keep 10; at 300 the window (300 - 300, 300] no longer holds t = 0.
    expect(got).toEqual([...Array(20).fill(10), 2, 2, 2]);
  });
  it('without behavior: the legacy window includes a recommendation exactly 300 s old', () => {
    const got = run({ minReplicas: 1, maxReplicas: 100, metrics: [avg(10)] }, 10, metrics);
    expect(got).toEqual([...Array(21).fill(10), 2, 2]);
  });
  it('a scale-down policy limits the pace once the window has passed', () => {
    const spec: HpaSpec = {
      minReplicas: 1,
      maxReplicas: 100,
      metrics: [avg(10)],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 3, periodSeconds: 15 }] } },
    };
    // 10 -> 7 -> 4 -> 2 (the proposal)
    expect(run(spec, 10, load(20, 4))).toEqual([7, 4, 2, 2]);
  });
  it('scale-down Percent floors: 10 at 50 % -> 5 -> 2 -> 1', () => {
    const spec: HpaSpec = {
      minReplicas: 1,
      maxReplicas: 100,
      metrics: [avg(10)],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] } },
    };
    expect(run(spec, 10, load(0, 4))).toEqual([5, 2, 1, 1]);
  });
});

describe('HPA: tolerance', () => {
  const noWindow: HpaSpec = { minReplicas: 1, maxReplicas: 100, metrics: [avg(10)], behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } };
  it.each([
    [109, 10], // ratio 1.09: within 0.1, keeps status.replicas
    // ratio exactly 1.1: in float64 |1 - 1.1| = 0.10000000000000009 > 0.1, so upstream (Go, same arithmetic) scales
    [110, 11],
    [111, 12], // ceil(11.1)
    [91, 10],
    [89, 9], // ceil(8.9)
    [0, 1], // proposal 0, clamped to min
  ])('AverageValue 10 at 10 pods, load %p -> %p', (usage, want) => {
    expect(run(noWindow, 10, load(usage, 1))).toEqual([want]);
  });

  it.each([
    [105, 10, 10], // ratio 1.05 keeps spec.replicas
    [150, 8, 12], // ceil(1.5 x 8 ready pods)
    [50, 10, 5],
  ])('Value 100 at 10 pods, load %p with %p ready -> %p', (usage, ready, want) => {
    const hpa = new HpaSimulator({ ...noWindow, metrics: [{ name: 'load', target: { type: 'Value', value: 100 } }] });
    expect(hpa.sync(0, { specReplicas: 10, statusReplicas: 10, readyPods: ready, metrics: { load: usage } }).replicas).toBe(want);
  });
});

describe('HPA: min/max clamps and cur == 0', () => {
  const spec: HpaSpec = { minReplicas: 3, maxReplicas: 20, metrics: [avg(10)], behavior: {} };
  it.each([
    ['cur 0 with min > 0: autoscaling off', 0, 1000, 0, 'scaling-disabled'],
    ['cur above max: clamped to max', 25, 0, 20, 'clamped-to-max'],
    ['cur below min: raised to min', 1, 0, 3, 'clamped-to-min'],
    ['proposal above max: capped at max', 10, 1000, 20, 'scaled'],
  ])('%s', (_name, cur, usage, want, outcome) => {
    const hpa = new HpaSimulator(spec);
    const d = hpa.sync(0, { specReplicas: cur, statusReplicas: cur, readyPods: cur, metrics: { load: usage } });
    expect([d.replicas, d.outcome]).toEqual([want, outcome]);
  });
  it('proposal below min (window 0): floored at min', () => {
    const s: HpaSpec = { ...spec, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } };
    expect(run(s, 10, load(5, 1))).toEqual([3]);
  });
  it('min 0 and cur 0: AverageValue with no pods proposes ceil(usage / target), limited by Pods 4', () => {
    const s: HpaSpec = { minReplicas: 0, maxReplicas: 20, metrics: [avg(10)], behavior: {} };
    // 0 -> max(0 + 4, ceil(0 x 2)) = 4 -> max(8, 8) = 8 -> 16 (proposal ceil(350 / 10) = 35, max 20) -> 20
    expect(run(s, 0, load(350, 4))).toEqual([4, 8, 16, 20]);
  });
});

describe('HPA: several metrics and invalid metrics', () => {
  const spec: HpaSpec = {
    minReplicas: 1,
    maxReplicas: 100,
    metrics: [avg(10), { name: 'forecast', target: { type: 'AverageValue', averageValue: 10 } }],
    behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
  };
  it.each([
    ['max over metrics', { load: 30, forecast: 150 }, 15, 'scaled'],
    ['an invalid metric blocks a scale-down', { load: 20, forecast: undefined }, 10, 'invalid-metrics'],
    ['an invalid metric does not block a scale-up', { load: 200, forecast: undefined }, 20, 'scaled'],
    ['all metrics invalid: no change', { load: undefined, forecast: undefined }, 10, 'invalid-metrics'],
    ['NaN counts as invalid', { load: 20, forecast: Number.NaN }, 10, 'invalid-metrics'],
    ['both valid, scale down', { load: 20, forecast: 40 }, 4, 'scaled'],
  ])('%s', (_name, metrics, want, outcome) => {
    const hpa = new HpaSimulator(spec);
    const d = hpa.sync(0, { specReplicas: 10, statusReplicas: 10, readyPods: 10, metrics });
    expect([d.replicas, d.outcome]).toEqual([want, outcome]);
  });
  it('an invalid sync stores no recommendation: scale-down resumes from valid ones only', () => {
    const hpa = new HpaSimulator({ ...spec, behavior: {} });
    const obs = (m: Record<string, number | undefined>) => ({ specReplicas: 10, statusReplicas: 10, readyPods: 10, metrics: m });
    expect(hpa.sync(0, obs({ load: 20, forecast: undefined })).replicas).toBe(10);
    // first valid recommendation (2) at 15 s: with the default 300 s window nothing older holds it up
    expect(hpa.sync(15 * S, obs({ load: 20, forecast: 20 })).replicas).toBe(2);
  });
});
