import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerCertsCommand } from '../../src/commands/certs-command.js';
import { InputError } from '../../src/util/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'prescale-certs-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `prescale certs …` through commander in-process (the full CLI loads every command group: slow). */
async function certs(args: string[]): Promise<string> {
  const program = new Command('prescale').exitOverride();
  registerCertsCommand(program);
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'prescale', 'certs', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

describe('prescale certs', () => {
  const out = path.join(dir, 'certs');
  const serial = (): string => new X509Certificate(readFileSync(path.join(out, 'server.crt'))).serialNumber;

  it('writes the CA, serving and client certificates for the given Service, reuses them, replaces them with --force', async () => {
    expect(await certs(['--out', out, '--service', 'metrics', '--namespace', 'ops'])).toContain(`wrote new certificates (some files are missing) in ${out}`);
    const server = new X509Certificate(readFileSync(path.join(out, 'server.crt')));
    expect(server.checkHost('metrics.ops.svc')).toBe('metrics.ops.svc');
    expect(statSync(path.join(out, 'ca.key')).mode & 0o777).toBe(0o600);
    const first = serial();
    expect(await certs(['--out', out, '--service', 'metrics', '--namespace', 'ops'])).toContain('certificates already present and valid; reused');
    expect(serial()).toBe(first);
    // Another Service name is not covered: new certificates.
    expect(await certs(['--out', out, '--service', 'other', '--namespace', 'ops'])).toContain('wrote new certificates (server.crt does not cover other.ops.svc');
    const second = serial();
    expect(await certs(['--out', out, '--service', 'other', '--namespace', 'ops', '--force'])).toContain('wrote new certificates (--force)');
    expect(serial()).not.toBe(second);
  });

  it.each([
    [['--service', 'Not_A_Label'], /--service must be a DNS label .* got "Not_A_Label"/],
    [['--days', '1'], /--days must be a whole number from 2 to 3650, got "1"/],
  ])('%p → InputError (exit 2) with the rule', async (flags, message) => {
    const p = certs(['--out', path.join(dir, 'bad'), ...flags]);
    await expect(p).rejects.toBeInstanceOf(InputError);
    await expect(p).rejects.toThrow(message);
  });
});
