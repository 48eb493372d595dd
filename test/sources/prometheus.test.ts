import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { PROMETHEUS_MAX_POINTS, PrometheusSource } from '../../src/sources/prometheus.js';

/**
 * Against a REAL Prometheus (Debian's package; .ci/run installs it): history is backfilled with promtool,
 * Prometheus is started on a free loopback port with a temporary TSDB, and PrometheusSource reads it back.
 */

const run = promisify(execFile);
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const MIN = 60_000;

// Data: a counter sampled every minute over 36 h ending an hour ago (inside the default 15-day retention).
// Rate 5/s in the first half, 20/s in the second, and no samples for one hour in the first half.
const END = Math.floor(Date.now() / MIN) * MIN - 60 * MIN;
const START = END - 36 * 60 * MIN;
const MID = START + 18 * 60 * MIN;
const GAP_FROM = START + 6 * 60 * MIN;
const GAP_TO = GAP_FROM + 60 * MIN;

let dir: string;
let prom: ChildProcess | undefined;
let url: string;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function openMetrics(): string {
  const lines = ['# HELP prescale_test_requests_total Requests served.', '# TYPE prescale_test_requests_total counter'];
  let a = 0;
  for (let t = START; t <= END; t += MIN) {
    const rate = t <= MID ? 5 : 20;
    if (t > START) a += rate * 60;
    if (t > GAP_FROM && t < GAP_TO) continue;
    lines.push(`prescale_test_requests_total{path="/a"} ${a} ${t / 1000}`);
    lines.push(`prescale_test_requests_total{path="/b"} ${2 * a} ${t / 1000}`);
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

beforeAll(async () => {
  for (const bin of [PROMETHEUS, PROMTOOL]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install Debian's prometheus package (apt-get install prometheus; .ci/run does it)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'prescale-prom-'));
  writeFileSync(join(dir, 'data.om'), openMetrics());
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  await run(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', '-q', join(dir, 'data.om'), join(dir, 'tsdb')]);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  prom = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  prom.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (prom.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`prometheus did not become ready: ${stderr.slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom?.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SUM = 'sum(rate(prescale_test_requests_total[5m]))';

describe('PrometheusSource against a real Prometheus', () => {
  it('reads step-aligned rates with the exact values, and gaps as NaN', async () => {
    const src = new PrometheusSource({ url, query: SUM, stepSeconds: 60 });
    const s = await src.history(START + 30 * MIN, END - 30 * MIN);
    expect(s.stepMs).toBe(MIN);
    expect(s.startMs).toBe(START + 30 * MIN);
    expect(s.values.length).toBe(35 * 60);
    const at = (t: number) => s.values[(t - s.startMs) / MIN];
    // /a at r plus /b at 2r.
    expect(at(START + 60 * MIN)).toBeCloseTo(15, 9);
    expect(at(END - 60 * MIN)).toBeCloseTo(60, 9);
    // 5-minute lookback: no value once the last sample before the gap is more than 5 min old.
    expect(at(GAP_FROM + 30 * MIN)).toBeNaN();
    expect(at(GAP_TO + 10 * MIN)).toBeCloseTo(15, 9);
    const gaps = Array.from(s.values).filter(Number.isNaN).length;
    expect(gaps).toBeGreaterThan(40);
    expect(gaps).toBeLessThan(70);
  });

  it('splits a range over 11,000 points into several requests with the same result as small chunks', async () => {
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(String(input));
      return fetch(input, init);
    };
    // 10 s steps over 34 h = 12,240 points: more than Prometheus answers in one request.
    const from = START + 60 * MIN;
    const to = END - 60 * MIN;
    const big = await new PrometheusSource({ url, query: SUM, stepSeconds: 10, fetch: counting }).history(from, to);
    expect(big.values.length).toBe(12_240);
    expect(calls).toHaveLength(2);
    const small = await new PrometheusSource({ url, query: SUM, stepSeconds: 10, maxPointsPerRequest: 1_000 }).history(from, to);
    expect(Array.from(small.values)).toEqual(Array.from(big.values));
    expect(big.values[0]).toBeCloseTo(15, 9);
    expect(big.values[big.values.length - 1]).toBeCloseTo(60, 9);
  });

  it('the chunk size is inside the real limit: Prometheus refuses a range of more than 11,000 steps', async () => {
    const q = (n: number) =>
      fetch(`${url}/api/v1/query_range?${new URLSearchParams({ query: SUM, start: String(START / 1000), end: String(START / 1000 + (n - 1)), step: '1s' })}`).then(
        (r) => r.json() as Promise<{ status: string; error?: string }>,
      );
    // Prometheus checks (end - start) / step > 11000: 11,001 points (11,000 steps) pass, one more fails.
    expect((await q(PROMETHEUS_MAX_POINTS)).status).toBe('success');
    expect((await q(PROMETHEUS_MAX_POINTS + 1)).status).toBe('success');
    const over = await q(PROMETHEUS_MAX_POINTS + 2);
    expect(over.status).toBe('error');
    expect(over.error).toContain('11,000');
  });

  it('names the query and carries the Prometheus error for bad PromQL', async () => {
    const src = new PrometheusSource({ url, query: 'sum(rate(prescale_test_requests_total[5m])', stepSeconds: 60 });
    await expect(src.history(START, START + 10 * MIN)).rejects.toThrow(/prometheus "sum\(rate\(prescale_test_requests_total\[5m\]\)": Prometheus error \(HTTP 400\) bad_data: .*parse error/);
  });

  it('refuses a query giving several series, saying to aggregate it', async () => {
    const src = new PrometheusSource({ url, query: 'rate(prescale_test_requests_total[5m])', stepSeconds: 60 });
    await expect(src.history(START + 60 * MIN, START + 70 * MIN)).rejects.toThrow(/returned 2 series .*sum\(\.\.\.\)/);
  });

  it('gives all gaps for a query with no data', async () => {
    const src = new PrometheusSource({ url, query: 'sum(rate(no_such_metric_total[5m]))', stepSeconds: 60 });
    const s = await src.history(START, START + 10 * MIN);
    expect(s.values.length).toBe(10);
    expect(Array.from(s.values).every(Number.isNaN)).toBe(true);
  });
});

describe('PrometheusSource faults (no Prometheus needed)', () => {
  let hang: Server;
  let hangUrl: string;
  beforeAll(async () => {
    // Accepts connections and never answers: a hung Prometheus.
    hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    hang.closeAllConnections();
    await new Promise<void>((r) => hang.close(() => r()));
  });

  it('times out with an error naming the query', async () => {
    const src = new PrometheusSource({ url: hangUrl, query: 'up', stepSeconds: 60, timeoutMs: 300 });
    await expect(src.history(START, START + 10 * MIN)).rejects.toThrow(/prometheus "up": query_range .* timed out after 300 ms/);
  });

  it('reports a body that is not JSON (a proxy error page)', async () => {
    const fake: typeof fetch = async () => new Response('<html>502 Bad Gateway</html>', { status: 502 });
    const src = new PrometheusSource({ url: 'http://prom.invalid', query: 'up', stepSeconds: 60, fetch: fake });
    await expect(src.history(START, START + 10 * MIN)).rejects.toThrow(/HTTP 502 with a body that is not a JSON object: <html>502/);
  });

  it.each([
    [{ stepSeconds: 0 }, /stepSeconds must be a positive whole number, 0 given/],
    [{ stepSeconds: 1.5 }, /stepSeconds must be a positive whole number, 1.5 given/],
    [{ url: 'not a url' }, /url "not a url" is not a URL/],
    [{ url: 'ftp://x' }, /url must be http or https/],
  ])('rejects bad options %j', (o, msg) => {
    expect(() => new PrometheusSource({ url: 'http://p:9090', query: 'up', stepSeconds: 60, ...o })).toThrow(msg);
  });

  it('turns NaN, Inf and negative samples into gaps', async () => {
    const t0 = START / 1000;
    const fake: typeof fetch = async () =>
      new Response(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[t0, '1.5'], [t0 + 60, 'NaN'], [t0 + 120, '+Inf'], [t0 + 180, '-2']] }] } }));
    const s = await new PrometheusSource({ url: 'http://p', query: 'x', stepSeconds: 60, fetch: fake }).history(START, START + 5 * MIN);
    expect(Array.from(s.values)).toEqual([1.5, NaN, NaN, NaN, NaN]);
  });
});

