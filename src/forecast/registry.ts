import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import type { Forecaster } from './forecaster.js';
import { KIND_NAMES, createModel, type KindName } from './kinds.js';
import type { LstmOptions } from './lstm.js';
import { AutoForecaster } from './select.js';

/** Every method the CLI knows, in the order tables list them: `auto`, then every model kind (src/forecast/kinds.ts). */
export type MethodName = 'auto' | KindName;
export const METHOD_NAMES: readonly ['auto', ...KindName[]] = ['auto', ...KIND_NAMES];

/** Options every factory accepts; a method ignores what it does not use. */
export interface ForecasterOptions {
  /** The step the model will see (sets `minTrainLength` before `fit`); default 5 minutes. */
  readonly stepMs?: number;
  /** Seed for methods with randomness. */
  readonly seed?: number;
  /** Horizon in steps the model is judged on (the LSTM's output length); default 30 minutes of steps. */
  readonly horizon?: number;
  /** Method-specific extras (epochs, progress callbacks…). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export type ForecasterFactory = (o: ForecasterOptions) => Forecaster;

/**
 * The registry: one factory per method. Every method but `auto` is a model kind, built by its kind's `create`,
 * which is also how auto builds its candidates: auto's candidate is the method evaluate reports. (select.ts
 * reaches this module through evaluate.ts: the factories touch its exports only when called.)
 */
export const FORECASTERS: Partial<Record<MethodName, ForecasterFactory>> = Object.fromEntries(
  METHOD_NAMES.map((name): [MethodName, ForecasterFactory] => [
    name,
    name === 'auto'
      ? (o) => new AutoForecaster({ stepMs: o.stepMs, horizon: o.horizon, seed: o.seed, lstm: o.extra as LstmOptions | undefined })
      : (o) => createModel(name, { stepMs: o.stepMs ?? 5 * MINUTE_MS, horizon: o.horizon, seed: o.seed, lstm: o.extra as LstmOptions | undefined }),
  ]),
);

export function isMethodName(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}

/** The methods this build can create, in table order. */
export function availableMethods(): MethodName[] {
  return METHOD_NAMES.filter((n) => FORECASTERS[n] !== undefined);
}

/** Parses a comma-separated method list (a CLI flag), naming the flag and the unknown entry on error. */
export function parseMethodList(text: string, flag = '--methods'): MethodName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InputError(`${flag} needs at least one method, "${text}" given`);
  for (const n of names) {
    if (!isMethodName(n)) throw new InputError(`${flag}: unknown method "${n}"; the methods are ${METHOD_NAMES.join(', ')}`);
    if (FORECASTERS[n] === undefined) throw new InputError(`${flag}: method "${n}" is not available in this build; available: ${availableMethods().join(', ')}`);
  }
  return [...new Set(names as MethodName[])];
}

export function createForecaster(name: MethodName, o: ForecasterOptions = {}): Forecaster {
  const factory = FORECASTERS[name];
  if (!factory) throw new InputError(`method "${name}" is not available in this build; available: ${availableMethods().join(', ')}`);
  return factory({ stepMs: o.stepMs ?? 5 * MINUTE_MS, ...o });
}
