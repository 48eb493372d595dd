// Jest global setup and teardown (plain ESM: jest loads these without its TypeScript transform). One real
// Kubernetes control plane serves the whole run; test/support/cluster-daemon.ts runs it in a child process,
// and suites find its ClusterInfo in the file named by PRESCALE_TEST_CLUSTER (test/support/test-cluster.ts).
// PRESCALE_TEST_CLUSTER=off skips it: a suite that needs a control plane then starts its own.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const ENV = 'PRESCALE_TEST_CLUSTER';
let daemon;
let dir;

export async function setup() {
  if (process.env[ENV] === 'off') return;
  dir = mkdtempSync(join(tmpdir(), 'prescale-cluster-run-'));
  const file = join(dir, 'cluster.json');
  process.stderr.write('\ntest control plane: starting etcd, kube-apiserver and kube-controller-manager on loopback…\n');
  // node with tsx as a loader (not the tsx launcher, whose own child would outlive a killed jest): the daemon
  // watches its parent, this process, and stops the control plane when it is gone.
  daemon = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/cluster-daemon.ts'), file], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 180_000;
  while (!existsSync(file)) {
    if (existsSync(`${file}.error`)) throw new Error(`the test control plane did not start: ${readFileSync(`${file}.error`, 'utf8')}`);
    if (daemon.exitCode !== null) throw new Error(`the test control plane's process exited (${daemon.exitCode})`);
    if (Date.now() > deadline) throw new Error('the test control plane did not start within 180 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const info = JSON.parse(readFileSync(file, 'utf8'));
  process.env[ENV] = file;
  const v = info.versions;
  process.stderr.write(
    `test control plane: etcd ${v.etcd}, kube-apiserver ${v.kubeApiserver}, kube-controller-manager ${v.kubeControllerManager}, kubectl ${v.kubectl} at ${info.server}, ready in ${info.startSeconds.toFixed(1)} s\n`,
  );
}

export async function teardown() {
  if (!daemon) return;
  if (daemon.exitCode === null) {
    let timer;
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}

export default setup;
