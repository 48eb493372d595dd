import { describe, expect, it } from '@jest/globals';
import { CloneSetSimulator } from '../../src/sim/cloneset.js';

describe('CloneSetSimulator', () => {
  it('pods become ready readySeconds after creation; scale down removes the newest at once', () => {
    const c = new CloneSetSimulator(90_000, 2);
    expect(c.readyReplicas(0)).toBe(2);
    c.scale(10_000, 5);
    expect([c.specReplicas(), c.statusReplicas(), c.readyReplicas(99_999)]).toEqual([5, 5, 2]);
    expect(c.readyReplicas(100_000)).toBe(5);
    c.scale(120_000, 8);
    c.scale(150_000, 6); // removes 2 of the 3 not-ready pods
    expect([c.statusReplicas(), c.readyReplicas(150_000), c.readyReplicas(210_000)]).toEqual([6, 5, 6]);
    c.scale(220_000, 1);
    expect([c.statusReplicas(), c.readyReplicas(220_000)]).toEqual([1, 1]);
  });
});
