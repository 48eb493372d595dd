/**
 * Forecast accuracy benchmark: protocols v1 and v2 (src/forecast/evaluate.ts and window-peak.ts, the same code
 * as `prescale evaluate`) on every CSV under data/traces, for every registered method, and the Python peers
 * (scripts/peers/run_peers.py: statsforecast MSTL, LightGBM, neuralforecast NHITS, naive and seasonal naive)
 * in the same run, on the same splits and origins, scored by the same TypeScript code. Writes the `forecast`
 * section of BENCHMARKS.md.
 *
 *   npm run bench:forecast [-- --methods holt-winters,naive] [--fast] [--traces nasa,AMZN] [--peers LIST | --no-peers] [--peer-timeout SECONDS] [--band METHOD] [--out FILE]
 *
 * `--fast` skips the methods that train a neural network (lstm, ensemble, and auto, which trains one to compare;
 * the peer nhits). The peers run in a venv the bench creates from scripts/peers/requirements.txt
 * (~/.cache/prescale/peers-venv, or PRESCALE_PEERS_VENV); without python3 or its venv module they are skipped
 * with a message, and so with `--no-peers`. Each peer runs in its own driver process, limited to `--peer-timeout`
 * seconds per trace (default 600, its fit and every origin); past it the driver is killed and the table records the
 * limit. `--out FILE` writes the section to FILE instead of BENCHMARKS.md (trial runs). `--band window-peak` runs auto
 * with its band check chosen on holdout WPL90 instead of its default (src/forecast/band.ts; a trial: `--band ufr` is
 * the default).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { choiceLabel } from '../src/commands/evaluate-command.js';
import { evaluateSeries, originsOf, prepareProtocol, scoreForecasts, type EvaluationReport, type MethodScores } from '../src/forecast/evaluate.js';
import type { Forecaster } from '../src/forecast/forecaster.js';
import { availableMethods, createForecaster, parseMethodList, type MethodName } from '../src/forecast/registry.js';
import { AutoForecaster } from '../src/forecast/select.js';
import { BAND_METHODS, isBandMethod, type BandMethod } from '../src/forecast/band.js';
import { loadSeriesFile } from '../src/series/load.js';
import { gitHead, loadAverages, machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';
import {
  PEER_LABELS,
  PEER_NAMES,
  ensurePeersVenv,
  parsePeerList,
  peerInput,
  peerOriginForecasts,
  readPeerOutput,
  runPeerDriver,
  PeerTimeoutError,
  type PeerName,
  type VenvResult,
} from './lib/peers.js';

/** A peer's limit per trace unless `--peer-timeout` says otherwise: its fit and every origin, wall clock. */
const DEFAULT_PEER_TIMEOUT_SECONDS = 600;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tracesDir = path.join(root, 'data', 'traces');
const benchmarkMd = path.join(root, 'docs', 'benchmark-protocol.md');

/** Value column per trace folder (the traces' SOURCE notes say which column holds the count). */
const VALUE_COLUMNS: Record<string, string> = { nasa_http_1995: 'requests', twitter_stream_2021_08: 'tweets', nab: 'value', isp_uk_5m: 'bits' };

const LABELS: Record<MethodName, string> = {
  auto: 'auto (chosen)',
  lstm: 'LSTM',
  'holt-winters': 'Holt-Winters',
  gbdt: 'boosted trees (direct)',
  ensemble: 'ensemble (LSTM + Holt-Winters + gbdt)',
  'seasonal-naive': 'seasonal naive (daily)',
  'seasonal-naive-weekly': 'seasonal naive (weekly)',
  naive: 'naive',
};

interface Args {
  methods: MethodName[];
  traces?: string[];
  /** Peers to run; empty with --no-peers. */
  peers: PeerName[];
  /** Where the section is written; default BENCHMARKS.md. */
  out: string;
  /** Wall-clock limit per peer and trace (its fit and every origin), in seconds. */
  peerTimeoutSeconds: number;
  /** auto's band method when `--band` is given; otherwise auto as the registry builds it. */
  band?: BandMethod;
  argv: string;
}

