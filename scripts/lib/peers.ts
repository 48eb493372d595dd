/**
 * The Python peers of bench:forecast (protocol v2 of docs/benchmark-protocol.md, step 10): the virtual
 * environment they run in, the input the driver (scripts/peers/run_peers.py) reads, and its output read back
 * into prescale's own forecast type, so that `scoreForecasts` scores the peers exactly as it scores prescale's
 * methods. A benchmark tool: nothing under src/ imports this.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OriginForecasts, ProtocolData } from '../../src/forecast/evaluate.js';
import { QUANTILES, pointForecast, sanitizeForecast, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { fillGaps, sliceSeries } from '../../src/series/series.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PEERS_DIR = path.resolve(here, '..', 'peers');
export const REQUIREMENTS = path.join(PEERS_DIR, 'requirements.txt');
export const DRIVER = path.join(PEERS_DIR, 'run_peers.py');

/** Every peer of the driver, in table order; `nhits` is the one that trains a neural network. */
export const PEER_NAMES = ['naive', 'seasonal-naive', 'mstl-ets', 'mstl-arima', 'lightgbm', 'nhits'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export const PEER_LABELS: Record<PeerName, string> = {
  naive: 'naive',
  'seasonal-naive': 'seasonal naive (daily)',
  'mstl-ets': 'MSTL + AutoETS',
  'mstl-arima': 'MSTL + AutoARIMA',
  lightgbm: 'LightGBM quantile (direct)',
  nhits: 'NHITS (MQLoss)',
};

export function parsePeerList(s: string): PeerName[] {
  const names = s.split(',').filter((x) => x !== '');
  for (const n of names) {
    if (!(PEER_NAMES as readonly string[]).includes(n)) throw new Error(`--peers: unknown peer "${n}"; known: ${PEER_NAMES.join(', ')}`);
  }
  return names as PeerName[];
}

/** What the driver reads: one trace prepared by prescale's protocol code, and the origins to forecast from. */
export interface PeerInput {
  readonly trace: string;
  readonly startMs: number;
  readonly stepMs: number;
  readonly horizon: number;
  readonly season: number;
  readonly trainEnd: number;
  readonly origins: readonly number[];
  /** The scored truth; null where missing. */
  readonly actual: (number | null)[];
  /** fillGaps of the whole trace: the causal context at t is this up to t, held flat after the last present point. */
  readonly filled: number[];
  /** fillGaps of the training part alone: what prescale's methods fit on. */
  readonly train: number[];
}

export function peerInput(trace: string, d: ProtocolData, origins: readonly number[]): PeerInput {
  return {
    trace,
    startMs: d.actual.startMs,
    stepMs: d.actual.stepMs,
    horizon: d.horizon,
    season: d.season,
    trainEnd: d.trainEnd,
    origins,
    actual: Array.from(d.actual.values, (v) => (Number.isNaN(v) ? null : v)),
    filled: Array.from(fillGaps(d.actual).values),
    train: Array.from(fillGaps(sliceSeries(d.actual, 0, d.trainEnd)).values),
  };
}

/** One peer's forecasts as the driver wrote them. */
export interface PeerForecast {
  readonly probabilistic: boolean;
  readonly fitSeconds: number;
  readonly predictSeconds: number;
  readonly note: string;
  /** p50[k][h]: origin k, step h+1. */
  readonly p50: readonly (readonly number[])[];
  readonly p90: readonly (readonly number[])[];
}

export interface PeerOutput {
  readonly packages: Readonly<Record<string, string | null>>;
  readonly peers: Readonly<Partial<Record<PeerName, PeerForecast>>>;
  /** Peers the driver could not run, with its message. */
  readonly failed: Readonly<Record<string, string>>;
}

export const PEER_FORMAT = 'prescale-peers/1';

/**
 * Reads and checks the driver's output against the origins and horizon it was given; every error names the
 * file and the key (e.g. `out.json: peers.lightgbm.p90[3][2]: expected a finite number, got null`).
 */
export function readPeerOutput(file: string, expected: { readonly origins: readonly number[]; readonly horizon: number }): PeerOutput {
  const bad = (key: string, what: string): Error => new Error(`${file}: ${key}: ${what}`);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err: unknown) {
    throw new Error(`${file}: not readable JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 40) ?? String(v));
  if (!isObj(j)) throw bad('(top)', `expected an object, got ${show(j)}`);
  if (j.format !== PEER_FORMAT) throw bad('format', `expected "${PEER_FORMAT}", got ${show(j.format)}`);
  if (j.horizon !== expected.horizon) throw bad('horizon', `expected ${expected.horizon}, got ${show(j.horizon)}`);
  const origins = j.origins;
  if (!Array.isArray(origins) || origins.length !== expected.origins.length || origins.some((t, k) => t !== expected.origins[k])) {
    throw bad('origins', `expected the ${expected.origins.length} origins the bench wrote (${expected.origins[0]}, …), got ${show(origins)}`);
  }
  const packages: Record<string, string | null> = {};
  if (!isObj(j.packages)) throw bad('packages', `expected an object, got ${show(j.packages)}`);
  for (const [k, v] of Object.entries(j.packages)) {
    if (v !== null && typeof v !== 'string') throw bad(`packages.${k}`, `expected a version string or null, got ${show(v)}`);
    packages[k] = v;
  }
  if (!isObj(j.peers)) throw bad('peers', `expected an object, got ${show(j.peers)}`);
  const peers: Partial<Record<PeerName, PeerForecast>> = {};
  for (const [name, p] of Object.entries(j.peers)) {
    const key = `peers.${name}`;
    if (!(PEER_NAMES as readonly string[]).includes(name)) throw bad(key, `unknown peer; known: ${PEER_NAMES.join(', ')}`);
    if (!isObj(p)) throw bad(key, `expected an object, got ${show(p)}`);
    if (typeof p.probabilistic !== 'boolean') throw bad(`${key}.probabilistic`, `expected true or false, got ${show(p.probabilistic)}`);
    const seconds = (k: string): number => {
      const v = p[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`${key}.${k}`, `expected seconds (a number ≥ 0), got ${show(v)}`);
      return v;
    };
    const matrix = (k: 'p50' | 'p90'): number[][] => {
      const rows = p[k];
      if (!Array.isArray(rows) || rows.length !== expected.origins.length) throw bad(`${key}.${k}`, `expected ${expected.origins.length} rows (one per origin), got ${Array.isArray(rows) ? `${rows.length} rows` : show(rows)}`);
      return rows.map((row: unknown, r) => {
        if (!Array.isArray(row) || row.length !== expected.horizon) throw bad(`${key}.${k}[${r}]`, `expected ${expected.horizon} steps, got ${show(row)}`);
        return row.map((v: unknown, h) => {
          if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${key}.${k}[${r}][${h}]`, `expected a finite number, got ${show(v)}`);
          return v;
        });
      });
    };
    peers[name as PeerName] = {
      probabilistic: p.probabilistic,
      fitSeconds: seconds('fitSeconds'),
      predictSeconds: seconds('predictSeconds'),
      note: typeof p.note === 'string' ? p.note : '',
      p50: matrix('p50'),
      p90: matrix('p90'),
    };
  }
  const failed: Record<string, string> = {};
  if (j.failed !== undefined) {
    if (!isObj(j.failed)) throw bad('failed', `expected an object, got ${show(j.failed)}`);
    for (const [k, v] of Object.entries(j.failed)) failed[k] = String(v);
  }
  return { packages, peers, failed };
}

