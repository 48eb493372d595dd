import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `prescale serve` (the always-on service, not --once) on the simulated demo target, with a KEDA token file
 * and an admin token file, logging at debug: hostile paths and bodies on the JSON API, the KEDA endpoint and
 * the admin API never get a 5xx or take the server down, the admin API needs its token, and neither token
 * ever appears in the logs or the audit log.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const KEDA_TOKEN = 'keda-tok-7f3a9c1e5b2d4f60';
const ADMIN_TOKEN = 'admin-tok-0e9d8c7b6a5f4e3d';

let dir: string;
let base: string;
let child: ChildProcess;
let output = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'prescale-rel-sec-'));
  writeFileSync(path.join(dir, 'keda-token'), `${KEDA_TOKEN}\n`);
  writeFileSync(path.join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = `
dryRun: true
simulated: true
http: { host: 127.0.0.1, port: ${port} }
metricsApi: { enabled: false }
keda: { tokenFile: ${path.join(dir, 'keda-token')} }
admin: { tokenFile: ${path.join(dir, 'admin-token')} }
audit: { file: ${path.join(dir, 'audit.log')} }
modelsDir: ${path.join(dir, 'models')}
targets:
  - name: checkout
    history: { source: csv, path: ${path.join(ROOT, 'data/demo/nasa_requests_per_minute.csv')}, valueColumn: requests, unit: count-per-interval, multiplier: 1000, days: 14, replay: { align: week } }
    forecast: { horizonMinutes: 30, model: auto, modelPath: ${path.join(ROOT, 'models/demo')}, stepMinutes: 5 }
    actuators:
      - { kind: cloneset, namespace: default, name: inventory, qpsPerReplica: 200, leadMinutes: 3, min: 3, max: 200 }
`;
  writeFileSync(path.join(dir, 'config.yaml'), config);
  child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'serve', '--config', path.join(dir, 'config.yaml')], {
    cwd: ROOT,
    env: { ...process.env, PRESCALE_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  // Ready once the model is loaded and a first cycle ran.
  const deadline = Date.now() + 100_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prescale serve exited ${child.exitCode}: ${output.slice(-2000)}`);
    const r = await fetch(`${base}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`prescale serve not ready in time: ${output.slice(-2000)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

const admin = (p: string, body: string, token?: string): Promise<Response> =>
  fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });

describe('prescale serve under hostile requests', () => {
  it.each([
    '..%2F..%2Fetc%2Fpasswd',
    '%00',
    '%E0%A4%A',
    '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    '__proto__',
    'constructor',
    'checkout%0D%0ASet-Cookie:%20x=1',
    'x'.repeat(8000),
  ])('GET /api/targets/<%#: hostile name>: a 4xx JSON answer, never a 5xx, no HTML, no stack trace', async (weird) => {
    const res = await fetch(`${base}/api/targets/${weird}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/); // a name echoed in JSON is not markup
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).not.toMatch(/node_modules|\bat \S+ \(|<pre>/);
  });

  it('the known target still answers after all that, and a hostile query string is ignored', async () => {
    const res = await fetch(`${base}/api/targets/checkout?name[]=a&name[]=b&__proto__[x]=1`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string }).name).toBe('checkout');
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'admin-tok-wrong', 403],
    ['the KEDA token (a different secret)', KEDA_TOKEN, 403],
  ])('admin API refuses %s, even on a target that does not exist', async (_w, token, status) => {
    expect((await admin('/admin/targets/checkout/pause', '{"minutes":5}', token)).status).toBe(status);
    expect((await admin('/admin/targets/__proto__/pin', '{"minutes":5,"minCapacity":1}', token)).status).toBe(status);
  });

  it.each([
    ['an unknown target __proto__', '/admin/targets/__proto__/pause', '{"minutes":5}', 404],
    ['an unknown action __proto__', '/admin/targets/checkout/__proto__', '{"minutes":5}', 404],
    ['a body that is not JSON', '/admin/targets/checkout/pause', '{"minutes":', 400],
    ['minutes as a string', '/admin/targets/checkout/pause', '{"minutes":"5"}', 400],
    ['minutes = 1e400 (Infinity)', '/admin/targets/checkout/pause', '{"minutes":1e400}', 400],
    ['a negative minCapacity', '/admin/targets/checkout/pin', '{"minutes":5,"minCapacity":-1}', 400],
    ['minCapacity smuggled through __proto__', '/admin/targets/checkout/pin', '{"__proto__":{"minCapacity":5},"minutes":5}', 400],
    ['a body over the 4 kB limit', '/admin/targets/checkout/pause', `{"minutes":5,"pad":"${'x'.repeat(5000)}"}`, 413],
  ])('admin API with the token, %s: a 4xx JSON answer', async (_what, p, body, status) => {
    const res = await admin(p, body, ADMIN_TOKEN);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).not.toMatch(/node_modules|\bat \S+ \(|<pre>/);
  });

  it('the KEDA endpoint needs its token and takes no hostile target name', async () => {
    expect((await fetch(`${base}/keda/targets/checkout`)).status).toBe(401);
    expect([401, 403]).toContain((await fetch(`${base}/keda/targets/checkout`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status);
    const ok = await fetch(`${base}/keda/targets/checkout`, { headers: { authorization: `Bearer ${KEDA_TOKEN}` } });
    expect(ok.status).toBe(200);
    const weird = await fetch(`${base}/keda/targets/__proto__`, { headers: { authorization: `Bearer ${KEDA_TOKEN}` } });
    expect(weird.status).toBeGreaterThanOrEqual(400);
    expect(weird.status).toBeLessThan(500);
  });

  it('a real override is logged and audited, yet neither token appears in any log line or the audit log', async () => {
    expect((await admin('/admin/targets/checkout/pin', '{"minutes":5,"minCapacity":7}', ADMIN_TOKEN)).status).toBe(200);
    // Give the process a moment to flush its log line.
    const until = Date.now() + 10_000;
    while (!output.includes('admin override') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('admin override');
    let audit = '';
    try {
      audit = readFileSync(path.join(dir, 'audit.log'), 'utf8');
    } catch {
      audit = '';
    }
    expect(audit).toContain('checkout'); // the audit log was written
    for (const text of [output, audit]) {
      expect(text).not.toContain(KEDA_TOKEN);
      expect(text).not.toContain(ADMIN_TOKEN);
      expect(text).not.toContain('admin-tok-wrong');
      expect(text.toLowerCase()).not.toContain('bearer ');
    }
  });
});
