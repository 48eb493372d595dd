import { describe, expect, it } from '@jest/globals';
import { LambdaSimulator, type LambdaSimOptions } from '../../src/sim/lambda.js';

const MIN = 60_000;
const base: LambdaSimOptions = { meanDurationMs: 200, targetUtilization: 0.7, allocationMs: 2 * MIN, min: 10, max: 1000, targetTracking: true };

function runMinutes(sim: LambdaSimulator, qps: number[]) {
  return qps.map((q, i) => sim.minute(i * MIN, q));
}

describe('LambdaSimulator', () => {
  it('counts invocations beyond ready PC as cold starts (Little: 100 QPS x 0.2 s = 20 concurrent)', () => {
    const m = new LambdaSimulator({ ...base, targetTracking: false }).minute(0, 100);
    // 20 needed, 10 ready: half of the 6000 invocations spill over
    expect([m.needed, m.ready, m.invocations, m.coldStarts, m.utilization]).toEqual([20, 10, 6000, 3000, 1]);
  });

  it('target tracking scales out after 3 minutes above target, ready after the allocation delay', () => {
    const sim = new LambdaSimulator(base);
    const got = runMinutes(sim, Array(8).fill(100));
    // util 1 > 0.7 in minutes 0,1,2 -> at the end of minute 2 (t = 3 min) desired = ceil(10 x 1 / 0.7) = 15,
    // ready at t = 5 min; then three more high minutes (3,4,5) -> ceil(15 x 1 / 0.7) = 22 at t = 6 min.
    expect(got.map((m) => m.ready)).toEqual([10, 10, 10, 10, 10, 15, 15, 15]);
    expect(got.map((m) => m.desired)).toEqual([10, 10, 15, 15, 15, 22, 22, 22]);
  });

  it('target tracking scales in after 15 minutes below 0.9 x target, never below MinCapacity', () => {
    const sim = new LambdaSimulator({ ...base, min: 1 });
    sim.setMinCapacity(0, 100);
    sim.setMinCapacity(0, 1);
    const got = runMinutes(sim, Array(20).fill(100));
    // 100 units requested at t = 0, ready at 2 min; util 20/100 = 0.2 < 0.63 from minute 2; the 15th low
    // minute is minute 16 -> desired ceil(100 x 0.2 / 0.7) = 29 from its end.
    expect(got[15].desired).toBe(100);
    expect(got[16].desired).toBe(29);
    expect(got[17].ready).toBe(29);
  });

  it('a scheduled MinCapacity raise takes effect after the allocation delay; a lowering keeps capacity', () => {
    const sim = new LambdaSimulator({ ...base, targetTracking: false });
    sim.setMinCapacity(0, 50);
    expect([sim.minute(0, 0).ready, sim.minute(MIN, 0).ready, sim.minute(2 * MIN, 0).ready]).toEqual([10, 10, 50]);
    sim.setMinCapacity(3 * MIN, 20);
    expect(sim.minute(3 * MIN, 0).ready).toBe(50);
  });

  it('a flat load gives no cold starts once warm', () => {
    const sim = new LambdaSimulator({ ...base, min: 1 });
    const got = runMinutes(sim, Array(40).fill(100));
    const lastCold = got.map((m) => m.coldStarts).lastIndexOf(Math.max(...got.map((m) => m.coldStarts)));
    expect(got.slice(25).every((m) => m.coldStarts === 0)).toBe(true);
    expect(lastCold).toBeLessThan(25);
  });
});