function parseArgs(argv: string[]): Args {
  let methods: MethodName[] | undefined;
  let fast = false;
  let traces: string[] | undefined;
  let peers: PeerName[] | undefined;
  let noPeers = false;
  let out = path.join(root, 'BENCHMARKS.md');
  let peerTimeoutSeconds = DEFAULT_PEER_TIMEOUT_SECONDS;
  let band: BandMethod | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--fast') fast = true;
    else if (a === '--methods') methods = parseMethodList(argv[++i] ?? '');
    else if (a === '--traces') traces = (argv[++i] ?? '').split(',').filter((s) => s !== '');
    else if (a === '--peers') peers = parsePeerList(argv[++i] ?? '');
    else if (a === '--no-peers') noPeers = true;
    else if (a === '--out') out = path.resolve(argv[++i] ?? '');
    else if (a === '--band') {
      const v = argv[++i] ?? '';
      if (!isBandMethod(v)) throw new Error(`--band: expected one of ${BAND_METHODS.join(', ')}, ${v || 'nothing'} given`);
      band = v;
    }
    else if (a === '--peer-timeout') {
      const v = argv[++i];
      peerTimeoutSeconds = Number(v);
      if (!Number.isFinite(peerTimeoutSeconds) || peerTimeoutSeconds <= 0) throw new Error(`--peer-timeout: expected seconds (a number > 0), ${v ?? 'nothing'} given`);
    } else throw new Error(`unknown argument ${a}; use --methods LIST, --fast, --traces LIST, --peers LIST, --no-peers, --peer-timeout SECONDS, --band METHOD, --out FILE`);
  }
  let list = methods ?? availableMethods();
  let peerList = noPeers ? [] : (peers ?? [...PEER_NAMES]);
  if (fast) {
    list = list.filter((m) => m !== 'lstm' && m !== 'auto' && m !== 'ensemble');
    peerList = peerList.filter((p) => p !== 'nhits');
  }
  return { methods: list, traces, peers: peerList, out, peerTimeoutSeconds, band, argv: argv.join(' ') };
}

function findCsvs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findCsvs(p));
    else if (name.toLowerCase().endsWith('.csv')) out.push(p);
  }
  return out;
}

interface PeerTable {
  readonly methods: string[];
  readonly rows: Map<string, number[]>;
}

/** The peers' MASE table of protocol v1, measured elsewhere (first markdown table whose header starts with "trace"). */
function readV1Peers(): PeerTable {
  const lines = readFileSync(benchmarkMd, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\|\s*trace\s*\|/.test(l));
  if (start < 0) throw new Error(`${benchmarkMd}: no peers table`);
  const cells = (l: string): string[] => l.split('|').slice(1, -1).map((c) => c.trim().replace(/\*\*/g, ''));
  const methods = cells(lines[start]).slice(1);
  const rows = new Map<string, number[]>();
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const c = cells(lines[i]);
    rows.set(c[0], c.slice(1).map(Number));
  }
  return { methods, rows };
}

function v1PeerRow(peers: PeerTable, key: string): number[] | undefined {
  for (const [name, row] of peers.rows) if (key === name || key.startsWith(`${name}/`)) return row;
  return undefined;
}

interface PeerResult {
  readonly name: PeerName;
  readonly scores?: MethodScores;
  readonly probabilistic?: boolean;
  readonly fitSeconds?: number;
  readonly predictSeconds?: number;
  readonly note?: string;
  readonly failed?: string;
  /** The failure is the bench's time limit (`--peer-timeout`), not an error of the peer. */
  readonly timedOut?: boolean;
}

/** Auto's holdout, read back after its fit: what it chose, and what WPL90 would have chosen (issue 18 item 3, reported only). */
interface AutoHoldout {
  readonly chosen: string;
  readonly lowestMase: string;
  readonly scores: Readonly<Record<string, MethodScores>>;
}

