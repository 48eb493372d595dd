import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Command } from 'commander';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decisionNote, registerTrainCommands, type ForecastJson } from '../../src/commands/train-command.js';
import type { ModelMeta } from '../../src/forecast/artefact.js';
import { InputError } from '../../src/util/errors.js';

let dir: string;
let trace: string;

/** Three days of counts per 15 minutes with a daily cycle (about 100–300 requests per interval). */
function fixture(): string {
  const rows = ['timestamp,requests'];
  for (let i = 0; i < 3 * 96; i++) {
    const t = new Date(Date.UTC(2024, 2, 1) + i * 15 * 60_000).toISOString().replace('T', ' ').slice(0, 19);
    rows.push(`${t},${Math.round(200 + 100 * Math.sin((2 * Math.PI * i) / 96) + ((i * 37) % 9))}`);
  }
  return rows.join('\n') + '\n';
}

async function run(args: string[]): Promise<string> {
  const program = new Command('prescale').exitOverride();
  registerTrainCommands(program);
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'prescale', ...args]);
  } finally {
    spy.mockRestore();
    errSpy.mockRestore();
  }
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-train-'));
  trace = path.join(dir, 'trace.csv');
  writeFileSync(trace, fixture());
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('prescale train / forecast', () => {
  it('trains an LSTM, saves it, and forecasts the next 30 minutes as JSON', async () => {
    const out = path.join(dir, 'models', 'tiny');
    await run(['train', '--trace', trace, '--value-col', 'requests', '--model', 'lstm', '--step-minutes', '15', '--epochs', '2', '--seed', '7', '--out', out]);
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.kind).toBe('lstm');
    expect(meta.chosenBy).toBe('forced');
    expect(meta.stepMs).toBe(15 * 60_000);
    expect(meta.horizon).toBe(2);
    expect(meta.seed).toBe(7);
    expect(meta.command).toContain('--model lstm');
    expect(existsSync(path.join(out, 'weights.bin'))).toBe(true);
    const json = JSON.parse(await run(['forecast', '--model', out, '--trace', trace, '--json'])) as ForecastJson;
    expect(json.kind).toBe('lstm');
    expect(json.asOf).toBe('2024-03-04T00:00:00.000Z');
    expect(json.steps.map((s) => s.time)).toEqual(['2024-03-04T00:00:00.000Z', '2024-03-04T00:15:00.000Z']);
    for (const s of json.steps) {
      expect(s.p50).toBeGreaterThan(0);
      expect(s.p90).toBeGreaterThanOrEqual(s.p50);
      expect(s.p99).toBeGreaterThanOrEqual(s.p90);
    }
  });

  it('trains with auto, recording every candidate score, and prints a table without --json', async () => {
    const out = path.join(dir, 'models', 'auto');
    await run(['train', '--trace', trace, '--model', 'auto', '--step-minutes', '15', '--epochs', '1', '--out', out]);
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.chosenBy).toBe('auto');
    expect(Object.keys(meta.scores ?? {})).toEqual(expect.arrayContaining(['holt-winters', 'seasonal-naive', 'naive']));
    // The band check on the holdout is recorded for a probabilistic winner (none for a point forecast).
    expect(meta.band === undefined).toBe(['seasonal-naive', 'naive'].includes(meta.kind));
    expect(meta.band?.exponent ?? 1).toBeGreaterThanOrEqual(1);
    // What auto decided: the winner is the saved kind; the lowest holdout MASE is one of the scored candidates.
    expect(meta.selection?.chosen).toBe(meta.kind);
    expect(Object.keys(meta.scores ?? {})).toContain(meta.selection?.lowest);
    const text = await run(['forecast', '--model', out, '--trace', trace]);
    expect(text).toMatch(/forecast from 2024-03-04T00:00:00.000Z/);
    expect(text.trim().split('\n')).toHaveLength(4);
  });

  it.each([
    [['--model', 'prophet'], /--model must be one of auto, lstm/],
    [['--step-minutes', '7'], /--step-minutes must divide a day/],
    [['--seed', 'x'], /--seed must be a whole number/],
  ])('rejects bad flags %j', async (flags, message) => {
    const args = ['train', '--trace', trace, '--out', path.join(dir, 'bad'), ...flags];
    await expect(run(args)).rejects.toThrow(InputError);
    await expect(run(args)).rejects.toThrow(message);
  });

  it('says why auto kept the ensemble over a lower holdout MASE, and nothing when it kept the lowest', () => {
    expect(decisionNote({ chosen: 'ensemble', lowest: 'holt-winters', dm: { t: -0.7337, windows: 464, lag: 5 } })).toBe(
      ' over holt-winters, whose lower holdout MASE is no significant lead (Diebold-Mariano t = -0.73 on 464 windows)',
    );
    expect(decisionNote({ chosen: 'lstm', lowest: 'lstm', dm: { t: -2.5, windows: 400, lag: 5 } })).toBe('');
    expect(decisionNote({ chosen: 'ensemble', lowest: 'ensemble' })).toBe('');
    expect(decisionNote(undefined)).toBe('');
  });

  it('names a missing model directory', async () => {
    await expect(run(['forecast', '--model', path.join(dir, 'none'), '--trace', trace])).rejects.toThrow(/no such model directory/);
  });
});
