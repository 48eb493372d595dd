import https from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActuatorSnapshot, TargetSnapshot } from '../../src/service/state.js';
import { generateDevCerts, issueClientCert, CERT_FILES } from '../../src/certs.js';

export const T0 = Date.parse('2026-11-27T10:00:00Z');

export function cloneset(namespace: string, name: string, over: Partial<ActuatorSnapshot> = {}): ActuatorSnapshot {
  return { id: `cloneset:${namespace}/${name}`, kind: 'cloneset', namespace, name, qpsPerReplica: 100, plannedQps: 0, plannedCapacity: 0, schedule: [], ...over };
}

export function lambda(over: Partial<ActuatorSnapshot> = {}): ActuatorSnapshot {
  return { id: 'lambda:fn:live', kind: 'lambda-provisioned-concurrency', plannedQps: 500, plannedCapacity: 40, schedule: [], ...over };
}

export function target(name: string, actuators: ActuatorSnapshot[], over: Partial<TargetSnapshot> = {}): TargetSnapshot {
  return {
    name,
    updatedAtMs: T0,
    forecastAtMs: T0,
    observedQps: 250,
    history: { startMs: T0 - 600_000, stepMs: 60_000, values: new Float64Array(10).fill(250) },
    pastForecasts: [],
    actuators,
    fallback: { active: false },
    actions: [],
    ...over,
  };
}

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  client: { cert: string; key: string };
  wrongCn: { cert: string; key: string };
  rogue: { cert: string; key: string };
  paths: Record<string, string>;
}

/** A CA with server and front-proxy client certificates, a client with a CN not allowed, and one from another CA. */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'prescale-h6-'));
  const g = generateDevCerts({ service: 'prescale', namespace: 'prescale' });
  const paths: Record<string, string> = {};
  for (const f of CERT_FILES) {
    paths[f] = join(dir, f);
    writeFileSync(paths[f], g.files[f], { mode: 0o600 });
  }
  const wrongCn = issueClientCert({ caCertPem: g.files['ca.crt'], caKeyPem: g.files['ca.key'], cn: 'intruder' });
  const other = generateDevCerts();
  const rogue = { cert: other.files['client.crt'], key: other.files['client.key'] };
  for (const [n, v] of Object.entries({ 'wrong.crt': wrongCn.cert, 'wrong.key': wrongCn.key, 'rogue.crt': rogue.cert, 'rogue.key': rogue.key })) {
    paths[n] = join(dir, n);
    writeFileSync(paths[n], v, { mode: 0o600 });
  }
  return {
    dir,
    ca: g.files['ca.crt'],
    serverCert: g.files['server.crt'],
    serverKey: g.files['server.key'],
    client: { cert: g.files['client.crt'], key: g.files['client.key'] },
    wrongCn,
    rogue,
    paths,
  };
}

export interface Got {
  status: number;
  body: unknown;
  text: string;
}

/** One HTTPS GET to 127.0.0.1, verifying the server against `ca`, optionally with a client certificate. */
export function get(o: { port: number; path: string; ca: string; client?: { cert: string; key: string }; headers?: Record<string, string | string[]>; method?: string }): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', ca: o.ca, cert: o.client?.cert, key: o.client?.key, headers: o.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = undefined;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
