import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultScenario, loadScenarioFile, parseScenario, scenarioEvents } from '../../src/backtest/scenario.js';
import { InputError } from '../../src/util/errors.js';

describe('scenario', () => {
  it('fills defaults for every key (the issue example)', () => {
    expect(defaultScenario.pods).toMatchObject({ qpsPerReplica: 100, readySeconds: 90, min: 2, max: 1000, hpa: { targetAverageValue: 70 } });
    expect(defaultScenario.lambda).toEqual({ meanDurationMs: 200, targetUtilization: 0.7, allocationSeconds: 120, targetTracking: true, min: 1, max: 100000 });
    expect(parseScenario({ pods: { readySeconds: 30 } }).pods.qpsPerReplica).toBe(100);
  });

  it.each([
    [{ pods: { qpsPerReplica: -3 } }, 'pods.qpsPerReplica: must be > 0, got -3'],
    [{ lambda: { targetUtilization: 1.5 } }, 'lambda.targetUtilization: must be <= 1, got 1.5'],
    [{ pods: { hpa: { targetAverageValu: 70 } } }, 'pods.hpa.targetAverageValu: unknown key'],
    [{ pods: { min: 10, max: 5 } }, 'pods.min: min must be <= max'],
    [{ predictive: { quantile: 0.8 } }, 'predictive.quantile: must be one of 0.5, 0.9, 0.99, got 0.8'],
    [{ events: [{ name: 'x', start: '2026-01-01T10:00:00Z', end: '2026-01-01T09:00:00Z', minPods: 3 }] }, 'events[0].end: must be after start'],
  ])('%j -> %s', (input, message) => {
    expect(() => parseScenario(input, 's.yaml')).toThrow(InputError);
    expect(() => parseScenario(input, 's.yaml')).toThrow(message);
  });

  it('reads a YAML file and names the file in errors', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-scenario-'));
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'trace: { unit: per-second, multiplier: 2 }\nevents:\n  - { name: sale, start: 2026-01-18T11:00:00Z, end: 2026-01-18T12:00:00Z, minPods: 9 }\n');
    const s = loadScenarioFile(good);
    expect(s.trace).toEqual({ unit: 'per-second', multiplier: 2 });
    expect(scenarioEvents(s)[0]).toMatchObject({ startMs: Date.UTC(2026, 0, 18, 11), minCapacityByKind: { cloneset: 9 } });
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'prices: { podHour: -1 }\n');
    expect(() => loadScenarioFile(bad)).toThrow(`${bad}: invalid scenario\n  prices.podHour: must be >= 0, got -1`);
  });
});
