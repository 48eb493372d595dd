import { describe, expect, it } from '@jest/globals';
import { servedValue } from '../../src/metrics-api/served.js';
import { cloneset, target, T0 } from './helpers.js';

/** What is served for a paused target: the observed load, so an HPA on prescale-qps scales reactively only. */
describe('servedValue of a paused target', () => {
  const a = cloneset('shop', 'web', { plannedQps: 2400, plannedCapacity: 24 });
  const o = { nowMs: T0 + 30_000, staleAfterSeconds: 180, stale: 'error' as const };

  it('serves the plan while active', () => {
    expect(servedValue(target('shop.web', [a]), a, o)).toMatchObject({ ok: true, value: { qps: 2400, replicas: 24, stale: false } });
  });

  it('serves the observed load while paused (annotation, Preview or admin pause), whatever the stale policy', () => {
    expect(servedValue(target('shop.web', [a], { paused: true }), a, o)).toMatchObject({ ok: true, value: { qps: 250, replicas: 3, stale: true } });
  });

  it('says why when paused and nothing was observed', () => {
    expect(servedValue(target('shop.web', [a], { paused: true, observedQps: NaN }), a, o)).toEqual({ ok: false, message: 'target "shop.web" is paused, and no observed load is known either' });
  });
});
