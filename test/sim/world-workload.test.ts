import { describe, expect, it } from '@jest/globals';
import { CloneSetActuator } from '../../src/actuators/cloneset.js';
import { plan, type PlanPolicy } from '../../src/plan/planner.js';
import { SimulatedWorld } from '../../src/sim/world.js';
import { ManualClock, MINUTE_MS } from '../../src/util/clock.js';

/**
 * The simulated world scales every workload kind as the same pods; the kind gives the actuator's id (which the
 * world's HPA uses to read what the metrics API serves for it) and the HPA's scaleTargetRef.
 */

const T0 = Date.UTC(2026, 10, 27, 12, 0);
const model = { kind: 'cloneset', qpsPerReplica: 100 } as const;
const policy: PlanPolicy = { quantile: 0.9, leadMinutes: 3, min: 1, max: 50, scaleDownDelayMinutes: 0, maxStepUp: Infinity };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

function world(served: string[]): { w: SimulatedWorld; clock: ManualClock } {
  const clock = new ManualClock(T0);
  const w = new SimulatedWorld({
    clock,
    params: { podReadySeconds: 0, lambdaAllocationSeconds: 0, lambdaTargetTracking: false },
    demand: () => 500,
    served: (_target, actuatorId) => (served.push(actuatorId), 900),
  });
  return { w, clock };
}

describe('SimulatedWorld with a Deployment workload', () => {
  it("its HPA targets the Deployment and reads prescale's metric under the actuator's id", async () => {
    const served: string[] = [];
    const { w, clock } = world(served);
    w.addCloneSet('shop', { namespace: 'ns', name: 'web', workload: DEPLOYMENT, mode: 'external-metric', qpsPerReplica: 100, min: 1, max: 50, predictive: true });
    expect(await w.listHpas('ns')).toEqual([{ namespace: 'ns', name: 'web', targetApiVersion: 'apps/v1', targetKind: 'Deployment', targetName: 'web' }]);
    const a = new CloneSetActuator({ namespace: 'ns', name: 'web', workload: DEPLOYMENT, mode: 'external-metric', model, policy, scale: w, hpas: w });
    const recs = await a.apply(plan({ nowMs: T0, forecast: undefined, observedQps: 500 }, model, policy), { target: 'shop', nowMs: T0, dryRun: false });
    expect(recs.map((r) => r.action)).toEqual(['serve-metric']); // an HPA owns it: no warning
    clock.advance(2 * MINUTE_MS);
    expect(await a.currentCapacity()).toBe(9); // the HPA followed the 900 QPS served for deployment:ns/web
    expect(new Set(served)).toEqual(new Set([a.id]));
    expect(a.id).toBe('deployment:ns/web');
    expect(w.podMinutes('deployment:ns/web')).toEqual([]); // kept only when asked (keepMinutes)
  });

  it('in direct mode scales by the ref, whatever its kind, and names the kind when it is missing', async () => {
    const { w } = world([]);
    w.addCloneSet('shop', { namespace: 'ns', name: 'web', workload: DEPLOYMENT, mode: 'direct', qpsPerReplica: 100, min: 1, max: 50, predictive: true });
    const ref = { namespace: 'ns', name: 'web', ...DEPLOYMENT };
    const sc = await w.getScale(ref);
    expect((await w.patchScaleReplicas({ ref, replicas: 12, resourceVersion: sc.resourceVersion })).replicas).toBe(12);
    expect(await w.getWorkload(ref)).toMatchObject({ specReplicas: 12, paused: false });
    await expect(w.getScale({ ...ref, name: 'nope' })).rejects.toMatchObject({ kind: 'not-found', message: 'Deployment "nope" not found in namespace ns' });
  });
});
