import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { InputError, errorMessage } from './util/errors.js';
import { DAY_MS, type Clock, systemClock } from './util/clock.js';

/**
 * Development certificates for the external metrics API: a CA, a serving certificate for the in-cluster
 * Service names plus localhost, and a front-proxy client certificate (what kube-apiserver presents to an
 * aggregated API server). Production clusters bring their own request-header CA; see docs/external-metrics.md.
 */

export const CERT_FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'] as const;
export type CertFile = (typeof CERT_FILES)[number];

export interface DevCertPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface CertOptions {
  readonly service?: string;
  readonly namespace?: string;
  /** CN of the front-proxy client certificate; goes into allowed names. */
  readonly clientName?: string;
  readonly validDays?: number;
  readonly clock?: Clock;
}

export const DEFAULT_CLIENT_NAME = 'front-proxy-client';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function pathsIn(dir: string): DevCertPaths {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

/** The DNS names the serving certificate covers: how kube-apiserver and local tools reach the Service. */
export function serverDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service, 'localhost'];
}

function checkLabel(v: string, flag: string): void {
  if (!DNS_LABEL.test(v)) throw new InputError(`${flag} must be a DNS label (lower-case letters, digits and -, at most 63), got ${JSON.stringify(v)}`);
}

/** RSA keys come from node's native generator (fast); forge signs the certificates. */
function newKeyPair(): forge.pki.rsa.KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) };
}

function serial(): string {
  // Positive: the top bit of the first byte cleared.
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly keys: forge.pki.rsa.KeyPair;
}

function issue(o: {
  cn: string;
  keys: forge.pki.rsa.KeyPair;
  issuer?: Issued;
  extensions: object[];
  nowMs: number;
  validDays: number;
}): forge.pki.Certificate {
  const c = forge.pki.createCertificate();
  c.publicKey = o.keys.publicKey;
  c.serialNumber = serial();
  // Backdated a little so a clock a minute behind still accepts a fresh certificate.
  c.validity.notBefore = new Date(o.nowMs - 5 * 60_000);
  c.validity.notAfter = new Date(o.nowMs + o.validDays * DAY_MS);
  const subject = [{ name: 'commonName', value: o.cn }];
  c.setSubject(subject);
  c.setIssuer(o.issuer ? o.issuer.cert.subject.attributes : subject);
  c.setExtensions([...o.extensions, { name: 'subjectKeyIdentifier' }]);
  c.sign(o.issuer ? o.issuer.keys.privateKey : o.keys.privateKey, forge.md.sha256.create());
  return c;
}

export interface GeneratedCerts {
  readonly files: Readonly<Record<CertFile, string>>;
}