interface TraceResult {
  readonly key: string;
  readonly report: EvaluationReport;
  readonly loadSeconds: number;
  readonly peers: readonly PeerResult[];
  readonly peersWallSeconds: number;
  readonly packages?: Readonly<Record<string, string | null>>;
  readonly autoHoldout?: AutoHoldout;
  /** Load averages (1, 5, 15 min) when prescale's methods were done on this trace, and when its peers were. */
  readonly loadAfterMethods: string;
  readonly loadAfterPeers: string;
}

const f3 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(3));
const f4 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));
const num = (v: number | null | undefined): number => (v === null || v === undefined || !Number.isFinite(v) ? Infinity : v);

/** The peer with the lowest value of `score` (probabilistic ones only when asked); undefined when none is finite. */
function bestPeer(r: TraceResult, score: (s: MethodScores) => number | undefined, probabilisticOnly: boolean): PeerResult | undefined {
  let best: PeerResult | undefined;
  for (const p of r.peers) {
    if (!p.scores || (probabilisticOnly && !p.probabilistic)) continue;
    if (num(score(p.scores)) < num(best?.scores ? score(best.scores) : undefined)) best = p;
  }
  return best;
}

/** One table of every method and peer on every trace: v1 and v2 scores and fit seconds side by side. */
function allTable(results: TraceResult[], methods: MethodName[]): string[] {
  const head = ['trace', 'method', 'MASE', 'UFR', 'peak ratio', 'coverage p90', 'WPL90', 'peak coverage', 'fit s', 'origins s'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    const rows: { label: string; s: MethodScores; fit: number; origins?: number }[] = [];
    for (const m of methods) {
      const res = r.report.methods[m];
      if (res) rows.push({ label: `${LABELS[m]}${choiceLabel(res)}`, s: res, fit: res.fitSeconds });
    }
    for (const p of r.peers) if (p.scores) rows.push({ label: `peer: ${PEER_LABELS[p.name]}`, s: p.scores, fit: p.fitSeconds ?? NaN, origins: p.predictSeconds });
    const minMase = Math.min(...rows.map((x) => num(x.s.mase)));
    const minWpl = Math.min(...rows.map((x) => num(x.s.wpl90)));
    const bold = (v: number | undefined, min: number, text: string): string => (v !== undefined && Number.isFinite(v) && v === min ? `**${text}**` : text);
    for (const x of rows) {
      lines.push(
        `| ${r.key} | ${x.label} | ${bold(x.s.mase, minMase, f3(x.s.mase))} | ${f3(x.s.ufr)} | ${f3(x.s.peakRatio)} | ${f3(x.s.coverageP90)} | ${bold(x.s.wpl90, minWpl, f4(x.s.wpl90))} | ${f3(x.s.windowPeakCoverage)} | ${x.fit.toFixed(2)} | ${x.origins === undefined ? '—' : x.origins.toFixed(2)} |`,
      );
    }
    for (const p of r.peers) if (p.failed) lines.push(`| ${r.key} | peer: ${PEER_LABELS[p.name]} | failed: ${p.failed.replace(/\|/g, '/').slice(0, 160)} | | | | | | | |`);
  }
  return lines;
}

/** One "Done means" line of issue 18: how many traces pass, and the ones that do not, with why. */
interface DoneLine {
  passed: number;
  misses: string[];
}

interface DoneCounts {
  traces: number;
  mase: DoneLine;
  wpl: DoneLine;
  coverage: DoneLine;
}

/** a ÷ b rounded up at 3 decimals, so that a ratio above 1 never prints as 1.000 (no rounding in auto's favour). */
const ratioUp = (a: number, b: number): string => (Math.ceil((a / b) * 1000 - 1e-9) / 1000).toFixed(3);