/**
 * A peer's forecasts as prescale's own type, made safe to act on as prescale's are (sanitizeForecast: negative
 * values become 0, p90 ≥ p50). The peers give no p99: it is the p90 (no protocol score reads it).
 */
export function peerOriginForecasts(p: PeerForecast, d: ProtocolData, origins: readonly number[]): OriginForecasts {
  const { startMs, stepMs } = d.actual;
  const forecasts = origins.map((t, k): QuantileForecast => {
    const start = startMs + (t + 1) * stepMs;
    if (!p.probabilistic) return pointForecast(start, stepMs, p.p50[k]);
    const p50 = Float64Array.from(p.p50[k]);
    const p90 = Float64Array.from(p.p90[k]);
    return sanitizeForecast({ startMs: start, stepMs, horizon: d.horizon, probabilistic: true, values: QUANTILES.map((q) => (q === 0.5 ? p50 : p90)) });
  });
  return { origins, forecasts, probabilistic: p.probabilistic };
}

/** The venv the peers run in: PRESCALE_PEERS_VENV, default ~/.cache/prescale/peers-venv (outside the repository). */
export function peersVenvDir(): string {
  return process.env.PRESCALE_PEERS_VENV ?? path.join(os.homedir(), '.cache', 'prescale', 'peers-venv');
}

