import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditLineOf, MemoryAuditLog, openAuditLog, type AuditLine } from '../../src/obs/audit.js';
import type { Decision } from '../../src/service/service.js';
import { InputError } from '../../src/util/errors.js';

const AT = Date.UTC(2026, 0, 5, 9, 40);

function decision(over: Partial<Decision> = {}): Decision {
  return {
    target: 'checkout',
    actuator: 'lambda:function:checkout:live',
    atMs: AT,
    observedQps: 120,
    forecastWindowMax: { p50: 150, p90: 180, p99: 260 },
    plannedQps: 180,
    plannedCapacity: 36,
    currentCapacity: 20,
    reason: 'forecast',
    fallback: null,
    bounds: { min: 5, max: 200 },
    leadMinutes: 10,
    actions: [
      {
        atMs: AT,
        target: 'checkout',
        actuator: 'lambda:function:checkout:live',
        action: 'put-scheduled-action',
        result: 'ok',
        detail: 'prescale-checkout-0940 at 09:40 min 36',
        data: { min: 36 },
      },
    ],
    ...over,
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('audit log', () => {
  it('turns a decision into one line with its inputs, choice, reason and actions', () => {
    const line = auditLineOf(decision());
    expect(line).toEqual({
      time: '2026-01-05T09:40:00.000Z',
      atMs: AT,
      target: 'checkout',
      actuator: 'lambda:function:checkout:live',
      observedQps: 120,
      forecastWindowMax: { p50: 150, p90: 180, p99: 260 },
      bounds: { min: 5, max: 200 },
      leadMinutes: 10,
      currentCapacity: 20,
      plannedQps: 180,
      plannedCapacity: 36,
      reason: 'forecast',
      fallback: null,
      actions: [{ action: 'put-scheduled-action', result: 'ok', detail: 'prescale-checkout-0940 at 09:40 min 36', data: { min: 36 } }],
    });
  });

  it('writes unknown numbers as null, not NaN', () => {
    const line = auditLineOf(decision({ observedQps: NaN, forecastWindowMax: null, fallback: 'stale history', reason: 'fallback-hold' }));
    expect(line.observedQps).toBeNull();
    expect(line.forecastWindowMax).toBeNull();
    expect(JSON.stringify(line)).not.toContain('NaN');
  });

  it('keeps lines in memory for tests', async () => {
    const log = new MemoryAuditLog();
    log.write(decision());
    log.write(decision({ actuator: 'cloneset:shop/checkout', actions: [] }));
    await log.close();
    expect(log.lines.map((l) => l.actuator)).toEqual(['lambda:function:checkout:live', 'cloneset:shop/checkout']);
  });

  it('appends JSON lines to a file, creating its directories', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescale-audit-'));
    dirs.push(dir);
    const path = join(dir, 'nested', 'deeper', 'audit.jsonl');
    const first = openAuditLog(path);
    first.write(decision());
    await first.close();
    const second = openAuditLog(path);
    second.write(decision({ reason: 'scale-down-delay', plannedCapacity: 30 }));
    second.write(decision({ reason: 'max', plannedCapacity: 200 }));
    await second.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const parsed = lines.map((l) => JSON.parse(l) as AuditLine);
    expect(parsed.map((l) => [l.reason, l.plannedCapacity])).toEqual([
      ['forecast', 36],
      ['scale-down-delay', 30],
      ['max', 200],
    ]);
  });

  it('names the path when its directory cannot be created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescale-audit-'));
    dirs.push(dir);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const path = join(file, 'audit.jsonl');
    expect(() => openAuditLog(path)).toThrow(InputError);
    expect(() => openAuditLog(path)).toThrow(path);
  });

  it('reports a failed write on close instead of crashing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescale-audit-'));
    dirs.push(dir);
    // A directory cannot be opened for appending: the stream errors asynchronously.
    const log = openAuditLog(dir);
    log.write(decision());
    await expect(log.close()).rejects.toThrow(/audit log write failed/);
  });
});
