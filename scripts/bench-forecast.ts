/**
 * Forecast accuracy benchmark: protocol v1 (src/forecast/evaluate.ts, the same code as `prescale evaluate`)
 * on every CSV under data/traces, for every registered method, beside the peers' numbers of
 * docs/benchmark-protocol.md. Writes the `forecast` section of BENCHMARKS.md.
 *
 *   npm run bench:forecast [-- --methods holt-winters,naive] [--fast] [--traces nasa,AMZN]
 *
 * `--fast` skips the methods that train a neural network (lstm, and auto, which trains one to compare).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { choiceLabel } from '../src/commands/evaluate-command.js';
import { evaluateSeries, type EvaluationReport, type MethodResult } from '../src/forecast/evaluate.js';
import { availableMethods, parseMethodList, type MethodName } from '../src/forecast/registry.js';
import { loadSeriesFile } from '../src/series/load.js';
import { gitHead, machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

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
  argv: string;
}

function parseArgs(argv: string[]): Args {
  let methods: MethodName[] | undefined;
  let fast = false;
  let traces: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--fast') fast = true;
    else if (a === '--methods') methods = parseMethodList(argv[++i] ?? '');
    else if (a === '--traces') traces = (argv[++i] ?? '').split(',').filter((s) => s !== '');
    else throw new Error(`unknown argument ${a}; use --methods LIST, --fast, --traces LIST`);
  }
  let list = methods ?? availableMethods();
  if (fast) list = list.filter((m) => m !== 'lstm' && m !== 'auto' && m !== 'ensemble');
  return { methods: list, traces, argv: argv.join(' ') };
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

/** The peers' MASE table of the protocol (first markdown table whose header starts with "trace"). */
function readPeers(): PeerTable {
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

function peerRow(peers: PeerTable, key: string): number[] | undefined {
  for (const [name, row] of peers.rows) if (key === name || key.startsWith(`${name}/`)) return row;
  return undefined;
}

interface TraceResult {
  readonly key: string;
  readonly report: EvaluationReport;
  readonly loadSeconds: number;
}

const f3 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(3));

function maseTable(results: TraceResult[], methods: MethodName[], peers: PeerTable): string[] {
  const head = ['trace', 'points', ...methods.map((m) => LABELS[m]), ...peers.methods.map((p) => `peer: ${p}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  let wins = 0;
  let compared = 0;
  for (const r of results) {
    const peer = peerRow(peers, r.key);
    const bestIdx = peer ? peer.indexOf(Math.min(...peer)) : -1;
    const best = peer ? peer[bestIdx] : undefined;
    const cells = methods.map((m) => {
      const res = r.report.methods[m];
      if (!res) return '—';
      const beat = best !== undefined && res.mase <= best;
      const chosen = choiceLabel(res);
      return beat ? `**${f3(res.mase)}** ✓${chosen}` : `${f3(res.mase)}${chosen}`;
    });
    if (best !== undefined) {
      compared++;
      if (methods.some((m) => (r.report.methods[m]?.mase ?? Infinity) <= best)) wins++;
    }
    const peerCells = peers.methods.map((_, i) => (peer ? (i === bestIdx ? `**${peer[i].toFixed(3)}**` : peer[i].toFixed(3)) : '—'));
    lines.push(`| ${r.key} | ${r.report.points} | ${cells.join(' | ')} | ${peerCells.join(' | ')} |`);
  }
  lines.push('', `At least one of our methods at or below the best peer (✓, bold) on ${wins} of ${compared} traces with peer numbers.`);
  return lines;
}

function upperTable(results: TraceResult[], methods: MethodName[]): string[] {
  const head = ['trace', ...methods.map((m) => LABELS[m])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const cell = (m: MethodResult | undefined): string =>
    m ? `${f3(m.ufr)} / ${f3(m.peakRatio)} / ${m.coverageP90 === null ? '—' : f3(m.coverageP90)}` : '—';
  for (const r of results) lines.push(`| ${r.key} | ${methods.map((m) => cell(r.report.methods[m])).join(' | ')} |`);
  return lines;
}

function timeTable(results: TraceResult[], methods: MethodName[]): string[] {
  const head = ['trace', 'load s', ...methods.map((m) => `${LABELS[m]} fit s`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of results) {
    lines.push(`| ${r.key} | ${r.loadSeconds.toFixed(2)} | ${methods.map((m) => r.report.methods[m]?.fitSeconds.toFixed(2) ?? '—').join(' | ')} |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const peers = readPeers();
  let files = findCsvs(tracesDir);
  // Matched on the path below data/traces, so that the checkout's own path cannot match a filter.
  if (args.traces) files = files.filter((f) => args.traces?.some((t) => path.relative(tracesDir, f).includes(t)));
  const results: TraceResult[] = [];
  // Read before the run: commits landing while it runs must not be credited with its numbers.
  const commit = gitHead(root);
  const started = performance.now();
  for (const file of files) {
    const rel = path.relative(tracesDir, file);
    const key = rel.replace(/\.csv$/i, '');
    const valueColumn = VALUE_COLUMNS[rel.split(path.sep)[0]];
    const t0 = performance.now();
    const { series } = loadSeriesFile(file, { valueColumn, unit: 'count-per-interval' });
    const loadSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${key}: ${series.values.length} points at the native step\n`);
    const report = await evaluateSeries(series, {
      methods: args.methods,
      onMethodDone: (m, r) => process.stderr.write(`  ${m}: MASE ${f3(r.mase)} UFR ${f3(r.ufr)} peak ${f3(r.peakRatio)} cov ${r.coverageP90 === null ? '—' : f3(r.coverageP90)} fit ${r.fitSeconds.toFixed(2)} s${r.chosen ? ` chosen ${r.chosen}` : ''}${r.bandExponent !== undefined ? ` band ${r.bandExponent}` : ''}\n`),
    });
    results.push({ key, report, loadSeconds });
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const command = `npm run bench:forecast${args.argv ? ` -- ${args.argv}` : ''}`;
  const body = [
    `Command: \`${command}\` at commit ${commit} (read at the start) — ${new Date().toISOString().slice(0, 16)}Z, total ${totalSeconds.toFixed(0)} s.`,
    `Machine: ${machineLine()}.`,
    '',
    'Protocol v1 (docs/benchmark-protocol.md; `prescale evaluate` runs the same code): resolution max(native, 5 min), horizon 30 min,',
    'train on the first 70 %, rolling origins every 30 min over the last 30 %. Traces: every CSV under data/traces',
    '(value columns: nasa `requests`, twitter `tweets`, NAB `value`, isp `bits`; counts per interval). Peers: the protocol\'s',
    'table (statsmodels, LightGBM; point forecasts).',
    '',
    '**MASE** (lower is better; ✓ = at or below the best peer on that trace; the best peer in bold; — = no peer numbers):',
    '',
    ...maseTable(results, args.methods, peers),
    '',
    '**UFR / peak ratio / coverage p90** (UFR and peak ratio on the p90 of probabilistic methods, the point otherwise;',
    'the issue asks the chosen forecaster for UFR ≤ 0.15, peak ratio ≤ 1.35, coverage 0.85–0.95):',
    '',
    ...upperTable(results, args.methods),
    '',
    '**Seconds** (load = parse the CSV; fit = `fit` on the training part; scoring all origins is not included):',
    '',
    ...timeTable(results, args.methods),
  ].join('\n');
  writeBenchmarkSection('forecast', body, path.join(root, 'BENCHMARKS.md'));
  process.stderr.write(`wrote the forecast section of BENCHMARKS.md (${totalSeconds.toFixed(0)} s)\n`);
}

await main();