/** Generates the six PEM files in memory. */
export function generateDevCerts(o: CertOptions = {}): GeneratedCerts {
  const service = o.service ?? 'prescale';
  const namespace = o.namespace ?? 'prescale';
  checkLabel(service, '--service');
  checkLabel(namespace, '--namespace');
  const nowMs = (o.clock ?? systemClock).now();
  const validDays = o.validDays ?? 365;
  const caKeys = newKeyPair();
  const ca: Issued = {
    keys: caKeys,
    cert: issue({
      cn: 'prescale-dev-ca',
      keys: caKeys,
      nowMs,
      validDays,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    }),
  };
  const serverKeys = newKeyPair();
  const server = issue({
    cn: `${service}.${namespace}.svc`,
    keys: serverKeys,
    issuer: ca,
    nowMs,
    validDays,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...serverDnsNames(service, namespace).map((value) => ({ type: 2, value })), { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const clientKeys = newKeyPair();
  const client = issue({
    cn: o.clientName ?? DEFAULT_CLIENT_NAME,
    keys: clientKeys,
    issuer: ca,
    nowMs,
    validDays,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  const pem = forge.pki.certificateToPem;
  const keyPem = (k: forge.pki.rsa.KeyPair): string => forge.pki.privateKeyToPem(k.privateKey);
  return {
    files: {
      'ca.crt': pem(ca.cert),
      'ca.key': keyPem(caKeys),
      'server.crt': pem(server),
      'server.key': keyPem(serverKeys),
      'client.crt': pem(client),
      'client.key': keyPem(clientKeys),
    },
  };
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** Generates and writes the six files into `dir` (created 0700); keys are 0600, certificates 0644. */
export async function writeDevCerts(dir: string, o: CertOptions = {}): Promise<DevCertPaths> {
  const g = generateDevCerts(o);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err: unknown) {
    throw new InputError(`--out ${dir}: cannot create the directory (${errorMessage(err)})`, { cause: err });
  }
  for (const f of CERT_FILES) await writeAtomic(join(dir, f), g.files[f], f.endsWith('.key') ? 0o600 : 0o644);
  return pathsIn(dir);
}

/**
 * Why the certificates in `dir` cannot be reused, or undefined when they can: all six present, each key
 * matching its certificate, both leaves signed by the CA, valid for at least another day, and the serving
 * certificate covering the wanted service names.
 */
export async function devCertsProblem(dir: string, o: CertOptions = {}): Promise<string | undefined> {
  const p = pathsIn(dir);
  const read = async (f: string): Promise<string | undefined> => readFile(f, 'utf8').catch(() => undefined);
  const texts = await Promise.all([p.caCert, p.caKey, p.serverCert, p.serverKey, p.clientCert, p.clientKey].map(read));
  if (texts.some((t) => t === undefined)) return 'some files are missing';
  const [caC, caK, sC, sK, cC, cK] = texts as string[];
  try {
    const nowMs = (o.clock ?? systemClock).now();
    const ca = new X509Certificate(caC);
    const server = new X509Certificate(sC);
    const client = new X509Certificate(cC);
    const pairs: [X509Certificate, string, string][] = [
      [ca, caK, 'ca'],
      [server, sK, 'server'],
      [client, cK, 'client'],
    ];
    for (const [cert, key, what] of pairs) {
      const problem = pairProblem({ cert, key, what, ca, nowMs });
      if (problem) return problem;
    }
    return namesProblem(server, client, o);
  } catch (err: unknown) {
    return `unreadable: ${errorMessage(err)}`;
  }
}

function pairProblem(o: { cert: X509Certificate; key: string; what: string; ca: X509Certificate; nowMs: number }): string | undefined {
  const { cert, what } = o;
  if (!cert.checkPrivateKey(createPrivateKey(o.key))) return `${what}.key does not match ${what}.crt`;
  if (Date.parse(cert.validTo) < o.nowMs + DAY_MS) return `${what}.crt expires within a day (${cert.validTo})`;
  if (Date.parse(cert.validFrom) > o.nowMs) return `${what}.crt is not valid yet (${cert.validFrom})`;
  if (what !== 'ca' && !cert.verify(o.ca.publicKey)) return `${what}.crt is not signed by ca.crt`;
  return undefined;
}

function namesProblem(server: X509Certificate, client: X509Certificate, o: CertOptions): string | undefined {
  const want = serverDnsNames(o.service ?? 'prescale', o.namespace ?? 'prescale');
  const missing = want.filter((n) => server.checkHost(n, { wildcards: false, subject: 'never' }) === undefined);
  if (missing.length > 0) return `server.crt does not cover ${missing.join(', ')}`;
  if (server.checkIP('127.0.0.1') === undefined) return 'server.crt does not cover 127.0.0.1';
  const wantCn = o.clientName ?? DEFAULT_CLIENT_NAME;
  if (!client.subject.split('\n').includes(`CN=${wantCn}`)) return `client.crt CN is not ${wantCn}`;
  return undefined;
}

/** Reuses the development certificates in `dir` when they are whole and valid, else writes new ones. */
export async function ensureDevCerts(dir: string, o: CertOptions = {}): Promise<DevCertPaths & { readonly created: boolean; readonly reason?: string }> {
  const problem = await devCertsProblem(dir, o);
  if (problem === undefined) return { ...pathsIn(dir), created: false };
  return { ...(await writeDevCerts(dir, o)), created: true, reason: problem };
}

/**
 * Another client certificate signed by an existing CA (PEM), e.g. for a second front-proxy name or a test
 * of a name that is not allowed.
 */
export function issueClientCert(o: { caCertPem: string; caKeyPem: string; cn: string; validDays?: number; clock?: Clock }): { cert: string; key: string } {
  let issuer: Issued;
  try {
    const priv = forge.pki.privateKeyFromPem(o.caKeyPem) as forge.pki.rsa.PrivateKey;
    issuer = { cert: forge.pki.certificateFromPem(o.caCertPem), keys: { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) } };
  } catch (err: unknown) {
    throw new InputError(`the CA certificate or key is not a PEM RSA pair (${errorMessage(err)})`, { cause: err });
  }
  const keys = newKeyPair();
  const cert = issue({
    cn: o.cn,
    keys,
    issuer,
    nowMs: (o.clock ?? systemClock).now(),
    validDays: o.validDays ?? 365,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}
