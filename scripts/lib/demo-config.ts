import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Config, TargetConfig } from '../../src/config/schema.js';

/** The bundled demo config, as parsed (paths resolved against config/). */
export function demoConfig(): Readonly<Config> {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/demo.yaml');
  return parseConfig(readFileSync(file, 'utf8'), file);
}

/**
 * The demo config with its one target repeated `n` times (own names, functions and CloneSets), no audit log
 * and no external metrics API: what the cycle and soak benchmarks and the soak test run.
 */
export function demoConfigWith(n: number, o: { patch?: Partial<Config>; forecast?: TargetConfig['forecast'] } = {}): Config {
  const base = demoConfig();
  const t = base.targets[0];
  return {
    ...base,
    audit: {},
    metricsApi: { ...base.metricsApi, enabled: false },
    ...o.patch,
    targets: Array.from({ length: n }, (_, i) => ({
      ...t,
      name: `t${i}`,
      forecast: o.forecast ?? t.forecast,
      actuators: t.actuators.map((a) => (a.kind === 'lambda-provisioned-concurrency' ? { ...a, function: `fn${i}` } : { ...a, name: `cs${i}` })),
    })),
  };
}
