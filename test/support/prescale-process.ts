import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cluster.js';

/**
 * `prescale serve --config FILE` as its own process (the sources, through tsx), as a pod would run it: the
 * end-to-end and failover tests start it, read its HTTP API, and stop it with SIGTERM or kill it with SIGKILL.
 * Its log (JSON lines, level info) goes to a file beside the config.
 */
export class PrescaleProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly log: string,
    readonly httpUrl: string,
  ) {}

  static start(o: { config: string; httpPort: number; log: string }): PrescaleProcess {
    const fd = openSync(o.log, 'a');
    // node itself with tsx as a loader, not the tsx launcher: the launcher runs the program in a child process
    // of its own, which a SIGKILL of the launcher would leave running.
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', o.config], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, PRESCALE_LOG_LEVEL: 'info' },
    });
    closeSync(fd);
    return new PrescaleProcess(child, o.log, `http://127.0.0.1:${o.httpPort}`);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The last lines of its log, for a failure message. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** GET a JSON document of its HTTP API; undefined while it is not listening. */
  async json<T>(path: string): Promise<{ status: number; body: T } | undefined> {
    try {
      const r = await fetch(this.httpUrl + path, { signal: AbortSignal.timeout(5_000) });
      return { status: r.status, body: (await r.json()) as T };
    } catch {
      return undefined;
    }
  }

  /** Waits until `/readyz` answers 200 (a model loaded and a first cycle done). */
  async ready(limitMs = 120_000): Promise<void> {
    const start = Date.now();
    for (;;) {
      if (this.exited) throw new Error(`prescale exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.tail()}`);
      if ((await this.json('/readyz'))?.status === 200) return;
      if (Date.now() - start > limitMs) throw new Error(`prescale not ready after ${limitMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGTERM, as Kubernetes stops a pod: prescale stops its schedulers, finishes the cycle and releases the lease. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 30_000);
  }

  /** SIGKILL: no chance to release anything, as when a node dies. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  private async signal(sig: NodeJS.Signals, limitMs: number): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill(sig);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, limitMs)))]);
    clearTimeout(timer);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}
