/**
 * npm run bench:soak — simulated days of one-minute cycles for many targets on a fake clock: the demo config
 * (simulated AWS and Kubernetes, dryRun false so the in-memory actuators really reconcile) with its target
 * repeated, the shipped model (models/demo) when it exists, else holt-winters. Samples RSS and heap (after a GC
 * when node runs with --expose-gc) every simulated hour; checks every cycle decided for every actuator at its own
 * minute and finished inside its minute of wall time (else the next would overlap), and that the loaded models hold
 * only their weights. Tensors are not sampled over the cycles: a forecast is the LSTM's JavaScript forward pass,
 * which makes none (test/reliability/soak.test.ts counts them where they are made: loading and replacing models).
 * Usage: tsx --expose-gc scripts/bench-soak.ts [--days 7] [--targets 50] [--section soak] [--no-write]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../src/config/schema.js';
import { loadModel } from '../src/forecast/artefact.js';
import { disposeForecaster } from '../src/forecast/forecaster.js';
import { initTf, liveTensorCount } from '../src/forecast/tf-backend.js';
import { buildService } from '../src/service/run.js';
import { HOUR_MS, ManualClock, MINUTE_MS } from '../src/util/clock.js';
import { demoConfig, demoConfigWith } from './lib/demo-config.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : def;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a whole number > 0, got ${args[i + 1]}`);
  return v;
};
const days = arg('--days', 7);
const nTargets = arg('--targets', 50);
const write = !args.includes('--no-write');
/** BENCHMARKS.md section written; a second size gets its own (e.g. `soak-wide`). */
const section = args.includes('--section') ? String(args[args.indexOf('--section') + 1]) : 'soak';

/** The demo config with its target repeated n times, actuating for real against the in-memory stand-ins. */
function soakConfig(n: number, modelsDir: string): { config: Config; model: string; modelPath?: string } {
  const t = demoConfig().targets[0];
  const shipped = t.forecast.modelPath !== undefined && existsSync(path.join(t.forecast.modelPath, 'meta.json'));
  // Without the shipped model every target would train its own in a child process: holt-winters, and say so.
  const forecast = shipped ? t.forecast : { ...t.forecast, model: 'holt-winters' as const, modelPath: undefined };
  const config = demoConfigWith(n, { patch: { dryRun: false, simulated: true, modelsDir }, forecast });
  return { config, model: shipped ? `shipped ${path.relative(process.cwd(), t.forecast.modelPath ?? '')}` : 'holt-winters (no shipped model)', modelPath: shipped ? t.forecast.modelPath : undefined };
}

/** Live tensors one loaded copy of the model holds (its weights), measured by loading it and disposing it again. */
async function tensorsPerModel(dir: string | undefined): Promise<number> {
  if (dir === undefined) return 0;
  const before = liveTensorCount();
  const { forecaster } = await loadModel(dir);
  const held = liveTensorCount() - before;
  disposeForecaster(forecaster);
  if (liveTensorCount() !== before) throw new Error(`${dir}: disposing a loaded copy left ${liveTensorCount() - before} tensors behind`);
  return held;
}

interface Sample {
  hour: number;
  rssMb: number;
  heapMb: number;
}

