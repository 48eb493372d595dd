import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The machine a benchmark ran on, as one line for BENCHMARKS.md. */
export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const gib = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${os.cpus().length} cores (${cpu}), ${gib} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The load averages over 1, 5 and 15 minutes, as `uptime` prints them (e.g. "2.01, 4.02, 3.93"). */
export function loadAverages(): string {
  return os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');
}

/** The checked-out commit, with `+changes` when tracked files differ from it ('unknown' outside git). */
export function gitHead(cwd = process.cwd()): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Replaces the section between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in BENCHMARKS.md
 * (appending it when missing), so each benchmark script owns its own section and reruns are idempotent.
 */
export function writeBenchmarkSection(name: string, body: string, file = path.resolve('BENCHMARKS.md')): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const block = `${start}\n${body.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
