import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { writeClusterPki, type ClusterPki } from './cluster-pki.js';
import { ROOT } from './cli.js';
import { freePort } from './moto.js';

/**
 * A real Kubernetes control plane for the tests: etcd, kube-apiserver (RBAC, the aggregator with its
 * front-proxy certificate, an audit log) and kube-controller-manager (the HPA, garbage-collector,
 * serviceaccount, namespace, Deployment and ReplicaSet controllers), built from the Go module pinned in
 * test/cluster/go.mod by scripts/cluster/build.sh and run as processes on loopback ports. No kubelet runs, so no pod ever starts;
 * OpenKruise's kruise-manager is not run either (the Go module proxy does not serve github.com/openkruise/kruise),
 * so tests that need a CloneSet's status to follow its spec say so and call `keepCloneSetStatus`.
 *
 * One control plane is shared by every suite of a jest run (test/support/cluster-global.ts starts it);
 * `useCluster()` attaches to it, or starts one of its own when a file is run without the global setup.
 */

export { ROOT };
export const CLONESET_CRD = join(ROOT, 'test/fixtures/k8s/apps.kruise.io_clonesets.v1.9.0.yaml');

export interface Versions {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubectl: string;
}

/** What a suite needs to reach a running control plane; JSON, so the global setup can hand it to workers. */
export interface ClusterInfo {
  readonly server: string;
  readonly dir: string;
  readonly bin: string;
  readonly pki: ClusterPki;
  readonly adminKubeconfig: string;
  readonly auditLog: string;
  readonly versions: Versions;
  readonly startSeconds: number;
  /** The process that started it, which alone may stop it. */
  readonly ownerPid: number;
  readonly pids: readonly number[];
}

/** Where scripts/cluster/build.sh put the binaries; an error naming the command when they are not built. */
export function clusterBinDir(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts/cluster/build.sh'), '--print'], { encoding: 'utf8' });
  const bin = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !existsSync(join(bin, 'kube-apiserver'))) {
    throw new Error(`the test control plane is not built (${bin || r.stderr.trim()}): run \`npm run cluster:build\` (npm test runs it)`);
  }
  return bin;
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
}

