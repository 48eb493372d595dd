import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/cli.js';

/** The example specs of test/fixtures/crd/specs.yaml, invalid ones merged onto `base`. */

export interface SpecCase {
  readonly name: string;
  readonly spec: unknown;
  /** Absent for a spec zod accepts. */
  readonly invalid?: { readonly field: string; readonly apiserver: 'rejects' | 'accepts' };
}

interface File {
  valid: { name: string; spec: unknown }[];
  base: Record<string, unknown>;
  invalid: { name: string; field: string; apiserver: 'rejects' | 'accepts'; set: Record<string, unknown> }[];
}

export const SPECS_FILE = 'test/fixtures/crd/specs.yaml';

/** `over` merged into `base`: objects merge, anything else replaces, null removes the key. */
export function merge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = merge(base[k], v);
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function specCases(): { valid: SpecCase[]; invalid: SpecCase[] } {
  const f = parse(readFileSync(join(ROOT, SPECS_FILE), 'utf8')) as File;
  return {
    valid: f.valid.map((c) => ({ name: c.name, spec: c.spec })),
    invalid: f.invalid.map((c) => ({ name: c.name, spec: merge(f.base, c.set), invalid: { field: c.field, apiserver: c.apiserver } })),
  };
}