describe('PrometheusSource answers to anything (property-based)', () => {
  const t0 = START / 1000;
  const sample = fc.tuple(fc.integer({ min: -5, max: 15 }).map((k) => t0 + k * 60), fc.oneof(fc.double().map(String), fc.constantFrom('NaN', '+Inf', '-Inf', 'x', '')));
  const body = fc.oneof(
    fc.string(),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.array(sample, { maxLength: 30 }).map((values) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } })),
    fc.record({ status: fc.constant('error'), errorType: fc.string(), error: fc.string() }).map((v) => JSON.stringify(v)),
    fc.jsonValue().map((result) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } })),
    fc.array(fc.jsonValue(), { maxLength: 5 }).map((values) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ values }] } })),
  );
  it('either gives a series of gaps and non-negative finite rates, or an Error naming the query', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.integer({ min: 200, max: 599 }), async (text, status) => {
        const fake: typeof fetch = async () => new Response(text, { status });
        const src = new PrometheusSource({ url: 'http://p', query: 'q', stepSeconds: 60, fetch: fake });
        try {
          const s = await src.history(START, START + 10 * MIN);
          expect(s.values.length).toBe(10);
          for (const v of s.values) expect(Number.isNaN(v) || (Number.isFinite(v) && v >= 0)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message.startsWith('prometheus "q": ')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
