import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../src/config/load.js';
import { InputError } from '../../src/util/errors.js';

const valid = `
dryRun: true
targets:
  - name: checkout
    history: { source: csv, path: trace.csv, valueColumn: requests }
    actuators:
      - { kind: lambda-provisioned-concurrency, function: checkout, qualifier: live, meanDurationMs: 120, targetUtilization: 0.7, min: 5, max: 500 }
      - { kind: cloneset, namespace: shop, name: inventory, qpsPerReplica: 200, min: 3, max: 100 }
`;

function errorOf(text: string): string {
  try {
    parseConfig(text, 'cfg.yaml');
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('config', () => {
  it('fills defaults, resolves paths against the file and freezes', () => {
    const c = parseConfig(valid, '/etc/prescale/cfg.yaml');
    expect(c.schedule).toEqual({ forecast: '* * * * *', retrain: '0 3 * * *' });
    expect(c.targets[0].forecast).toMatchObject({ horizonMinutes: 30, quantile: 0.9, model: 'auto' });
    expect(c.targets[0].history).toMatchObject({ source: 'csv', path: '/etc/prescale/trace.csv' });
    expect(c.targets[0].actuators[0]).toMatchObject({ leadMinutes: 5 });
    expect(c.targets[0].actuators[1]).toMatchObject({ leadMinutes: 3, mode: 'external-metric' });
    expect(Object.isFrozen(c.targets[0].actuators[0])).toBe(true);
  });

  it("resolves a target's eventsFile against the config file; without one there is none", () => {
    const c = parseConfig(valid.replace('    actuators:', '    eventsFile: calendars/promo.csv\n    actuators:'), '/etc/prescale/cfg.yaml');
    expect(c.targets[0].eventsFile).toBe('/etc/prescale/calendars/promo.csv');
    expect(parseConfig(valid, '/etc/prescale/cfg.yaml').targets[0].eventsFile).toBeUndefined();
  });

  it.each([
    ['an unknown key, by its full path', valid.replace('dryRun: true', 'dryRun: true\nhttp: { prot: 80 }'), 'http.prot: unknown key'],
    ['a bad number with the value', valid.replace('qpsPerReplica: 200', 'qpsPerReplica: -3'), 'targets[0].actuators[1].qpsPerReplica: Too small: expected number to be >0, got -3'],
    ['$LATEST', valid.replace('qualifier: live', 'qualifier: $LATEST'), 'targets[0].actuators[0].qualifier: must be an alias or version, never $LATEST'],
    ['min above max', valid.replace('min: 3, max: 100', 'min: 300, max: 100'), 'targets[0].actuators[1].min: min (300) must not exceed max (100)'],
    ['a bad source', valid.replace('source: csv', 'source: influx'), 'targets[0].history.source'],
    ['no targets', 'dryRun: true\ntargets: []', 'targets: must list at least one target (or enable the PredictiveScaler controller'],
    ['broken YAML', 'targets: [', 'cfg.yaml: not valid YAML'],
    ['an eventsFile that is not a path', valid.replace('    actuators:', '    eventsFile: 3\n    actuators:'), 'targets[0].eventsFile: Invalid input: expected string, received number, got 3'],
    ['an empty event tag', valid.replace('    actuators:', '    events: [{ name: sale, start: "2026-03-20T09:00:00Z", end: "2026-03-20T12:00:00Z", tag: "" }]\n    actuators:'), 'targets[0].events[0].tag: Too small'],
    ['a misspelt events key', valid.replace('    actuators:', '    eventFile: cal.csv\n    actuators:'), 'targets[0].eventFile: unknown key'],
  ])('rejects %s', (_what, text, want) => {
    expect(errorOf(text)).toContain(want);
  });

  it('rejects duplicate target names', () => {
    const twice = valid + valid.split('targets:\n')[1];
    expect(errorOf(twice)).toContain('targets[1].name: duplicate target name "checkout"');
  });
});

describe("README's example config", () => {
  it('parses as it is shown, controller and all', async () => {
    const { readFileSync } = await import('node:fs');
    const md = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = md.slice(md.indexOf('## Configuration')).split('```yaml')[1].split('```')[0];
    const c = parseConfig(block, 'README.md');
    expect(c.controller).toEqual({ enabled: true, namespaces: [], resyncSeconds: 300, allowLocalFiles: false, allowAws: false });
    expect(c.targets[0].actuators.map((a) => a.kind)).toEqual(['lambda-provisioned-concurrency', 'cloneset']);
  });
});