async function main(): Promise<void> {
  const { backend } = await initTf();
  const modelsDir = mkdtempSync(path.join(tmpdir(), 'prescale-soak-'));
  const { config, model, modelPath } = soakConfig(nTargets, modelsDir);
  const perModel = await tensorsPerModel(modelPath);
  const tensorsBefore = liveTensorCount();
  const start = Date.parse('2026-03-02T00:00:00Z');
  const clock = new ManualClock(start);
  const b = await buildService(config, { clock });
  await b.service.loadModels();
  // Every target loaded its own copy: the count is theirs, or loading left something behind.
  const tensorsLoaded = liveTensorCount() - tensorsBefore;
  const tensorsOk = tensorsLoaded === nTargets * perModel;
  const perCycle = config.targets.reduce((n, t) => n + t.actuators.length, 0);
  const mb = (x: number): number => Math.round((x / 2 ** 20) * 10) / 10;
  const sample = (hour: number): Sample => {
    global.gc?.();
    const m = process.memoryUsage();
    return { hour, rssMb: mb(m.rss), heapMb: mb(m.heapUsed) };
  };

  const cycles = days * 1440;
  const samples: Sample[] = [sample(0)];
  let missed = 0;
  let late = 0;
  let errors = 0;
  let slowestS = 0;
  const wall0 = performance.now();
  for (let c = 0; c < cycles; c++) {
    const now = clock.now();
    const t0 = performance.now();
    const decisions = await b.service.runCycle();
    const s = (performance.now() - t0) / 1000;
    slowestS = Math.max(slowestS, s);
    // A live cycle has its minute: one taking longer would overlap the next tick (NonOverlappingJob skips it).
    if (s >= 60) late++;
    if (decisions.length !== perCycle || decisions.some((d) => d.atMs !== now)) missed++;
    errors += decisions.filter((d) => d.actions.some((a) => a.result === 'error')).length;
    clock.advance(MINUTE_MS);
    // Live, each cycle is its own timer callback and the event loop runs I/O in between. Here every await
    // resolves at once; without this yield the log lines would pile up unwritten in the heap.
    await new Promise((r) => setImmediate(r));
    if ((c + 1) % 60 === 0) {
      samples.push(sample((clock.now() - start) / HOUR_MS));
      if (samples.length % 24 === 1) {
        const last = samples[samples.length - 1];
        console.error(`day ${Math.round(last.hour / 24)}: rss ${last.rssMb} MB heap ${last.heapMb} MB (${((performance.now() - wall0) / 1000).toFixed(0)} s)`);
      }
    }
  }
  const wallS = (performance.now() - wall0) / 1000;
  await b.audit?.close();
  rmSync(modelsDir, { recursive: true, force: true });

  // Flat: measured from a reference point after warm-up (the end of day 1, when the one-day windows of past
  // forecasts and charts are full; hour 1 for shorter runs), the last sample is within 5 % of it. The slope says
  // how fast anything grows.
  const steady = samples.slice(1);
  const ref = samples.find((x) => x.hour === (days > 1 ? 24 : 1)) ?? steady[0];
  const last = steady[steady.length - 1];
  const maxOf = (xs: Sample[], k: keyof Sample): number => Math.max(...xs.map((x) => x[k]));
  const flat = (k: 'rssMb' | 'heapMb'): boolean => last[k] <= ref[k] * 1.05;
  const perDay = (k: 'rssMb' | 'heapMb'): string => (last.hour > ref.hour ? (((last[k] - ref[k]) / (last.hour - ref.hour)) * 24).toFixed(2) : 'n/a');
  const first = steady[0];
  const ok = missed === 0 && late === 0 && flat('rssMb') && flat('heapMb') && tensorsOk;

  const gcNote = global.gc ? 'after a forced GC' : 'without a forced GC (node lacked --expose-gc)';
  // The log level is part of the measurement: at info, a compressed clock writes a day of decision lines in
  // minutes and the asynchronous log stream's backlog shows up as heap growth that real time never sees.
  const level = process.env.PRESCALE_LOG_LEVEL ? `PRESCALE_LOG_LEVEL=${process.env.PRESCALE_LOG_LEVEL} ` : '';
  const cmd = `${level}npm run bench:soak -- --days ${days} --targets ${nTargets}${section === 'soak' ? '' : ` --section ${section}`}`;
  const md = [
    `Command: \`${cmd}\` (${machineLine()}; tfjs backend ${backend}).`,
    '',
    `${days} simulated day(s) of one-minute cycles, ${nTargets} targets × ${perCycle / nTargets} actuators (Lambda + CloneSet, in-memory AWS/Kubernetes, dryRun false), model: ${model}, fake clock.`,
    '',
    `| measure | hour 1 | hour ${ref.hour} (reference) | last (hour ${last.hour}) | max | growth per day after the reference | flat |`,
    '|---|---:|---:|---:|---:|---:|---|',
    `| RSS (MB) | ${first.rssMb} | ${ref.rssMb} | ${last.rssMb} | ${maxOf(steady, 'rssMb')} | ${perDay('rssMb')} | ${flat('rssMb') ? 'yes' : 'NO'} |`,
    `| heap used (MB, ${gcNote}) | ${first.heapMb} | ${ref.heapMb} | ${last.heapMb} | ${maxOf(steady, 'heapMb')} | ${perDay('heapMb')} | ${flat('heapMb') ? 'yes' : 'NO'} |`,
    '',
    `Live tensors after loading the models: ${tensorsLoaded}, ${tensorsOk ? 'exactly' : 'NOT'} ${nTargets} targets × ${perModel} (the weights one loaded copy holds, measured by loading and disposing it): ${tensorsOk ? 'loading leaves nothing else behind' : 'loading left tensors behind'}. The cycles make none (a forecast is the LSTM's JavaScript forward pass), so they are not sampled; test/reliability/soak.test.ts counts them across retraining and replacing models.`,
    '',
    `Cycles: ${cycles} run (${days} × 1440), ${missed} missed (a cycle without a decision for every actuator at its minute), ${late} over their 60 s minute; slowest cycle ${slowestS.toFixed(2)} s; ${errors} decisions with an actuation error.`,
    `Wall time: ${wallS.toFixed(0)} s (${((wallS / cycles) * 1000).toFixed(1)} ms per cycle of ${nTargets} targets).`,
    '',
    `Flat means: the last sample is within 5 % of the reference (end of simulated day 1; hour 1 for a one-day run). Verdict (no missed or late cycle, RSS and heap flat, loaded models hold only their weights): ${ok ? 'PASS' : 'FAIL'}.`,
  ].join('\n');
  console.log(md);
  if (write) writeBenchmarkSection(section, md);
  if (!ok) process.exitCode = 1;
}

await main();
