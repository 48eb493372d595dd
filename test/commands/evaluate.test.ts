import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { evaluateSeries } from '../../src/forecast/evaluate.js';
import { loadSeriesFile } from '../../src/series/load.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const fixture = 'test/fixtures/evaluate-4days-5min.csv';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('npx', ['tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, PRESCALE_LOG_LEVEL: 'silent' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('prescale evaluate', () => {
  it('prints one JSON object with the keys of issue 2, and the library agrees with it', async () => {
    const r = await cli(['evaluate', '--trace', fixture, '--value-col', 'requests', '--methods', 'holt-winters,seasonal-naive,naive', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown> & { methods: Record<string, Record<string, unknown>> };
    expect(Object.keys(out)).toEqual(['trace', 'resolutionMinutes', 'horizonSteps', 'points', 'methods']);
    expect(out).toMatchObject({ trace: fixture, resolutionMinutes: 5, horizonSteps: 6, points: 4 * 288 });
    expect(Object.keys(out.methods)).toEqual(['holt-winters', 'seasonal-naive', 'naive']);
    for (const m of Object.values(out.methods)) expect(Object.keys(m)).toEqual(['mase', 'ufr', 'peakRatio', 'coverageP90', 'wpl90', 'windowPeakCoverage', 'fitSeconds']);
    expect(out.methods.naive.coverageP90).toBeNull();
    expect(typeof out.methods['holt-winters'].coverageP90).toBe('number');
    const lib = await evaluateSeries(loadSeriesFile(path.join(root, fixture), { valueColumn: 'requests' }).series, { methods: ['naive', 'seasonal-naive'] });
    expect(out.methods.naive.mase).toBeCloseTo(lib.methods.naive?.mase ?? NaN, 4);
    expect(out.methods['seasonal-naive'].ufr).toBeCloseTo(lib.methods['seasonal-naive']?.ufr ?? NaN, 4);
    expect(out.methods.naive.wpl90).toBeCloseTo(lib.methods.naive?.wpl90 ?? NaN, 4);
    expect(out.methods.naive.windowPeakCoverage).toBeCloseTo(lib.methods.naive?.windowPeakCoverage ?? NaN, 4);
    // a noisy daily pattern: Holt-Winters must beat repeating the last value
    expect(out.methods['holt-winters'].mase as number).toBeLessThan(out.methods.naive.mase as number);
    expect(r.stderr).toMatch(/evaluate: naive … done/);
  });

  it('prints a table without --json', async () => {
    const r = await cli(['evaluate', '--trace', fixture, '--methods', 'naive']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1152 points at 5 min \(train 806, test 346\), horizon 6 steps/);
    expect(r.stdout).toMatch(/^naive\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+—\s+\d\.\d{4}\s+\d\.\d{3}\s/m);
    expect(r.stdout).toMatch(/protocols v1 and v2/);
  });

  it.each([
    [['--trace', 'test/fixtures/bad-cell.csv', '--methods', 'naive'], /bad-cell\.csv: line 3: value "abc" is not a number/],
    [['--trace', fixture, '--methods', 'naive,arima'], /--methods: unknown method "arima"/],
  ])('exits 2 with a one-line error for bad input (%#)', async (args, re) => {
    const r = await cli(['evaluate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