/** auto against the best peer per trace and score: the ratios issue 18 asks for, and its "Done means" counts (on unrounded scores). */
function ratioTable(results: TraceResult[]): { lines: string[]; done: DoneCounts } {
  const head = ['trace', 'auto (chosen)', 'MASE: auto / best peer', 'WPL90: auto / best probabilistic peer', 'auto peak coverage (windows)', 'fit s: auto / those peers'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const done: DoneCounts = { traces: 0, mase: { passed: 0, misses: [] }, wpl: { passed: 0, misses: [] }, coverage: { passed: 0, misses: [] } };
  for (const r of results) {
    const auto = r.report.methods.auto;
    if (!auto) continue;
    done.traces++;
    const short = r.key.split('/').pop() ?? r.key;
    const bm = bestPeer(r, (s) => s.mase, false);
    const bw = bestPeer(r, (s) => s.wpl90, true);
    const judge = (line: DoneLine, a: number | undefined, p: PeerResult | undefined, b: number | undefined): string => {
      if (!p || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
        line.misses.push(`${short} (no peer scored)`);
        return '—';
      }
      const ok = a <= b;
      if (ok) line.passed++;
      else line.misses.push(`${short} (×${ratioUp(a, b)} of ${p.name})`);
      return `${f4(a)} / ${f4(b)} (${p.name}) = ${ratioUp(a, b)} ${ok ? '✓' : '✗'}`;
    };
    const maseCell = judge(done.mase, auto.mase, bm, bm?.scores?.mase);
    const wplCell = judge(done.wpl, auto.wpl90, bw, bw?.scores?.wpl90);
    const cov = auto.windowPeakCoverage;
    const inBand = cov !== undefined && cov >= 0.85 && cov <= 0.95;
    if (inBand) done.coverage.passed++;
    else done.coverage.misses.push(`${short} (${f4(cov)})`);
    const covered = cov === undefined ? NaN : Math.round(cov * auto.completeWindows);
    const fits = [bm, bw].filter((p, i, a): p is PeerResult => p !== undefined && a.indexOf(p) === i).map((p) => `${p.name} ${(p.fitSeconds ?? NaN).toFixed(1)}`);
    lines.push(
      `| ${r.key} | ${(auto.chosen ?? '—') + (auto.bandExponent !== undefined && auto.bandExponent !== 1 ? `, band ×${auto.bandExponent}` : '')} | ${maseCell} | ${wplCell} | ${f3(cov)} (${covered}/${auto.completeWindows}) ${inBand ? '✓' : '✗'} | ${auto.fitSeconds.toFixed(1)} / ${fits.join(', ') || '—'} |`,
    );
  }
  return { lines, done };
}

/** Issue 18's three "Done means" lines, each said plainly: holds or does not, with the traces that miss. */
function doneLines(done: DoneCounts): string[] {
  const verdict = (ok: boolean): string => (ok ? '**holds**' : '**does not hold**');
  const misses = (l: DoneLine): string => (l.misses.length > 0 ? `; not on ${l.misses.join(', ')}` : '');
  const five = done.traces === 5 ? '' : ` (this run has auto on ${done.traces} trace${done.traces === 1 ? '' : 's'}, not on the five shared ones, so it cannot settle the line)`;
  const every = (l: DoneLine): boolean => done.traces === 5 && l.passed === done.traces;
  return [
    `1. auto's MASE at or below the best peer's on every shared trace: ${verdict(every(done.mase))} — at or below on ${done.mase.passed} of ${done.traces}${misses(done.mase)}${five}.`,
    `2. auto's WPL90 at or below the best probabilistic peer's on every shared trace: ${verdict(every(done.wpl))} — at or below on ${done.wpl.passed} of ${done.traces}${misses(done.wpl)}${five}.`,
    `3. auto's window-peak coverage within 0.85–0.95 on at least 4 of the 5: ${verdict(done.traces === 5 && done.coverage.passed >= 4)} — within on ${done.coverage.passed} of ${done.traces}${misses(done.coverage)}${five}.`,
  ];
}

/** Auto's holdout judged by WPL90 instead of its rule (issue 18 item 3: reported, auto's choice is unchanged). */
function holdoutTable(results: TraceResult[]): string[] {
  const head = ['trace', 'auto chose', 'lowest holdout MASE (in its tier)', 'lowest holdout WPL90', 'holdout WPL90 per candidate'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    const h = r.autoHoldout;
    if (!h) continue;
    const entries = Object.entries(h.scores).filter(([, s]) => Number.isFinite(s.wpl90 ?? NaN));
    entries.sort((a, b) => num(a[1].wpl90) - num(b[1].wpl90));
    const byWpl = entries[0]?.[0] ?? '—';
    const differs = byWpl !== h.chosen ? ' (differs)' : '';
    lines.push(`| ${r.key} | ${h.chosen} | ${h.lowestMase} | ${byWpl}${differs} | ${entries.map(([k, s]) => `${k} ${f4(s.wpl90)}`).join(', ')} |`);
  }
  return lines;
}

/** Protocol v1's peer numbers measured elsewhere, kept as history beside auto's MASE from this run. */
function historyTable(results: TraceResult[], v1: PeerTable): string[] {
  const head = ['trace', 'auto MASE (this run)', ...v1.methods.map((p) => `v1 peer: ${p}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    const row = v1PeerRow(v1, r.key);
    if (!row) continue;
    lines.push(`| ${r.key} | ${f3(r.report.methods.auto?.mase)} | ${row.map((v) => v.toFixed(3)).join(' | ')} |`);
  }
  return lines;
}

/** A message fit for BENCHMARKS.md: the checkout's and the home directory's paths made relative (no machine paths). */
function portable(msg: string): string {
  return msg.split(`${root}${path.sep}`).join('').split(root).join('.').split(os.homedir()).join('~');
}

/**
 * Every peer in its own driver process with a wall-clock limit, so that one peer that cannot fit in reasonable
 * time (AutoARIMA on a long series) is recorded with its limit and the others still run.
 */
async function runPeers(python: string, key: string, series: Parameters<typeof prepareProtocol>[0], o: { names: readonly PeerName[]; timeoutSeconds: number }): Promise<Pick<TraceResult, 'peers' | 'peersWallSeconds' | 'packages'>> {
  const d = prepareProtocol(series);
  const origins = originsOf(d.trainEnd, d.actual.values.length, d.horizon);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-peers-'));
  const t0 = performance.now();
  const peers: PeerResult[] = [];
  let packages: TraceResult['packages'];
  try {
    const input = path.join(dir, 'input.json');
    writeFileSync(input, JSON.stringify(peerInput(key, d, origins)));
    for (const name of o.names) {
      const output = path.join(dir, `${name}.json`);
      const p0 = performance.now();
      try {
        await runPeerDriver(python, input, output, { peers: [name], timeoutSeconds: o.timeoutSeconds });
      } catch (err: unknown) {
        const msg = err instanceof Error ? err.message : String(err);
        process.stderr.write(`  peer ${name}: ${portable(msg)} after ${((performance.now() - p0) / 1000).toFixed(0)} s\n`);
        peers.push({ name, failed: portable(msg), timedOut: err instanceof PeerTimeoutError });
        continue;
      }
      const out = readPeerOutput(output, { origins, horizon: d.horizon });
      packages ??= out.packages;
      const p = out.peers[name];
      if (!p) {
        peers.push({ name, failed: portable(out.failed[name] ?? 'no output') });
        continue;
      }
      const scores = scoreForecasts(d, peerOriginForecasts(p, d, origins));
      process.stderr.write(
        `  peer ${name}: MASE ${f3(scores.mase)} UFR ${f3(scores.ufr)} peak ${f3(scores.peakRatio)} cov ${f3(scores.coverageP90)} WPL90 ${f4(scores.wpl90)} peak cov ${f3(scores.windowPeakCoverage)} fit ${p.fitSeconds.toFixed(2)} s\n`,
      );
      peers.push({ name, scores, probabilistic: p.probabilistic, fitSeconds: p.fitSeconds, predictSeconds: p.predictSeconds, note: p.note });
    }
    return { peers, peersWallSeconds: (performance.now() - t0) / 1000, packages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const v1 = readV1Peers();
  let files = findCsvs(tracesDir);
  // Matched on the path below data/traces, so that the checkout's own path cannot match a filter.
  if (args.traces) files = files.filter((f) => args.traces?.some((t) => path.relative(tracesDir, f).includes(t)));
  // Read before the run: commits landing while it runs must not be credited with its numbers.
  const commit = gitHead(root);
  const started = performance.now();
  const loadAtStart = loadAverages();
  // The 1-min load average once a minute (when the event loop is free: a model's synchronous fit can delay a sample).
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(os.loadavg()[0]), 60_000);
  sampler.unref();
  // So that the exit handlers run, which end a peer's driver still running.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  let venv: VenvResult = { ok: false, reason: '--no-peers' };
  if (args.peers.length > 0) {
    venv = ensurePeersVenv();
    if (!venv.ok) process.stderr.write(`peers skipped: ${venv.reason}; prescale's methods run alone (--no-peers says so on purpose)\n`);
  }
  const results: TraceResult[] = [];
  for (const file of files) {
    const rel = path.relative(tracesDir, file);
    const key = rel.replace(/\.csv$/i, '');
    const valueColumn = VALUE_COLUMNS[rel.split(path.sep)[0]];
    const t0 = performance.now();
    const { series } = loadSeriesFile(file, { valueColumn, unit: 'count-per-interval' });
    const loadSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${key}: ${series.values.length} points at the native step\n`);
    const horizon = prepareProtocol(series).horizon;
    let auto: Forecaster | undefined;
    const report = await evaluateSeries(series, {
      methods: args.methods,
      create: (name, stepMs) => {
        // The registry's auto has the default band; `--band` builds the same auto with the method asked for.
        const f = name === 'auto' && args.band ? new AutoForecaster({ stepMs, horizon, band: { method: args.band } }) : createForecaster(name, { stepMs, horizon });
        if (name === 'auto') auto = f;
        return f;
      },
      onMethodDone: (m, r) =>
        process.stderr.write(
          `  ${m}: MASE ${f3(r.mase)} UFR ${f3(r.ufr)} peak ${f3(r.peakRatio)} cov ${f3(r.coverageP90)} WPL90 ${f4(r.wpl90)} peak cov ${f3(r.windowPeakCoverage)} fit ${r.fitSeconds.toFixed(2)} s${r.chosen ? ` chosen ${r.chosen}` : ''}${r.bandExponent !== undefined ? ` band ${r.bandExponent}` : ''}\n`,
        ),
    });
    let autoHoldout: AutoHoldout | undefined;
    if (auto instanceof AutoForecaster && auto.decision) {
      autoHoldout = { chosen: auto.decision.chosen, lowestMase: auto.decision.lowest, scores: auto.scores as Record<string, MethodScores> };
    }
    const loadAfterMethods = loadAverages();
    const peers = venv.ok ? await runPeers(venv.python, key, series, { names: args.peers, timeoutSeconds: args.peerTimeoutSeconds }) : { peers: [], peersWallSeconds: 0 };
    results.push({ key, report, loadSeconds, autoHoldout, ...peers, loadAfterMethods, loadAfterPeers: loadAverages() });
  }
  const totalSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const loadAtEnd = loadAverages();
  const samples = loadSamples.length > 0 ? `; the 1-min load sampled ${loadSamples.length} times over the run: mean ${(loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length).toFixed(2)}, min ${Math.min(...loadSamples).toFixed(2)}, max ${Math.max(...loadSamples).toFixed(2)}` : '';
  const loadLine = `Load averages (1, 5, 15 min, as \`uptime\` prints them; ${os.cpus().length} cores shared with other work, so a load above ${os.cpus().length} slows every fit): at the start ${loadAtStart}, at the end ${loadAtEnd}${samples}; per trace after prescale's methods / after the peers: ${results.map((r) => `${r.key.split('/').pop()} ${r.loadAfterMethods} / ${r.loadAfterPeers}`).join('; ')}.`;
  const command = `npm run bench:forecast${args.argv ? ` -- ${args.argv}` : ''}`;
  const packages = results.find((r) => r.packages)?.packages;
  const peerNotes = new Map<string, string>();
  for (const r of results) for (const p of r.peers) if (p.note && !peerNotes.has(p.name)) peerNotes.set(p.name, p.note);
  const ratios = ratioTable(results);
  const hasAuto = ratios.done.traces > 0;
  const peersLine = venv.ok
    ? `Peers (scripts/peers/run_peers.py, run by this bench in the same invocation in a venv from scripts/peers/requirements.txt${venv.installed ? `, installed in this run in ${venv.installed.seconds.toFixed(0)} s, ${(venv.installed.bytes / 2 ** 30).toFixed(1)} GiB` : ''}): ${packages ? Object.entries(packages).map(([k, v]) => `${k} ${v ?? '—'}`).join(', ') : 'no package versions (no peer ran)'}. Each peer is fitted once on the same training part and forecasts every origin from the causal context y[0..t], never refitted; its p50 and p90 are read back and scored by the same TypeScript code as prescale's methods (negative values clipped to 0 and p90 ≥ p50, as prescale's own forecasts are). Each peer runs in its own process, with 2 threads (OpenMP waiting passively) and a limit of ${args.peerTimeoutSeconds} s per trace for its fit and every origin, past which it is killed and recorded as such. Peers' wall time per trace (fit and all origins): ${results.map((r) => `${r.key.split('/').pop()} ${r.peersWallSeconds.toFixed(0)} s`).join(', ')}.`
    : `Peers: not run (${venv.ok ? '' : venv.reason}).`;
  const body = [
    `Command: \`${command}\` at commit ${commit} (read at the start) — ${new Date().toISOString().slice(0, 16)}Z, total ${totalSeconds.toFixed(0)} s.`,
    `Machine: ${machineLine()}.`,
    loadLine,
    '',
    'Protocols v1 and v2 (docs/benchmark-protocol.md; `prescale evaluate` runs the same code): resolution max(native, 5 min), horizon 30 min,',
    'train on the first 70 %, rolling origins every 30 min over the last 30 %. Traces: every CSV under data/traces given to `--traces`',
    '(value columns: nasa `requests`, twitter `tweets`, NAB `value`, isp `bits`; counts per interval).',
    peersLine,
    ...[...peerNotes].map(([k, v]) => `- ${PEER_LABELS[k as PeerName]}: ${v}`),
    '',
    '**Every method and peer, one run** (MASE on the p50; UFR, peak ratio, WPL90 and peak coverage on the p90 of probabilistic',
    'methods, the point otherwise; WPL90 = window-peak pinball loss at τ = 0.9 ÷ mean window peak, lower is better; peak',
    'coverage = share of windows whose peak is at or below the forecast peak, ≈ 0.9 when calibrated; the lowest MASE and',
    'WPL90 on each trace in bold; fit s = fit on the training part; origins s = a peer\'s forecasts of every origin):',
    '',
    ...allTable(results, args.methods),
    ...(hasAuto
      ? [
          '',
          '**auto against the best peer of this run** (✓ = at or below, ✗ = above, on unrounded scores; the best probabilistic peer for WPL90; ratios rounded up at 3 decimals; peak coverage ✓ within 0.85–0.95):',
          '',
          ...ratios.lines,
          '',
          "**Issue 18's \"Done means\", judged on this run** (unrounded scores; a tie counts as at or below; ratios above are rounded up):",
          '',
          ...doneLines(ratios.done),
          '',
          "**auto's holdout judged by WPL90** (reported only: auto still chooses by its rule, the lowest holdout MASE among candidates whose p90 clears the sanity bar, then the significance test against the ensemble; the holdout WPL90 is the candidate's own band, before auto's band calibration):",
          '',
          ...holdoutTable(results),
          '',
          '**History:** protocol v1\'s peers as measured elsewhere, once (docs/benchmark-protocol.md §1), beside auto\'s MASE of this run:',
          '',
          ...historyTable(results, v1),
        ]
      : []),
  ].join('\n');
  writeBenchmarkSection('forecast', body, args.out);
  process.stderr.write(`wrote the forecast section of ${path.relative(root, args.out)} (${totalSeconds.toFixed(0)} s)\n`);
}

await main();