function startProcess(dir: string, name: string, bin: string, args: string[]): Proc {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
  closeSync(fd);
  const p = { name, child, log };
  guard(p);
  return p;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitFor(what: string, procs: readonly Proc[], probe: () => Promise<boolean>, limitMs = 90_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${tail(dead.log)}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() - start > limitMs) throw new Error(`${what} not ready after ${limitMs / 1000} s:\n${procs.map((p) => `--- ${p.name}\n${tail(p.log, 10)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One HTTPS GET with the given CA and optional client certificate; resolves with status and body. */
export function httpsGet(url: string, o: { ca?: string; cert?: string; key?: string; insecure?: boolean; headers?: Record<string, string>; timeoutMs?: number }): Promise<{ status: number; body: string }> {
  const agent = new Agent({
    ca: o.ca ? readFileSync(o.ca) : undefined,
    cert: o.cert ? readFileSync(o.cert) : undefined,
    key: o.key ? readFileSync(o.key) : undefined,
    rejectUnauthorized: !o.insecure,
  });
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { agent, headers: o.headers, timeout: o.timeoutMs ?? 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface KubeconfigUser {
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
}

/** A kubeconfig for `server` with the cluster CA and one user (client certificate or bearer token). */
export function writeKubeconfig(path: string, o: { server: string; ca: string; user: KubeconfigUser; name?: string }): string {
  const u = o.user.token !== undefined ? `    token: ${o.user.token}\n` : `    client-certificate: ${o.user.cert}\n    client-key: ${o.user.key}\n`;
  const name = o.name ?? 'test';
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${o.server}
    certificate-authority: ${o.ca}
users:
- name: ${name}
  user:
${u}contexts:
- name: ${name}
  context: {cluster: ${name}, user: ${name}}
current-context: ${name}
`,
    { mode: 0o600 },
  );
  return path;
}

/** An audit policy that records every request's metadata (user, verb, resource, subresource, response code). */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

function versionOf(bin: string, args: string[], pattern: RegExp): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  const m = pattern.exec(`${r.stdout}\n${r.stderr}`);
  return m ? m[1] : 'unknown';
}

export interface StartOptions {
  /** --horizontal-pod-autoscaler-sync-period, seconds (upstream default 15). */
  readonly hpaSyncSeconds?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization, seconds (upstream default 300). */
  readonly hpaDownscaleStabilizationSeconds?: number;
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports in a fresh directory, installs
 * the CloneSet CRD, and resolves when all three are ready. `stopCluster(info)` tears it down.
 */
export async function startCluster(o: StartOptions = {}): Promise<ClusterInfo> {
  const t0 = performance.now();
  const bin = clusterBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'prescale-cluster-'));
  const pki = writeClusterPki(dir);
  const [etcdClient, etcdPeer, apiPort, kcmPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const procs: Proc[] = [];
  const info = (versions: Versions): ClusterInfo => ({
    server: `https://127.0.0.1:${apiPort}`,
    dir,
    bin,
    pki,
    adminKubeconfig: join(dir, 'admin.kubeconfig'),
    auditLog: join(dir, 'audit.log'),
    versions,
    startSeconds: (performance.now() - t0) / 1000,
    ownerPid: process.pid,
    pids: procs.map((p) => p.child.pid ?? 0),
  });
  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    procs.push(
      startProcess(dir, 'etcd', join(bin, 'etcd'), [
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]),
    );
    await waitFor('etcd', procs, async () => (await fetch(`${etcdUrl}/health`)).ok);

    writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
    const server = `https://127.0.0.1:${apiPort}`;
    procs.push(
      startProcess(dir, 'kube-apiserver', join(bin, 'kube-apiserver'), [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
        `--proxy-client-key-file=${pki.frontProxyClientKey}`,
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        `--audit-log-path=${join(dir, 'audit.log')}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
        '--profiling=false',
      ]),
    );
    await waitFor('kube-apiserver /readyz', procs, async () => (await httpsGet(`${server}/readyz`, { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey })).status === 200, 120_000);
    const admin = writeKubeconfig(join(dir, 'admin.kubeconfig'), { server, ca: pki.caCert, user: { cert: pki.adminCert, key: pki.adminKey } });
    // The controller manager resolves scale targets through discovery: the CRD must be there first.
    kubectlSync(bin, admin, ['apply', '--server-side', '-f', CLONESET_CRD]);
    kubectlSync(bin, admin, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/clonesets.apps.kruise.io']);

    const kcmKubeconfig = writeKubeconfig(join(dir, 'kcm.kubeconfig'), { server, ca: pki.caCert, user: { cert: pki.kcmCert, key: pki.kcmKey } });
    procs.push(
      startProcess(dir, 'kube-controller-manager', join(bin, 'kube-controller-manager'), [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        // The Deployment and ReplicaSet controllers keep a Deployment's status real (replicas, updatedReplicas during
        // a rollout) for the workload actuator's tests; without a kubelet their pods stay Pending, which is enough.
        '--controllers=horizontal-pod-autoscaler-controller,garbage-collector-controller,serviceaccount-controller,namespace-controller,deployment-controller,replicaset-controller',
        '--leader-elect=false',
        // Each controller runs as its own service account (kube-system/horizontal-pod-autoscaler, ...), with
        // the bootstrap RBAC roles a real cluster gives it; tokens come from the TokenRequest API.
        '--use-service-account-credentials=true',
        `--root-ca-file=${pki.caCert}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        `--horizontal-pod-autoscaler-sync-period=${o.hpaSyncSeconds ?? 2}s`,
        `--horizontal-pod-autoscaler-downscale-stabilization=${o.hpaDownscaleStabilizationSeconds ?? 300}s`,
        '--profiling=false',
      ]),
    );
    await waitFor('kube-controller-manager /healthz', procs, async () => (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true })).status === 200);
    // The HPA controller is running once its service account exists (created by the controller manager for it).
    await waitFor('the HPA controller', procs, async () => kubectlStatus(bin, admin, ['get', 'serviceaccount', '-n', 'kube-system', 'horizontal-pod-autoscaler']) === 0);

    const versions: Versions = {
      etcd: versionOf(join(bin, 'etcd'), ['--version'], /etcd Version: (\S+)/),
      kubeApiserver: (JSON.parse((await httpsGet(`${server}/version`, { ca: pki.caCert })).body) as { gitVersion: string }).gitVersion,
      kubeControllerManager: versionOf(join(bin, 'kube-controller-manager'), ['--version'], /Kubernetes (\S+)/),
      kubectl: versionOf(join(bin, 'kubectl'), ['version', '--client'], /Client Version: (\S+)/),
    };
    return info(versions);
  } catch (err) {
    for (const p of procs) p.child.kill('SIGKILL');
    throw err;
  }
}

/**
 * A shell beside each server that kills it when the process that started it dies without stopping it (a
 * crashed or killed jest), so no etcd or apiserver outlives its run.
 */
function guard(p: Proc): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${p.child.pid} 2>/dev/null; do sleep 1; done; kill -9 ${p.child.pid} 2>/dev/null`;
  spawn('bash', ['-c', script], { stdio: 'ignore', detached: true }).unref();
}
/** Stops the processes of a control plane this process started, and removes its directory. */
export async function stopCluster(info: ClusterInfo): Promise<void> {
  if (info.ownerPid !== process.pid) return;
  // Reverse start order: the controller manager, the apiserver, then etcd.
  for (const pid of [...info.pids].reverse()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue;
    }
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  if (process.env.PRESCALE_KEEP_CLUSTER_DIR !== '1') rmSync(info.dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kubectlStatus(bin: string, kubeconfig: string, args: string[]): number | null {
  return spawnSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'ignore'] }).status;
}

function kubectlSync(bin: string, kubeconfig: string, args: string[]): string {
  const r = spawnSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The file the global setup writes the shared control plane's ClusterInfo into; its path is in this variable. */
export const SHARED_CLUSTER_ENV = 'PRESCALE_TEST_CLUSTER';

/** The shared control plane of this jest run, or undefined when the run has none. */
export function sharedCluster(): ClusterInfo | undefined {
  const file = process.env[SHARED_CLUSTER_ENV];
  if (!file || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterInfo;
}
