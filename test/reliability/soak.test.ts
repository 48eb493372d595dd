import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/schema.js';
import { initTf, liveTensorCount } from '../../src/forecast/tf-backend.js';
import { buildService } from '../../src/service/run.js';
import { demoConfigWith } from '../../scripts/lib/demo-config.js';
import { HOUR_MS, ManualClock, MINUTE_MS } from '../../src/util/clock.js';

/**
 * A short soak (the long one is `npm run bench:soak`): the demo config with 2 copies of its target, the
 * shipped LSTM, in-memory AWS and Kubernetes really reconciled (dryRun false), 2 simulated hours of
 * one-minute cycles on a fake clock. Every cycle decides for every actuator at its minute, and the live
 * tensor count is the same after every hour (a leak of even one tensor per predict would show).
 */

function config(n: number, modelsDir: string): Config {
  return demoConfigWith(n, { patch: { dryRun: false, modelsDir } });
}

describe('soak (short)', () => {
  it('2 simulated hours × 2 targets: no missed cycle, no actuation error, tensor count flat', async () => {
    await initTf();
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-soak-test-'));
    try {
      const clock = new ManualClock(Date.parse('2026-03-02T06:00:00Z'));
      const b = await buildService(config(2, modelsDir), { clock });
      await b.service.loadModels();
      expect(b.service.modelsReady()).toBe(true);
      const tensorsAfterHour: number[] = [];
      let cycles = 0;
      for (let h = 0; h < 2; h++) {
        for (let m = 0; m < 60; m++) {
          const now = clock.now();
          const decisions = await b.service.runCycle();
          cycles++;
          expect(decisions).toHaveLength(4);
          for (const d of decisions) {
            expect(d.atMs).toBe(now);
            expect(d.fallback).toBeNull();
            expect(d.actions.filter((a) => a.result === 'error')).toEqual([]);
          }
          clock.advance(MINUTE_MS);
          await new Promise((r) => setImmediate(r)); // the event loop runs between cycles, as under cron
        }
        tensorsAfterHour.push(liveTensorCount());
      }
      expect(cycles).toBe((2 * HOUR_MS) / MINUTE_MS);
      expect(tensorsAfterHour[0]).toBeGreaterThan(0); // the LSTM's weights are loaded
      expect(new Set(tensorsAfterHour).size).toBe(1);
      // The in-memory Lambda target was really reconciled: prescale's scheduled actions are there.
      const snap = b.store.get('t0');
      expect(snap?.actions.some((a) => a.result === 'ok' && a.action !== 'noop')).toBe(true);
    } finally {
      rmSync(modelsDir, { recursive: true, force: true });
    }
  }, 120_000);
});
