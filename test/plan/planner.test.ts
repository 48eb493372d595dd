import { describe, expect, it } from '@jest/globals';
import { capacityFor, plan, type CapacityModel, type PlanPolicy } from '../../src/plan/planner.js';
import { QUANTILES, type QuantileForecast } from '../../src/forecast/forecaster.js';

const MIN = 60_000;
const pods: CapacityModel = { kind: 'cloneset', qpsPerReplica: 100 };
const lambda: CapacityModel = { kind: 'lambda-provisioned-concurrency', meanDurationMs: 200, targetUtilization: 0.7 };
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 1000, scaleDownDelayMinutes: 5, maxStepUp: Infinity };

/** A forecast whose p50 is `p50` and whose p90/p99 are `p90` per minute step, starting at `t0`. */
function fc(t0: number, p50: number[], p90: number[] = p50): QuantileForecast {
  return {
    startMs: t0,
    stepMs: MIN,
    horizon: p50.length,
    probabilistic: true,
    values: QUANTILES.map((q) => Float64Array.from(q === 0.5 ? p50 : p90)),
  };
}

describe('capacityFor', () => {
  it.each([
    [1000, lambda, 286], // 1000 * 0.2 / 0.7 = 285.7
    [700, { ...lambda, meanDurationMs: 100 }, 100], // exactly 100, no float-noise extra unit
    [250, pods, 3],
    [300, pods, 3],
    [0, pods, 0],
    [Number.NaN, pods, 0],
    [-5, lambda, 0],
  ])('qps %p on %p needs %p', (qps, model, want) => {
    expect(capacityFor(qps, model)).toBe(want);
  });
});

