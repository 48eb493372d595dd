/**
 * Capacity backtest benchmark (issue 3 "Done means"): replays the NASA launch day (1995-07-13) and the
 * synthetic promo day, checks predictive against reactive and the oracle, and times a 14-day replay, for each
 * model asked for. Writes the `backtest` section of BENCHMARKS.md.
 * Usage: npm run bench:backtest [-- --models auto,holt-winters]   (default: auto, when available, and holt-winters)
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { runBacktest, type BacktestResult } from '../src/backtest/backtest.js';
import { loadScenarioFile, parseScenario, type Scenario } from '../src/backtest/scenario.js';
import { synth } from '../src/backtest/synth.js';
import { availableMethods, createForecaster, parseMethodList, type MethodName } from '../src/forecast/registry.js';
import { loadSeriesFile } from '../src/series/load.js';
import type { Series } from '../src/series/series.js';
import { DAY_MS, MINUTE_MS } from '../src/util/clock.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const argIdx = process.argv.indexOf('--models');
const models: MethodName[] =
  argIdx > 0 ? parseMethodList(process.argv[argIdx + 1] ?? '', '--models') : availableMethods().includes('auto') ? ['auto', 'holt-winters'] : ['holt-winters'];

const f = (x: number | null, d: number): string => (x === null ? '-' : x.toFixed(d));
const scaled = (s: Series, k: number): Series => ({ ...s, values: s.values.map((v) => v * k) });

async function run(model: MethodName, series: Series, scenario: Scenario, window: [number, number]): Promise<BacktestResult> {
  const forecaster = createForecaster(model, { stepMs: scenario.predictive.stepMinutes * MINUTE_MS });
  return runBacktest({ series, fromMs: window[0], toMs: window[1], scenario, forecaster });
}

interface Case {
  name: string;
  command: string;
  series: Series;
  scenario: Scenario;
  window: [number, number];
}

function cases(): Case[] {
  const nasaScenario = loadScenarioFile('data/scenarios/nasa-launch-day.yaml');
  const nasa = loadSeriesFile('data/demo/nasa_requests_per_minute.csv', { unit: nasaScenario.trace.unit }).series;
  const launch = Date.parse('1995-07-13T00:00:00Z');
  const promoScenario = loadScenarioFile('data/scenarios/synthetic-promo-day.yaml');
  const promo = synth({ profile: 'promo', days: 14, seed: 1 }).series;
  const day13 = promo.startMs + 13 * DAY_MS;
  return [
    {
      name: 'NASA launch day 1995-07-13 (x1000)',
      command:
        'prescale backtest --trace data/demo/nasa_requests_per_minute.csv --scenario data/scenarios/nasa-launch-day.yaml --from 1995-07-13T00:00:00Z --to 1995-07-14T00:00:00Z',
      series: scaled(nasa, nasaScenario.trace.multiplier),
      scenario: nasaScenario,
      window: [launch, launch + DAY_MS],
    },
    {
      name: 'synthetic promo day (synth seed 1, day 13)',
      command:
        'prescale synth --profile promo --days 14 --seed 1 --out promo.csv && prescale backtest --trace promo.csv --scenario data/scenarios/synthetic-promo-day.yaml --from 2026-01-18T00:00:00Z --to 2026-01-19T00:00:00Z',
      series: scaled(promo, promoScenario.trace.multiplier),
      scenario: promoScenario,
      window: [day13, day13 + DAY_MS],
    },
  ];
}

async function benchModel(model: MethodName): Promise<{ lines: string[]; pass: boolean }> {
  const lines: string[] = [`### Model \`${model}\``, ''];
  let pass = true;
  for (const c of cases()) {
    const r = await run(model, c.series, c.scenario, c.window);
    const { reactive, predictive, oracle } = r.strategies;
    if (!reactive || !predictive || !oracle) throw new Error('a strategy is missing');
    const coldRatio = reactive.coldStartShare > 0 ? predictive.coldStartShare / reactive.coldStartShare : 0;
    const underRatio = reactive.underProvisionedMinutes > 0 ? predictive.underProvisionedMinutes / reactive.underProvisionedMinutes : 0;
    const ok = coldRatio <= 0.2 && underRatio <= 0.2 && (predictive.costVsOracle ?? Infinity) <= 1.3;
    pass &&= ok;
    lines.push(`#### ${c.name}`, '', `\`${c.command} --model ${model}\` (training ${f(r.fitSeconds, 1)} s)`, '');
    lines.push('| strategy | coldStartShare | underProvisionedMinutes | podHours | pcHours | cost | costVsOracle |', '|---|---|---|---|---|---|---|');
    for (const [n, s] of [['reactive', reactive], ['predictive', predictive], ['oracle', oracle]] as const) {
      lines.push(`| ${n} | ${f(s.coldStartShare, 5)} | ${s.underProvisionedMinutes} | ${f(s.podHours, 1)} | ${f(s.pcHours, 1)} | ${f(s.cost, 2)} | ${f(s.costVsOracle, 3)} |`);
    }
    lines.push(
      '',
      `predictive ÷ reactive: coldStartShare ${f(coldRatio, 3)} (target ≤ 0.2), underProvisionedMinutes ${f(underRatio, 3)} (≤ 0.2); costVsOracle ${f(predictive.costVsOracle, 3)} (≤ 1.3): **${ok ? 'PASS' : 'FAIL'}**`,
      '',
    );
  }
  // Replay speed: 14 days of one-minute data after 7 days of training, all three strategies.
  const long = synth({ profile: 'promo', days: 21, seed: 2 }).series;
  const speedScenario = parseScenario({ trace: { unit: 'per-second' }, pods: { max: 3000 }, predictive: { stepMinutes: 5 } });
  const t0 = performance.now();
  const speed = await run(model, long, speedScenario, [long.startMs + 7 * DAY_MS, long.startMs + 21 * DAY_MS]);
  const wall = (performance.now() - t0) / 1000;
  const all = Object.values(speed.strategies);
  const replay = all.reduce((a, s) => a + (s?.replaySeconds ?? 0), 0);
  const replayCpu = all.reduce((a, s) => a + (s?.replayCpuSeconds ?? 0), 0);
  const perStrategy = Object.entries(speed.strategies)
    .map(([n, s]) => `${n} ${f(s?.replaySeconds ?? null, 2)} s (CPU ${f(s?.replayCpuSeconds ?? null, 2)} s)`)
    .join(', ');
  const speedOk = replay <= 60;
  pass &&= speedOk;
  lines.push(
    `#### Replay time of a 14-day one-minute trace`,
    '',
    `\`synth --profile promo --days 21 --seed 2\`; train on days 0–6, replay days 7–20 (${speed.minutes} minutes) with reactive, predictive and oracle, model steps of 5 min.`,
    '',
    `training ${f(speed.fitSeconds, 1)} s; replay after training ${f(replay, 2)} s wall, ${f(replayCpu, 2)} s CPU (target ≤ 60 s wall): **${speedOk ? 'PASS' : 'FAIL'}**. Per strategy: ${perStrategy}. Wall time including training ${f(wall, 1)} s; load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.cpus().length} cores.`,
    '',
  );
  return { lines, pass };
}

const started = new Date().toISOString();
const body: string[] = [];
let allPass = true;
for (const model of models) {
  const r = await benchModel(model);
  body.push(...r.lines);
  allPass &&= r.pass;
}
const text = [
  '## Capacity backtest (issue 3)',
  '',
  `Command: \`npm run bench:backtest${argIdx > 0 ? ` -- --models ${models.join(',')}` : ''}\`; machine: ${machineLine()}; started ${started}. Shared machine: wall times include waiting for the CPU (see the load average); CPU times do not.`,
  '',
  ...body,
].join('\n');
writeBenchmarkSection('backtest', text);
process.stdout.write(text + '\n');
process.exitCode = allPass ? 0 : 1;
