/**
 * npm run bench:cluster — what the real test control plane costs: its build from the Go module proxy (cold:
 * empty Go module and build caches; warm: the machine's Go caches, a new binary cache), the time to start
 * etcd + kube-apiserver + kube-controller-manager until ready and the memory they hold, and (with --suite) the
 * wall time of the whole `npm test`. Writes the `cluster` section of BENCHMARKS.md.
 * Usage: tsx scripts/bench-cluster.ts [--build cold|warm|skip] [--starts 5] [--suite] [--no-write]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, stopCluster } from '../test/support/cluster.js';
import { gitHead, machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const build = opt('--build', 'warm');
const starts = Number(opt('--starts', '5'));
const root = path.resolve(import.meta.dirname, '..');

/** Runs the build script with a fresh binary cache (and, cold, fresh Go caches); wall seconds. */
function timeBuild(kind: 'cold' | 'warm'): number {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `prescale-bench-build-${kind}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, PRESCALE_CLUSTER_CACHE: path.join(tmp, 'cluster') };
  if (kind === 'cold') {
    env.GOMODCACHE = path.join(tmp, 'gomod');
    env.GOCACHE = path.join(tmp, 'gocache');
    env.GOFLAGS = `${process.env.GOFLAGS ?? ''} -modcacherw`.trim();
  }
  const t0 = performance.now();
  const r = spawnSync('bash', [path.join(root, 'scripts/cluster/build.sh')], { env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const s = (performance.now() - t0) / 1000;
  rmSync(tmp, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`the ${kind} build failed (exit ${r.status})`);
  return s;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const buildRow = build === 'skip' ? undefined : { kind: build, seconds: timeBuild(build === 'cold' ? 'cold' : 'warm') };
  const startS: number[] = [];
  let rss: number[] = [];
  let versions = '';
  for (let i = 0; i < starts; i++) {
    const info = await startCluster();
    startS.push(info.startSeconds);
    rss = info.pids.map(rssMiB);
    versions = `etcd ${info.versions.etcd}, kube-apiserver ${info.versions.kubeApiserver}, kube-controller-manager ${info.versions.kubeControllerManager}`;
    await stopCluster(info);
  }
  let suite: number | undefined;
  if (args.includes('--suite')) {
    const t0 = performance.now();
    const r = spawnSync('npm', ['test'], { cwd: root, stdio: 'inherit' });
    suite = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`npm test failed (exit ${r.status}): its time is not recorded`);
  }
  const f = (s: number): string => `${s.toFixed(1)} s`;
  const rows = [
    ...(buildRow ? [`| cluster build, ${buildRow.kind} (${buildRow.kind === 'cold' ? 'empty Go module and build caches' : "the machine's Go caches, no binaries"}) | ${f(buildRow.seconds)} |`] : []),
    `| control plane start until ready, median of ${starts} (min–max) | ${f(median(startS))} (${f(Math.min(...startS))}–${f(Math.max(...startS))}) |`,
    `| RSS right after start: etcd, kube-apiserver, kube-controller-manager | ${rss.map((m) => `${m.toFixed(0)} MiB`).join(', ')} |`,
    ...(suite !== undefined ? [`| whole \`npm test\` (build, lint, typecheck, jest), binaries cached | ${f(suite)} |`] : []),
  ];
  const body = `## Test control plane (issue 15)${build === 'cold' ? ', cold build' : ''}

Command: \`npm run bench:cluster -- ${args.join(' ')}\` at ${gitHead(root)} — ${new Date().toISOString().slice(0, 16)}Z.
Machine: ${machineLine()}. ${versions}, built from test/cluster/go.mod.

| measure | value |
|---|---|
${rows.join('\n')}

"Start" is \`startCluster\` in test/support/cluster.ts: certificates, etcd, kube-apiserver until /readyz, the
CloneSet CRD established, kube-controller-manager until /healthz and the HPA controller's service account.
Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}.`;
  process.stdout.write(body + '\n');
  if (!args.includes('--no-write')) writeBenchmarkSection(build === 'cold' ? 'cluster-cold' : 'cluster', body);
}

await main();
