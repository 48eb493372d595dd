/**
 * `npm run bench:metrics-api`: throughput and latency of the external metrics endpoint over TLS on loopback
 * with a client certificate, the way kube-apiserver calls it (keep-alive connections). The server runs in a
 * child process so client and server do not share one event loop. Writes the `metrics-api` section of
 * BENCHMARKS.md. Options: --requests N per run (default 20000), --concurrency C (default: runs at 1, 4 and 8
 * connections), --max-seconds S per run (60).
 */
import https from 'node:https';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StateStore } from '../src/service/state.js';
import { systemClock } from '../src/util/clock.js';
import { startExternalMetricsServer } from '../src/metrics-api/server.js';
import { generateDevCerts, CERT_FILES } from '../src/certs.js';
import { machineLine, writeBenchmarkSection } from './lib/benchmarks-md.js';

const TARGETS = 20;
const PATH = `/apis/external.metrics.k8s.io/v1beta1/namespaces/default/prescale-qps?labelSelector=${encodeURIComponent('target=t7')}`;

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got ${process.argv[i + 1]}`);
  return v;
}

/** Child mode: serve a store of TARGETS targets with fresh forecasts and print the port. */
async function serve(dir: string): Promise<void> {
  const store = new StateStore();
  const refresh = (): void => {
    const now = Date.now();
    for (let i = 0; i < TARGETS; i++) {
      store.put({
        name: `t${i}`,
        updatedAtMs: now,
        forecastAtMs: now,
        observedQps: 100 + i,
        history: { startMs: now - 600_000, stepMs: 60_000, values: new Float64Array(10) },
        pastForecasts: [],
        actuators: [{ id: `cloneset:default/c${i}`, kind: 'cloneset', namespace: 'default', name: `c${i}`, qpsPerReplica: 50, plannedQps: 1000.25 + i, plannedCapacity: 21 + i, schedule: [] }],
        fallback: { active: false },
        actions: [],
      });
    }
  };
  refresh();
  // Replaced every few seconds, as the service does each cycle, so the bench never reads a stale forecast.
  setInterval(refresh, 5_000).unref();
  const s = await startExternalMetricsServer({
    store,
    port: 0,
    host: '127.0.0.1',
    tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') },
    auth: { clientCaFile: join(dir, 'ca.crt'), allowedNames: ['front-proxy-client'] },
    staleAfterSeconds: 180,
    stale: 'observed',
    clock: systemClock,
    reloadSeconds: 0,
  });
  process.stdout.write(`PORT ${s.port}\n`);
  process.on('SIGTERM', () => {
    void s.close().then(() => process.exit(0));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Row {
  concurrency: number;
  count: number;
  seconds: number;
  load: number;
  p50: number;
  p99: number;
  max: number;
}

/** One measured run at a given number of keep-alive connections. */
async function measure(o: { port: number; certs: { ca: string; cert: string; key: string }; concurrency: number; requests: number; maxSeconds: number }): Promise<Row> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: o.concurrency, ...o.certs });
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = https.get({ host: '127.0.0.1', port: o.port, path: PATH, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { items: { value: string }[] };
          if (body.items.length !== 1 || body.items[0].value !== '1007250m') return reject(new Error(`unexpected body ${JSON.stringify(body)}`));
          resolve(Number(process.hrtime.bigint() - t0) / 1e6);
        });
      });
      req.on('error', reject);
    });
  // Warm-up: TLS handshakes for every connection, JIT.
  await Promise.all(Array.from({ length: o.concurrency * 50 }, one));
  const load = loadavg()[0];
  const latencies: number[] = [];
  const deadline = Date.now() + o.maxSeconds * 1000;
  let issued = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (issued < o.requests && Date.now() < deadline) {
      issued++;
      latencies.push(await one());
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { concurrency: o.concurrency, count: latencies.length, seconds, load, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] };
}

async function main(): Promise<void> {
  const childDir = process.argv[process.argv.indexOf('--serve') + 1];
  if (process.argv.includes('--serve')) return serve(childDir);

  const requests = flag('requests', 20_000);
  const maxSeconds = flag('max-seconds', 60);
  const levels = process.argv.includes('--concurrency') ? [flag('concurrency', 8)] : [1, 4, 8];
  const dir = mkdtempSync(join(tmpdir(), 'prescale-bench-metrics-'));
  const g = generateDevCerts();
  for (const f of CERT_FILES) writeFileSync(join(dir, f), g.files[f], { mode: 0o600 });

  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (l) => {
      const m = /^PORT (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const rows: Row[] = [];
  try {
    for (const concurrency of levels) {
      rows.push(await measure({ port, certs: { ca: g.files['ca.crt'], cert: g.files['client.crt'], key: g.files['client.key'] }, concurrency, requests, maxSeconds }));
    }
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }

  const cmd = `npm run bench:metrics-api -- --requests ${requests}${process.argv.includes('--concurrency') ? ` --concurrency ${levels[0]}` : ''}`;
  const line = (r: Row): string => {
    const rps = r.count / r.seconds;
    const pass = rps >= 2000 && r.p99 <= 10;
    return `| ${r.concurrency} | ${r.count} | ${r.seconds.toFixed(2)} | ${rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} | ${r.load.toFixed(1)} | ${pass ? 'met' : 'NOT met'} |`;
  };
  const md = `Command: \`${cmd}\` (${new Date().toISOString().slice(0, 16)}Z)
Machine: ${machineLine()}, shared with other jobs: the load column is the 1-minute load average when
each run started; above ${cpus().length} (the core count) other processes compete for the CPUs and the tail latency shows it.

\`GET ${PATH.split('?')[0]}?labelSelector=target%3Dt7\` over TLS 1.3 on 127.0.0.1 with a front-proxy client
certificate, keep-alive connections, ${TARGETS} targets in the store, server in its own process; every response
checked (one item, value \`1007250m\`). Goal: ≥ 2,000 requests/s with p99 ≤ 10 ms.

| connections | requests | seconds | requests/s | p50 ms | p99 ms | max ms | load | goal |
|---:|---:|---:|---:|---:|---:|---:|---:|---|
${rows.map(line).join('\n')}`;
  writeBenchmarkSection('metrics-api', md);
  process.stdout.write(`${md}\n`);
}

await main();
