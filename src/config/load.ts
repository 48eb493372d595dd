import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError, errorMessage } from '../util/errors.js';
import { configSchema, type Config } from './schema.js';

/** `targets[0].actuators[1].min` from a zod path. */
export function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

/** One line per problem: the key, the rule broken and (where it helps) the value given. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const lines = issues.map((i) => {
    const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => formatPath([...i.path, k])) : [formatPath(i.path)];
    const given = i.code === 'unrecognized_keys' ? '' : describeValue(valueAt(input, i.path));
    const rule = i.code === 'unrecognized_keys' ? 'unknown key (not part of the schema; check the spelling)' : i.message;
    return keys.map((k) => `  ${k || '(top level)'}: ${rule}${given}`).join('\n');
  });
  return `${file}: invalid configuration\n${lines.join('\n')}`;
}

function valueAt(input: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s === undefined ? '' : `, got ${s.length > 60 ? s.slice(0, 57) + '...' : s}`;
}

/**
 * Parses and validates a config. Relative paths inside it (csv history, modelPath, eventsFile, modelsDir, certs,
 * audit file) are resolved against the config file's directory. The result is frozen.
 */
export function parseConfig(text: string, file: string): Readonly<Config> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new InputError(`${file}: not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  let input: unknown;
  try {
    input = doc.toJS();
  } catch (err: unknown) {
    // Parses, yet cannot become data: an alias to an anchor defined later, an alias loop (`*a` before `&a`).
    throw new InputError(`${file}: not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  const result = configSchema.safeParse(input);
  if (!result.success) throw new InputError(formatIssues(file, result.error.issues, input));
  return deepFreeze(resolvePaths(result.data, path.dirname(path.resolve(file))));
}

export function loadConfig(file: string): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`cannot read config ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return parseConfig(text, file);
}

function resolvePaths(c: Config, dir: string): Config {
  const r = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(dir, p));
  return {
    ...c,
    modelsDir: path.resolve(dir, c.modelsDir),
    audit: { ...c.audit, file: r(c.audit.file) },
    admin: { ...c.admin, tokenFile: r(c.admin.tokenFile) },
    keda: { ...c.keda, tokenFile: r(c.keda.tokenFile) },
    metricsApi: {
      ...c.metricsApi,
      certFile: r(c.metricsApi.certFile),
      keyFile: r(c.metricsApi.keyFile),
      clientCaFile: r(c.metricsApi.clientCaFile),
      devCertsDir: r(c.metricsApi.devCertsDir),
    },
    kubernetes: { ...c.kubernetes, kubeconfig: r(c.kubernetes.kubeconfig) },
    targets: c.targets.map((t) => ({
      ...t,
      history: t.history.source === 'csv' ? { ...t.history, path: path.resolve(dir, t.history.path) } : t.history,
      forecast: { ...t.forecast, modelPath: r(t.forecast.modelPath) },
      eventsFile: r(t.eventsFile),
    })),
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
