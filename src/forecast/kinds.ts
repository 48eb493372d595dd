import { gbdtKind } from './boosted.js';
import { ensembleKind } from './ensemble.js';
import type { Forecaster } from './forecaster.js';
import { holtWintersKind } from './holt-winters.js';
import { lstmKind } from './lstm.js';
import type { KindOptions, Kinds, ModelKind } from './model-kind.js';
import { naiveKind } from './naive.js';
import { seasonalNaiveKind, seasonalNaiveWeeklyKind } from './seasonal-naive.js';

/**
 * Every model kind, one line each, in the order tables list them. The registry's methods (these and `auto`),
 * auto's candidates and the kinds meta.json may hold all come from here: a new model is its file (the
 * forecaster and its `ModelKind`) plus one line.
 */
export const MODEL_KINDS = [
  lstmKind,
  holtWintersKind,
  gbdtKind,
  ensembleKind,
  seasonalNaiveKind,
  seasonalNaiveWeeklyKind,
  naiveKind,
] as const satisfies readonly ModelKind[];

export type KindName = (typeof MODEL_KINDS)[number]['name'];
export const KIND_NAMES: readonly KindName[] = MODEL_KINDS.map((k) => k.name);

export function isKindName(name: string): name is KindName {
  return (KIND_NAMES as readonly string[]).includes(name);
}

/** The kind named `name`, if there is one. */
export function kindNamed(name: string): ModelKind | undefined {
  return MODEL_KINDS.find((k) => k.name === name);
}

/** An unfitted model of kind `name`. */
export function createModel(name: KindName, o: KindOptions): Forecaster {
  return (kindNamed(name) as ModelKind).create(o, KINDS);
}

/** The table as kinds see it: the ensemble reaches its members' kinds through it. */
export const KINDS: Kinds = {
  names: KIND_NAMES,
  get: kindNamed,
  create: (name, o) => {
    const kind = kindNamed(name);
    if (!kind) throw new Error(`unknown model kind ${name}`);
    return kind.create(o, KINDS);
  },
};
