/**
 * `npm run bench:train`: LSTM training time on 20,000 points with the wasm backend, prediction latency
 * (median and p99 over 1,000), the live tensors where tensors are made (training, the tfjs predict path, a
 * saved copy loaded, dispose), and RSS; then the same for the boosted trees (`gbdt`) → BENCHMARKS.md `train`.
 * Usage: tsx scripts/bench-train.ts [--points 20000] [--no-write]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../src/forecast/artefact.js';
import { GbdtForecaster } from '../src/forecast/boosted.js';
import { disposeForecaster } from '../src/forecast/forecaster.js';
import { LstmForecaster } from '../src/forecast/lstm.js';
import { initTf, liveTensorCount } from '../src/forecast/tf-backend.js';
import { loadSeriesFile } from '../src/series/load.js';
import { fillGaps, sliceSeries } from '../src/series/series.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const TRACE = 'data/demo/nasa_requests_per_minute.csv';
const args = process.argv.slice(2);
const POINTS = args.includes('--points') ? Number(args[args.indexOf('--points') + 1]) : 20_000;
if (!Number.isInteger(POINTS) || POINTS <= 0) throw new Error(`--points must be a whole number > 0, got ${args[args.indexOf('--points') + 1]}`);

/** Milliseconds of each of `n` calls, ascending. */
function latencies(n: number, call: () => unknown): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    call();
    out.push(performance.now() - s);
  }
  return out.sort((a, b) => a - b);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const { tf, backend } = await initTf();
const { series } = loadSeriesFile(TRACE, { valueColumn: 'requests' });
const train = fillGaps(sliceSeries(series, 0, POINTS));
const f = new LstmForecaster({ stepMs: train.stepMs, seed: 42 });
// Tensors are made in training, by the tfjs predict path and by loading; the default predict (JavaScript) makes none.
const tensorsBefore = liveTensorCount();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await f.fit(train);
const fitSeconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const fitCpuSeconds = (cpu.user + cpu.system) / 1e6;
const epochs = f.state?.epochsRun ?? 0;
const ctx = sliceSeries(series, 0, POINTS + 500);
const weights = f.layersModel!.weights.length;
const tensorsTrained = liveTensorCount();
for (let i = 0; i < 20; i++) f.predict(f.horizon, ctx); // warm-up
const lat = latencies(1000, () => f.predict(f.horizon, ctx));
const viaTf = LstmForecaster.fromParts(f.layersModel!, f.state!, { inference: 'tf' });
const tfLat = latencies(100, () => viaTf.predict(f.horizon, ctx));
const tensorsAfterTf = liveTensorCount();
const saveDir = mkdtempSync(path.join(tmpdir(), 'prescale-bench-train-'));
await saveModel(path.join(saveDir, 'lstm'), { forecaster: f, training: train });
const copy = await loadModel(path.join(saveDir, 'lstm'));
const tensorsLoaded = liveTensorCount();
disposeForecaster(copy.forecaster);
rmSync(saveDir, { recursive: true, force: true });
const gb = new GbdtForecaster({ stepMs: train.stepMs });
const g0 = performance.now();
await gb.fit(train);
const gbSeconds = (performance.now() - g0) / 1000;
const gbLat = latencies(1000, () => gb.predict(f.horizon, ctx));
const gbTrees = gb.state?.models.reduce((n, m) => n + m.trees.length, 0) ?? 0;
const rssMiB = process.memoryUsage().rss / 2 ** 20;
f.dispose(); // viaTf shares its model
const tensorsDisposed = liveTensorCount();
// Each count is what the models alive at that point hold: anything more was left behind (a leak).
const tensorsOk =
  tensorsTrained === tensorsBefore + weights && tensorsAfterTf === tensorsTrained && tensorsLoaded === tensorsTrained + weights && tensorsDisposed === tensorsBefore;
const r = (v: number, d = 2): string => v.toFixed(d);
const body = `## train — LSTM (and boosted trees) training and prediction speed

Command: \`npm run bench:train\` (scripts/bench-train.ts). Machine: ${machineLine()}. Backend: **${backend}** (tfjs ${tf.version.tfjs}).
Data: the first ${POINTS.toLocaleString('en')} points of ${TRACE} (1-minute steps), model defaults (window 24, 32 LSTM units, horizon ${f.horizon} steps × 3 quantiles, ≤ 8,000 training windows, ≤ 30 epochs, early stopping patience 4 with two learning-rate drops, seasonal-profile inputs over 7 days, dropout 0.2, p50-weighted pinball loss), seed 42.

| measure | value |
|---|---|
| training time (${POINTS.toLocaleString('en')} points), wall clock | ${r(fitSeconds, 1)} s (${epochs} epochs, best validation pinball loss ${r(f.state?.bestValLoss ?? NaN, 4)}) |
| training CPU time (user + system, one thread) | ${r(fitCpuSeconds, 1)} s |
| one prediction, median (1,000 calls, JS forward pass) | ${r(quantile(lat, 0.5), 3)} ms |
| one prediction, p99 | ${r(quantile(lat, 0.99), 3)} ms |
| one prediction via tfjs \`model.predict\`, median / p99 (100 calls) | ${r(quantile(tfLat, 0.5))} / ${r(quantile(tfLat, 0.99))} ms |
| live tensors: before training / trained (its ${weights} weights) / after 100 tfjs predictions / a saved copy loaded / both disposed | ${tensorsBefore} / ${tensorsTrained} / ${tensorsAfterTf} / ${tensorsLoaded} / ${tensorsDisposed}: ${tensorsOk ? 'what the live models hold, nothing left behind' : 'LEAK: more than the live models hold'} |
| RSS after the run (both models) | ${r(rssMiB, 0)} MiB |

Boosted trees (\`gbdt\`, src/forecast/boosted.ts) on the same ${POINTS.toLocaleString('en')} points, defaults (one booster per step: ${f.horizon} at 1-minute steps; 24 lags; ≤ 400 rounds, early stopping after 40):

| measure | value |
|---|---|
| training time, wall clock | ${r(gbSeconds, 1)} s (${gbTrees} trees kept over ${f.horizon} steps) |
| one prediction, median / p99 (1,000 calls) | ${r(quantile(gbLat, 0.5), 3)} / ${r(quantile(gbLat, 0.99), 3)} ms |

Timings are wall-clock on a machine shared with other jobs; the load average at the end was ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(', ')}.`;
if (!args.includes('--no-write')) writeBenchmarkSection('train', body);
process.stdout.write(body + '\n');
if (!tensorsOk) process.exitCode = 1;
