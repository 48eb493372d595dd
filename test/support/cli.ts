import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The repository root, where the CLI runs. */
export const ROOT = path.resolve(import.meta.dirname, '../..');
const tsx = path.join(ROOT, 'node_modules/.bin/tsx');

/** Runs `prescale ARGS` from the sources (tsx) in the repository root, logging silenced; waits for it. */
export function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(tsx, [path.join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PRESCALE_LOG_LEVEL: 'silent' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
