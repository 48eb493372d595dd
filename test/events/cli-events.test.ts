import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEventsCsv } from '../../src/events/events.js';
import { cli } from '../support/cli.js';

describe('prescale synth --events-out F.csv and backtest --events', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-events-cli-'));
  const trace = path.join(dir, 'promo.csv');
  const events = path.join(dir, 'events.csv');
  const calendar = path.join(dir, 'calendar.csv');

  beforeAll(() => {
    const r = cli(['synth', '--profile', 'promo', '--days', '14', '--seed', '2', '--out', trace, '--events-out', events]);
    expect(r.status).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('synth writes the promos as a calendar CSV with tag promo and their multipliers', () => {
    const ev = parseEventsCsv(readFileSync(events, 'utf8'), events);
    expect(ev.map((e) => [e.name, e.tag])).toEqual([
      ['promo-day-6', 'promo'],
      ['promo-day-13', 'promo'],
    ]);
    for (const e of ev) expect(e.multiplier).toBeGreaterThan(2);
  });

  it('backtest --events replays predictive+calendar with the uplift learned from the earlier promo', () => {
    // Times and tag only: the held-out promo's multiplier is not given.
    const lines = readFileSync(events, 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 4).join(','));
    writeFileSync(calendar, lines.join('\n') + '\n');
    const held = parseEventsCsv(readFileSync(calendar, 'utf8'))[1];
    const scenario = path.join(dir, 'scenario.yaml');
    writeFileSync(scenario, 'trace: { unit: per-second }\npods: { max: 3000 }\npredictive: { stepMinutes: 5 }\n');
    const from = new Date(held.startMs - 30 * 60_000).toISOString();
    const to = new Date(held.endMs).toISOString();
    const r = cli(['backtest', '--trace', trace, '--scenario', scenario, '--from', from, '--to', to, '--model', 'seasonal-naive', '--events', calendar, '--json']);
    expect(r.stderr).toMatch(/learned uplift: promo from 1 past events \(peak p50 x\d+\.\d\d\)/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { strategies: Record<string, { coldStartShare: number }> };
    expect(Object.keys(out.strategies)).toEqual(['reactive', 'predictive', 'predictive+calendar', 'oracle']);
    expect(out.strategies['predictive+calendar'].coldStartShare).toBeLessThan(out.strategies.reactive.coldStartShare);
  });

  it.each([
    ['inputs for a method that is not the lstm', ['--model', 'seasonal-naive', '--events', 'CAL', '--calendar-mode', 'inputs'], 'calendar mode "inputs": only the lstm takes the calendar as inputs, "seasonal-naive" given'],
    ['an unknown mode', ['--model', 'lstm', '--events', 'CAL', '--calendar-mode', 'both'], '--calendar-mode must be one of uplift, inputs, "both" given'],
    ['a mode without a calendar', ['--model', 'lstm', '--calendar-mode', 'inputs'], '--calendar-mode needs --events'],
  ])('--calendar-mode: %s is an InputError (exit 2)', (_, args, message) => {
    const r = cli(['backtest', '--trace', trace, '--unit', 'per-second', ...args.map((a) => (a === 'CAL' ? events : a))]);
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
  });

  it('a bad calendar is an InputError naming file and line (exit 2)', () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'name,start,end,tag\nx,2026-01-18T14:00:00Z,2026-01-18T12:00:00Z,promo\n');
    const r = cli(['backtest', '--trace', trace, '--unit', 'per-second', '--model', 'naive', '--events', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:2: end (2026-01-18T12:00:00.000Z) must be after start`);
  });
});
