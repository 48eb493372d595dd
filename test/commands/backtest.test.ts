import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from '../support/cli.js';

describe('prescale synth and backtest', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-backtest-cli-'));
  const trace = path.join(dir, 'promo.csv');
  const scenario = path.join(dir, 'scenario.yaml');

  beforeAll(() => {
    const r = cli(['synth', '--profile', 'promo', '--days', '2', '--seed', '3', '--out', trace, '--events-out', path.join(dir, 'events.json')]);
    expect(r.status).toBe(0);
    writeFileSync(scenario, 'trace: { unit: per-second }\npods: { max: 3000 }\npredictive: { stepMinutes: 5 }\n');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('synth writes 2 days of per-minute QPS', () => {
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('timestamp,qps');
    expect(lines.length).toBe(2 * 1440 + 1);
    expect(JSON.parse(readFileSync(path.join(dir, 'events.json'), 'utf8'))).toEqual([]);
  });

  it('backtest --json prints the three strategies with their scores and writes a self-contained report', () => {
    const report = path.join(dir, 'report.html');
    const r = cli(['backtest', '--trace', trace, '--scenario', scenario, '--from', '2026-01-06T10:00:00Z', '--to', '2026-01-06T13:00:00Z', '--model', 'seasonal-naive', '--json', '--report', report]);
    expect(r.stderr).toContain('backtest: oracle done (180 min)');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { model: string; minutes: number; strategies: Record<string, Record<string, number>> };
    expect(Object.keys(out.strategies)).toEqual(['reactive', 'predictive', 'oracle']);
    expect([out.model, out.minutes]).toEqual(['seasonal-naive', 180]);
    for (const s of Object.values(out.strategies)) {
      for (const k of ['coldStartShare', 'underProvisionedMinutes', 'podHours', 'pcHours', 'costVsOracle']) expect(typeof s[k]).toBe('number');
    }
    expect(out.strategies.oracle.costVsOracle).toBe(1);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('window.PrescaleCharts.renderTimeChart');
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect((html.match(/<canvas/g) ?? []).length).toBe(3);
  });

  it('a bad scenario exits 2 naming the file, the key and the rule', () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'pods: { qpsPerReplica: -3 }\n');
    const r = cli(['backtest', '--trace', trace, '--scenario', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}: invalid scenario`);
    expect(r.stderr).toContain('pods.qpsPerReplica: must be > 0, got -3');
    expect(r.stderr).not.toContain('    at ');
  });

  it('a bad --from is an input error', () => {
    const r = cli(['backtest', '--trace', trace, '--from', 'yesterday']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--from: not an ISO date-time: "yesterday"');
  });
});