export type VenvResult = { readonly ok: true; readonly python: string; readonly installed?: { readonly seconds: number; readonly bytes: number } } | { readonly ok: false; readonly reason: string };

const say = (s: string): boolean => process.stderr.write(`peers: ${s}\n`);

function duBytes(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : NaN;
}

/**
 * Makes the peers' venv ready: reused when its stamp matches scripts/peers/requirements.txt, else created with
 * `python3 -m venv` and filled by pip from the pinned requirements (minutes and some GB the first time: torch's
 * PyPI wheel for Linux brings CUDA libraries). Never throws: says why when there is no python3, no venv module
 * or pip fails, so the bench goes on without peers.
 */
export function ensurePeersVenv(dir = peersVenvDir()): VenvResult {
  const reqs = readFileSync(REQUIREMENTS, 'utf8');
  const hash = createHash('sha256').update(reqs).digest('hex');
  const stamp = path.join(dir, '.prescale-requirements.sha256');
  const python = path.join(dir, 'bin', 'python');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return { ok: true, python };
  const v = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return { ok: false, reason: 'python3 is not on the PATH' };
  say(`creating ${dir} with ${v.stdout.trim()} and installing scripts/peers/requirements.txt (the first time: minutes, ~6 GB)…`);
  const t0 = performance.now();
  const mk = spawnSync('python3', ['-m', 'venv', '--clear', dir], { encoding: 'utf8' });
  if (mk.error || mk.status !== 0) return { ok: false, reason: `python3 -m venv failed (${(mk.stderr || String(mk.error)).trim().split('\n').pop()}); on Debian: apt-get install python3-venv` };
  const pip = spawnSync(python, ['-m', 'pip', 'install', '-q', '-r', REQUIREMENTS], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (pip.error || pip.status !== 0) return { ok: false, reason: `pip install -r scripts/peers/requirements.txt failed (exit ${pip.status ?? String(pip.error)})` };
  writeFileSync(stamp, `${hash}\n`);
  const installed = { seconds: (performance.now() - t0) / 1000, bytes: duBytes(dir) };
  say(`venv ready in ${installed.seconds.toFixed(0)} s, ${(installed.bytes / 2 ** 30).toFixed(1)} GiB`);
  return { ok: true, python, installed };
}

/** The driver ran past its time limit and was killed: the bench records the limit instead of waiting. */
export class PeerTimeoutError extends Error {
  constructor(readonly seconds: number) {
    super(`no result within the time limit of ${seconds} s (killed)`);
    this.name = 'PeerTimeoutError';
  }
}

export interface DriverOptions {
  readonly peers: readonly PeerName[];
  /** Threads a peer may use (LightGBM, torch, OpenMP); default 2. */
  readonly threads?: number;
  /** Wall-clock limit for the whole driver call; past it the driver is killed and the promise rejects with PeerTimeoutError. */
  readonly timeoutSeconds?: number;
}

/**
 * Runs the driver on one trace's input; resolves when it has written `output` (its progress goes to stderr).
 * The driver runs in its own process group, so that a time limit also ends any worker it started.
 */
export function runPeerDriver(python: string, input: string, output: string, o: DriverOptions): Promise<void> {
  const threads = o.threads ?? 2;
  return new Promise((resolve, reject) => {
    const child = spawn(python, [DRIVER, input, output, '--peers', o.peers.join(',')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      // OpenMP threads spin while they wait by default; on 2 cores shared with other work that made LightGBM's fit
      // 7 times slower (29 s against 4 s on elb), so they wait passively.
      env: { ...process.env, PRESCALE_PEERS_THREADS: String(threads), OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE', PYTHONWARNINGS: 'ignore' },
    });
    let timedOut = false;
    // Detached, the driver would outlive a bench stopped by Ctrl-C: end its group when this process exits.
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    process.once('exit', killGroup);
    const timer =
      o.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup();
          }, o.timeoutSeconds * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      process.off('exit', killGroup);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', killGroup);
      if (timedOut) reject(new PeerTimeoutError(o.timeoutSeconds ?? NaN));
      else if (code === 0) resolve();
      else reject(new Error(`scripts/peers/run_peers.py exited with ${code ?? signal}`));
    });
  });
}
