import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Series } from '../series/series.js';
import { InputError } from '../util/errors.js';
import { assertFitted, disposeForecaster, sanitizeForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import type { KindName } from './kinds.js';
import { isRecord, ownKind, type Kinds, type ModelKind } from './model-kind.js';

/** The members of the `ensemble` kind, in order: one of each family (neural, exponential smoothing, trees). */
export const ENSEMBLE_MEMBERS = ['lstm', 'holt-winters', 'gbdt'] as const satisfies readonly KindName[];

/**
 * A forecast combination: the members are fitted on the same series and their forecasts averaged quantile by
 * quantile (the p50 is the mean of the members' p50s, the p90 the mean of their p90s, …). Averaging forecasts
 * of unlike models (here a neural network, exponential smoothing and boosted trees) is the oldest robust gain
 * in forecasting (Bates & Granger 1969; the M4 competition's top entries were combinations): their errors are
 * only partly correlated, so the mean is usually closer than any one of them. Auto scores it on the holdout
 * like every candidate, and keeps it when it wins there or when the winner's lead over it is not significant
 * (`decide` in src/forecast/select.ts).
 */
export class EnsembleForecaster implements Forecaster {
  readonly name = 'ensemble';
  private fitted = false;

  /** `members` may be fitted already (`fitted: true`): auto reuses its holdout fits to score the combination. */
  constructor(
    readonly members: readonly Forecaster[],
    o: { fitted?: boolean } = {},
  ) {
    if (members.length < 2) throw new Error('ensemble: needs at least two members');
    this.fitted = o.fitted ?? false;
  }

  get minTrainLength(): number {
    return Math.max(...this.members.map((m) => m.minTrainLength));
  }

  get probabilistic(): boolean {
    return this.members.some((m) => m.probabilistic);
  }

  async fit(series: Series): Promise<void> {
    for (const m of this.members) await m.fit(series);
    this.fitted = true;
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.fitted);
    const forecasts = this.members.map((m) => m.predict(horizon, context));
    const first = forecasts[0];
    const k = forecasts.length;
    const values = first.values.map((_, q) => {
      const row = new Float64Array(horizon);
      for (const f of forecasts) for (let h = 0; h < horizon; h++) row[h] += f.values[q][h] / k;
      return row;
    });
    return sanitizeForecast({ startMs: first.startMs, stepMs: first.stepMs, horizon, probabilistic: forecasts.some((f) => f.probabilistic), values });
  }

  dispose(): void {
    for (const m of this.members) disposeForecaster(m);
  }
}

/** One member in meta.json: its kind, its directory beside meta.json, and its kind's section (e.g. `lstm`). */
export interface EnsembleMemberMeta {
  readonly kind: KindName;
  readonly dir: string;
  readonly [section: string]: unknown;
}

/**
 * The `ensemble` kind: each member saved by its own kind in `member-<i>/`, and meta.json's `ensemble.members`
 * listing them (kind, directory, the member kind's section). An ensemble does not hold another.
 */
export const ensembleKind: ModelKind<'ensemble'> = {
  name: 'ensemble',
  section: 'ensemble',
  create: (o, kinds) => new EnsembleForecaster(ENSEMBLE_MEMBERS.map((m) => kinds.create(m, o))),
  async save(f, { dir, training }, kinds) {
    const members: EnsembleMemberMeta[] = [];
    let horizon: number | undefined;
    for (const [i, m] of ownKind('ensemble', f, EnsembleForecaster).members.entries()) {
      if (m.name === 'ensemble') throw new Error('cannot save an ensemble inside an ensemble');
      const kind = kinds.get(m.name);
      if (kind === undefined) throw new Error(`cannot save a forecaster of kind ${m.name}`);
      const sub = `member-${i}`;
      mkdirSync(path.join(dir, sub));
      const saved = await kind.save(m, { dir: path.join(dir, sub), training }, kinds);
      horizon ??= saved.horizon;
      members.push({ kind: kind.name as KindName, dir: sub, ...sectionOf(kind, saved.section) });
    }
    return { horizon, section: { members } };
  },
  validate(section, where, kinds) {
    const members = isRecord(section) ? section.members : undefined;
    if (!Array.isArray(members) || members.length < 2) throw new InputError(`${where}: an ensemble model needs ensemble.members, at least two`);
    members.forEach((m: unknown, i) => {
      const at = `${where}: ensemble.members[${i}]`;
      if (!isRecord(m) || typeof m.dir !== 'string' || !/^member-\d+$/.test(m.dir)) throw new InputError(`${at} needs dir "member-<n>"`);
      const kind = typeof m.kind === 'string' ? memberKind(kinds, m.kind) : undefined;
      if (kind === undefined) throw new InputError(`${at}.kind must be one of ${kinds.names.filter((k) => k !== 'ensemble').join(', ')}, ${JSON.stringify(m.kind)} given`);
      kind.validate?.(kind.section === undefined ? undefined : m[kind.section], at, kinds);
    });
  },
  async load(from, kinds) {
    const members: Forecaster[] = [];
    for (const [i, m] of (from.section as { members: readonly EnsembleMemberMeta[] }).members.entries()) {
      const kind = memberKind(kinds, m.kind) as ModelKind;
      const section = kind.section === undefined ? undefined : m[kind.section];
      members.push(await kind.load({ ...from, dir: path.join(from.dir, m.dir), where: `${from.where}.members[${i}]${kind.section === undefined ? '' : `.${kind.section}`}`, section }, kinds));
    }
    return new EnsembleForecaster(members, { fitted: true });
  },
};

/** The kind of a member: any but the ensemble itself. */
function memberKind(kinds: Kinds, name: string): ModelKind | undefined {
  return name === 'ensemble' ? undefined : kinds.get(name);
}

function sectionOf(kind: ModelKind, section: unknown): Record<string, unknown> {
  return kind.section !== undefined && section !== undefined ? { [kind.section]: section } : {};
}
