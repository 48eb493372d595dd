/**
 * npm run bench:cycle — one service cycle (history read, forecast, plan, dry-run actuation) for N targets
 * built from the demo config, and the process RSS with the targets and their models loaded.
 * Usage: tsx scripts/bench-cycle.ts [--targets 200] [--rss-targets 50] [--no-write]
 */
import { buildService } from '../src/service/run.js';
import { loadModel } from '../src/forecast/artefact.js';
import { disposeForecaster } from '../src/forecast/forecaster.js';
import { initTf, liveTensorCount } from '../src/forecast/tf-backend.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';
import { demoConfigWith } from './lib/demo-config.js';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const nTargets = arg('--targets', 200);
const rssTargets = arg('--rss-targets', 50);

/** No retrained models: every target uses the shipped one. */
const modelsDir = path.resolve('.prescale/bench-models-none');

async function main(): Promise<void> {
  const { backend } = await initTf();
  const mb = (b: number): number => Math.round(b / 2 ** 20);
  // The tensors one loaded copy of the shipped model holds (its weights), by loading it and disposing it again.
  const before = liveTensorCount();
  const probe = await loadModel(path.resolve('models/demo'));
  const perModel = liveTensorCount() - before;
  disposeForecaster(probe.forecaster);

  // RSS with rssTargets loaded (models and histories), after one cycle.
  const small = await buildService(demoConfigWith(rssTargets, { patch: { modelsDir } }));
  await small.service.loadModels();
  await small.service.runCycle();
  global.gc?.();
  const rss50 = process.memoryUsage().rss;

  const big = await buildService(demoConfigWith(nTargets, { patch: { modelsDir } }));
  const t0 = performance.now();
  await big.service.loadModels();
  const loadS = (performance.now() - t0) / 1000;
  const cold = performance.now();
  const d1 = await big.service.runCycle();
  const coldS = (performance.now() - cold) / 1000;
  const warm = performance.now();
  const d2 = await big.service.runCycle();
  const warmS = (performance.now() - warm) / 1000;
  // Both services keep their models: every target holds its own copy's weights; the cycles make no tensors.
  const tensors = liveTensorCount() - before;
  const tensorsOk = tensors === (rssTargets + nTargets) * perModel;
  const rssBig = process.memoryUsage().rss;
  const fallbacks = d2.filter((d) => d.fallback !== null).length;

  const body = `Command: \`npm run bench:cycle\` (scripts/bench-cycle.ts --targets ${nTargets} --rss-targets ${rssTargets}) — ${new Date().toISOString().slice(0, 16)}Z.
Machine: ${machineLine()}. Backend: **${backend}**.
Each target is the demo target (NASA trace replayed ×1000, shipped model \`models/demo\`, one Lambda and one CloneSet
actuator in dry run against the in-memory stand-ins), with its own history, model instance and planner state.

| measure | value |
|---|---|
| one cycle, ${nTargets} targets, first (reads ${'14'} days of history per target) | ${coldS.toFixed(2)} s (${d1.length} decisions) |
| one cycle, ${nTargets} targets, next (incremental history read) | ${warmS.toFixed(2)} s (${d2.length} decisions, ${fallbacks} in fallback) |
| loading ${nTargets} models | ${loadS.toFixed(1)} s |
| RSS with ${rssTargets} targets loaded, after a cycle | ${mb(rss50)} MiB |
| RSS with ${nTargets} targets loaded | ${mb(rssBig)} MiB |
| live tfjs tensors with ${rssTargets} + ${nTargets} targets loaded, after the cycles | ${tensors}: ${tensorsOk ? 'exactly' : 'NOT'} ${rssTargets + nTargets} × ${perModel}, the weights of one loaded copy (${tensorsOk ? 'loading leaves nothing else' : 'loading left tensors behind'}; a forecast, the LSTM's JavaScript forward pass, makes none) |

Targets: one cycle for 200 targets ≤ 10 s; RSS ≤ 400 MB with 50 targets (issue 4). Run under tsx (the
TypeScript loader adds to RSS; \`node dist/src/cli.js\` in the image does not carry it). Load average at the end:
${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (a shared machine: wall times include waiting for the CPU).`;
  process.stdout.write(body + '\n');
  if (!args.includes('--no-write')) writeBenchmarkSection('cycle', body);
  if (!tensorsOk) process.exitCode = 1;
}

await main();
