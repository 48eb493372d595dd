/**
 * Capacity backtest benchmark (issue 3 "Done means"): replays the NASA launch day (1995-07-13) and the
 * synthetic promo day, checks predictive against reactive and the oracle, and times a 14-day replay.
 * Writes the `backtest` section of BENCHMARKS.md. Usage: npm run bench:backtest [-- --model NAME]
 */
import { performance } from 'node:perf_hooks';
import { runBacktest, type BacktestResult } from '../src/backtest/backtest.js';
import { loadScenarioFile, parseScenario, type Scenario } from '../src/backtest/scenario.js';
import { synth } from '../src/backtest/synth.js';
import { availableMethods, createForecaster, type MethodName } from '../src/forecast/registry.js';
import { loadSeriesFile } from '../src/series/load.js';
import type { Series } from '../src/series/series.js';
import { DAY_MS, MINUTE_MS } from '../src/util/clock.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const argModel = process.argv.indexOf('--model');
const model: MethodName = argModel > 0 ? (process.argv[argModel + 1] as MethodName) : availableMethods().includes('auto') ? 'auto' : 'holt-winters';

async function run(series: Series, scenario: Scenario, fromMs: number, toMs: number): Promise<BacktestResult> {
  const forecaster = createForecaster(model, { stepMs: scenario.predictive.stepMinutes * MINUTE_MS });
  return runBacktest({ series, fromMs, toMs, scenario, forecaster });
}

const scaled = (s: Series, k: number): Series => ({ ...s, values: s.values.map((v) => v * k) });

interface Case {
  name: string;
  command: string;
  result: BacktestResult;
}

const cases: Case[] = [];
{
  const scenario = loadScenarioFile('data/scenarios/nasa-launch-day.yaml');
  const { series } = loadSeriesFile('data/demo/nasa_requests_per_minute.csv', { unit: scenario.trace.unit });
  const from = Date.parse('1995-07-13T00:00:00Z');
  cases.push({
    name: 'NASA launch day 1995-07-13 (x1000)',
    command: `prescale backtest --trace data/demo/nasa_requests_per_minute.csv --scenario data/scenarios/nasa-launch-day.yaml --from 1995-07-13T00:00:00Z --to 1995-07-14T00:00:00Z --model ${model}`,
    result: await run(scaled(series, scenario.trace.multiplier), scenario, from, from + DAY_MS),
  });
}
{
  const scenario = loadScenarioFile('data/scenarios/synthetic-promo-day.yaml');
  const { series } = synth({ profile: 'promo', days: 14, seed: 1 });
  const from = series.startMs + 13 * DAY_MS;
  cases.push({
    name: 'synthetic promo day (synth seed 1, day 13)',
    command: `prescale synth --profile promo --days 14 --seed 1 --out promo.csv && prescale backtest --trace promo.csv --scenario data/scenarios/synthetic-promo-day.yaml --from 2026-01-18T00:00:00Z --to 2026-01-19T00:00:00Z --model ${model}`,
    result: await run(scaled(series, scenario.trace.multiplier), scenario, from, from + DAY_MS),
  });
}

const f = (x: number | null, d: number): string => (x === null ? '-' : x.toFixed(d));
const lines: string[] = [];
let allPass = true;
for (const c of cases) {
  const { reactive, predictive, oracle } = c.result.strategies;
  if (!reactive || !predictive || !oracle) throw new Error('a strategy is missing');
  const coldRatio = reactive.coldStartShare > 0 ? predictive.coldStartShare / reactive.coldStartShare : 0;
  const underRatio = reactive.underProvisionedMinutes > 0 ? predictive.underProvisionedMinutes / reactive.underProvisionedMinutes : 0;
  const pass = coldRatio <= 0.2 && underRatio <= 0.2 && (predictive.costVsOracle ?? Infinity) <= 1.3;
  allPass &&= pass;
  lines.push(`### ${c.name}`, '', `\`${c.command}\``, '');
  lines.push('| strategy | coldStartShare | underProvisionedMinutes | podHours | pcHours | cost | costVsOracle |', '|---|---|---|---|---|---|---|');
  for (const [n, s] of [['reactive', reactive], ['predictive', predictive], ['oracle', oracle]] as const) {
    lines.push(`| ${n} | ${f(s.coldStartShare, 5)} | ${s.underProvisionedMinutes} | ${f(s.podHours, 1)} | ${f(s.pcHours, 1)} | ${f(s.cost, 2)} | ${f(s.costVsOracle, 3)} |`);
  }
  lines.push(
    '',
    `predictive ÷ reactive: coldStartShare ${f(coldRatio, 3)} (target ≤ 0.2), underProvisionedMinutes ${f(underRatio, 3)} (≤ 0.2); costVsOracle ${f(predictive.costVsOracle, 3)} (≤ 1.3): **${pass ? 'PASS' : 'FAIL'}**`,
    '',
  );
}

// Replay speed: 14 days of one-minute data after 7 days of training, all three strategies.
const long = synth({ profile: 'promo', days: 21, seed: 2 }).series;
const speedScenario = parseScenario({ trace: { unit: 'per-second' }, pods: { max: 3000 }, predictive: { stepMinutes: 5 } });
const t0 = performance.now();
const speed = await run(long, speedScenario, long.startMs + 7 * DAY_MS, long.startMs + 21 * DAY_MS);
const wall = (performance.now() - t0) / 1000;
const replay = Object.values(speed.strategies).reduce((a, s) => a + (s?.replaySeconds ?? 0), 0);
const speedPass = replay <= 60;
allPass &&= speedPass;
lines.push(
  '### Replay time of a 14-day one-minute trace',
  '',
  `synth --profile promo --days 21 --seed 2; train on days 0–6, replay days 7–20 (${speed.minutes} minutes) with reactive, predictive and oracle.`,
  '',
  `training ${f(speed.fitSeconds, 2)} s; replay after training ${f(replay, 2)} s (target ≤ 60 s): **${speedPass ? 'PASS' : 'FAIL'}**; wall time including training ${f(wall, 2)} s.`,
  '',
);

const body = [
  '## Capacity backtest (issue 3)',
  '',
  `Command: \`npm run bench:backtest${argModel > 0 ? ` -- --model ${model}` : ''}\` — model \`${model}\`; machine: ${machineLine()}; run ${new Date().toISOString()}.`,
  '',
  ...lines,
].join('\n');
writeBenchmarkSection('backtest', body);
process.stdout.write(body + '\n');
process.exitCode = allPass ? 0 : 1;
