import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERT_FILES, devCertsProblem, ensureDevCerts, issueClientCert, writeDevCerts } from '../src/certs.js';
import { DAY_MS, ManualClock } from '../src/util/clock.js';
import { InputError } from '../src/util/errors.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'prescale-h6-certs-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('development certificates', () => {
  it('writes a CA, a serving certificate for the Service names and a front-proxy client certificate', async () => {
    const dir = join(tmp(), 'certs');
    const p = await writeDevCerts(dir, { service: 'prescale', namespace: 'ops' });
    for (const f of CERT_FILES) expect(statSync(join(dir, f)).mode & 0o777).toBe(f.endsWith('.key') ? 0o600 : 0o644);
    const ca = new X509Certificate(readFileSync(p.caCert));
    const server = new X509Certificate(readFileSync(p.serverCert));
    const client = new X509Certificate(readFileSync(p.clientCert));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    for (const host of ['prescale.ops.svc', 'prescale.ops.svc.cluster.local', 'localhost']) expect(server.checkHost(host)).toBe(host);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('prescale.other.svc')).toBeUndefined();
    expect(server.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    expect(client.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(client.subject).toBe('CN=front-proxy-client');
    expect(await devCertsProblem(dir, { service: 'prescale', namespace: 'ops' })).toBeUndefined();
  });

  it('reuses valid certificates and replaces incomplete, mismatched or expiring ones', async () => {
    const dir = tmp();
    const first = await ensureDevCerts(dir);
    expect(first).toMatchObject({ created: true, reason: 'some files are missing' });
    const crt = readFileSync(first.serverCert, 'utf8');
    expect(await ensureDevCerts(dir)).toMatchObject({ created: false });
    expect(readFileSync(first.serverCert, 'utf8')).toBe(crt);

    expect(await devCertsProblem(dir, { namespace: 'elsewhere' })).toMatch(/server.crt does not cover prescale.elsewhere.svc/);
    expect(await devCertsProblem(dir, { clock: new ManualClock(Date.now() + 365 * DAY_MS) })).toMatch(/ca.crt expires within a day/);

    writeFileSync(join(dir, 'client.key'), readFileSync(join(dir, 'server.key')));
    const again = await ensureDevCerts(dir);
    expect(again).toMatchObject({ created: true, reason: 'client.key does not match client.crt' });
    expect(readFileSync(first.serverCert, 'utf8')).not.toBe(crt);
  });

  it('issues further client certificates from an existing CA', async () => {
    const dir = tmp();
    const p = await writeDevCerts(dir);
    const c = issueClientCert({ caCertPem: readFileSync(p.caCert, 'utf8'), caKeyPem: readFileSync(p.caKey, 'utf8'), cn: 'aggregator' });
    const x = new X509Certificate(c.cert);
    expect(x.subject).toBe('CN=aggregator');
    expect(x.verify(new X509Certificate(readFileSync(p.caCert)).publicKey)).toBe(true);
    expect(() => issueClientCert({ caCertPem: 'x', caKeyPem: 'y', cn: 'z' })).toThrow(InputError);
  });

  it('rejects a service name that is not a DNS label', async () => {
    await expect(writeDevCerts(tmp(), { service: 'Bad_Name' })).rejects.toThrow(/--service must be a DNS label/);
  });
});