describe('plan', () => {
  it('scales up a lead time before the forecast peak and down only after the delay', () => {
    const base = Array(30).fill(100);
    base[10] = 1000; // one spike at step 10
    const p = plan({ nowMs: 0, forecast: fc(0, base), observedQps: 100 }, pods, policy);
    const caps = p.schedule.map((s) => s.capacity);
    expect(caps.slice(0, 7)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(caps.slice(7, 11)).toEqual([10, 10, 10, 10]); // lead 3 min: raised from step 7
    // held while the step-10 wish is inside the 5 min window (strictly newer than t - 5 min, as the HPA does)
    expect(caps.slice(11, 15)).toEqual([10, 10, 10, 10]);
    expect(caps[15]).toBe(1);
    expect(p.schedule[8].reason).toBe('forecast');
    expect(p.schedule[12].reason).toBe('scale-down-delay');
  });

  it('plans on the configured quantile', () => {
    const p = plan({ nowMs: 0, forecast: fc(0, [100, 100], [500, 500]), observedQps: 0 }, pods, policy);
    expect(p.current.capacity).toBe(5);
    const p50 = plan({ nowMs: 0, forecast: fc(0, [100, 100], [500, 500]), observedQps: 0 }, pods, { ...policy, quantile: 0.5 });
    expect(p50.current.capacity).toBe(1);
  });

  it('never plans below the reactive choice from observed load', () => {
    const p = plan({ nowMs: 0, forecast: fc(0, [100, 100]), observedQps: 750 }, pods, policy);
    expect(p.current).toMatchObject({ capacity: 8, reason: 'reactive-floor' });
  });

  it('keeps the wishes of earlier plans through the scale-down delay', () => {
    const first = plan({ nowMs: 0, forecast: fc(0, [900, 900]), observedQps: 900 }, pods, policy);
    const later = plan({ nowMs: 3 * MIN, forecast: fc(3 * MIN, [100, 100]), observedQps: 100, memory: first.memory }, pods, policy);
    expect(later.current).toMatchObject({ capacity: 9, reason: 'scale-down-delay' });
    const after = plan({ nowMs: 6 * MIN, forecast: fc(6 * MIN, [100, 100]), observedQps: 100, memory: later.memory }, pods, policy);
    expect(after.current.capacity).toBe(1);
  });

  it('starts ramps early when the step up is limited', () => {
    const p = plan({ nowMs: 0, forecast: fc(0, [0, 0, 0, 0, 0, 900]), observedQps: 0, currentCapacity: 1 }, pods, {
      ...policy,
      leadMinutes: 0,
      maxStepUp: 3,
    });
    expect(p.schedule.map((s) => s.capacity)).toEqual([1, 1, 1, 3, 6, 9]);
  });

  it('applies event floors from the lead time before the event', () => {
    const events = [{ name: 'promo', startMs: 5 * MIN, endMs: 8 * MIN, minCapacity: 50 }];
    const p = plan({ nowMs: 0, forecast: fc(0, Array(10).fill(100)), observedQps: 100, events }, pods, policy);
    expect(p.schedule.map((s) => s.capacity)).toEqual([1, 1, 50, 50, 50, 50, 50, 50, 50, 50]);
    expect(p.schedule[2].reason).toBe('event-floor');
  });

  it('holds the current capacity in fallback and clamps to bounds', () => {
    const p = plan({ nowMs: 0, forecast: undefined, observedQps: 100, fallback: true, currentCapacity: 40 }, pods, policy);
    expect(p.current).toMatchObject({ capacity: 40, reason: 'fallback-hold' });
    const q = plan({ nowMs: 0, forecast: fc(0, [1e9]), observedQps: 0 }, pods, policy);
    expect(q.current).toMatchObject({ capacity: 1000, reason: 'max' });
  });
});

describe('plan timing', () => {
  it('places points where their forecast steps begin when now is inside step 0', () => {
    const FIVE = 5 * MIN;
    const f: QuantileForecast = { startMs: 0, stepMs: FIVE, horizon: 3, probabilistic: false, values: QUANTILES.map(() => Float64Array.from([100, 100, 900])) };
    const p = plan({ nowMs: 4 * MIN + 30_000, forecast: f, observedQps: 100 }, pods, { ...policy, leadMinutes: 3 });
    expect(p.schedule.map((s) => s.atMs)).toEqual([4 * MIN + 30_000, FIVE, 2 * FIVE]);
    // the spike at 10:00 needs 9 replicas from 07:00 (lead 3 min): the step starting at 05:00 carries it
    expect(p.schedule.map((s) => s.capacity)).toEqual([1, 9, 9]);
  });
});

describe('event multipliers', () => {
  const events = [{ name: 'promo', startMs: 0, endMs: 10 * MIN, multiplier: 4 }];
  it('scale the normal load (a day earlier) when given, so a model that already sees the uplift is not multiplied again', () => {
    // the model forecasts the uplift already: 400 QPS; normal load a day earlier was 100
    const p = plan({ nowMs: 0, forecast: fc(0, [400, 400]), observedQps: 400, events, normalQps: [100, 100] }, pods, policy);
    expect(p.current).toMatchObject({ capacity: 4, qps: 400 });
  });
  it('fall back to the p50 where the normal load is unknown', () => {
    const p = plan({ nowMs: 0, forecast: fc(0, [100, 100]), observedQps: 100, events, normalQps: [NaN, NaN] }, pods, policy);
    expect(p.current.capacity).toBe(4);
  });
});

describe('the planned QPS means the planned capacity after every clamp', () => {
  it.each([
    ['step limit', { maxStepUp: 5 }, [100, 4000, 4000], 15, 'step-limit'],
    ['max', { max: 20 }, [3000, 3000, 3000], 20, 'max'],
    ['min', { min: 8 }, [100, 100, 100], 8, 'min'],
  ] as const)('%s', (_name, over, p90, want, reason) => {
    const p = plan({ nowMs: 0, forecast: fc(0, [...p90]), observedQps: 100, currentCapacity: 10 }, pods, { ...policy, leadMinutes: 0, scaleDownDelayMinutes: 0, ...over });
    expect([p.current.capacity, p.current.reason]).toEqual([want, reason]);
    // What the external metric serves: the HPA (AverageValue qpsPerReplica) asks for exactly this capacity.
    expect(p.current.qps).toBe(want * 100);
    for (const point of p.schedule) expect(capacityFor(point.qps, pods)).toBe(point.capacity);
  });
});
