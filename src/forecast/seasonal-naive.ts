import { endMs, type Series } from '../series/series.js';
import { DAY_MS, MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { assertFitted, assertTrainLength, pointForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import { ownKind, refitOnHistory, writeHistory, type ModelKind } from './model-kind.js';
import { assertSomeValues, lastPresent } from './naive.js';

export type Season = 'daily' | 'weekly';

export function seasonMs(season: Season): number {
  switch (season) {
    case 'daily':
      return DAY_MS;
    case 'weekly':
      return 7 * DAY_MS;
    default: {
      const never: never = season;
      throw new Error(`unknown season ${String(never)}`);
    }
  }
}

/** Steps in one season at `stepMs`; the step must divide the season. */
export function seasonSteps(periodMs: number, stepMs: number): number {
  const m = periodMs / stepMs;
  if (!Number.isInteger(m)) {
    throw new InputError(`a season of ${periodMs / MINUTE_MS} min is not a whole number of ${stepMs / MINUTE_MS}-min steps`);
  }
  return m;
}

export interface SeasonalNaiveOptions {
  readonly season: Season;
  /** The step the model will see; sets `minTrainLength` before `fit` (which adopts the series' own step). */
  readonly stepMs?: number;
}

/** Each step of the horizon repeats the value one season (a day or a week) earlier. */
export class SeasonalNaiveForecaster implements Forecaster {
  readonly name: string;
  readonly probabilistic = false;
  private stepMs: number;
  private train: Series | undefined;

  constructor(private readonly o: SeasonalNaiveOptions) {
    this.name = o.season === 'daily' ? 'seasonal-naive' : 'seasonal-naive-weekly';
    this.stepMs = o.stepMs ?? 5 * MINUTE_MS;
  }

  /** One whole season. */
  get minTrainLength(): number {
    return seasonSteps(seasonMs(this.o.season), this.stepMs);
  }

  async fit(series: Series): Promise<void> {
    this.stepMs = series.stepMs;
    assertTrainLength(this, series);
    assertSomeValues(this.name, series);
    this.train = series;
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.train !== undefined);
    const ctx = context ?? (this.train as Series);
    if (ctx.stepMs !== this.stepMs) throw new InputError(`${this.name}: fitted at step ${this.stepMs} ms, context has ${ctx.stepMs} ms`);
    const m = this.minTrainLength;
    const v = ctx.values;
    const n = v.length;
    const fallback = Number.isNaN(lastPresent(v)) ? lastPresent((this.train as Series).values) : lastPresent(v);
    const out = new Float64Array(horizon);
    for (let h = 1; h <= horizon; h++) {
      // The same phase in the latest season that is already observed; older seasons when that one is a gap.
      let i = n - 1 + h - m * Math.ceil(h / m);
      while (i >= 0 && Number.isNaN(v[i])) i -= m;
      out[h - 1] = i >= 0 ? v[i] : fallback;
    }
    return pointForecast(endMs(ctx), ctx.stepMs, out);
  }
}

/** A seasonal-naive kind: history.json, the training series it is refitted on (it repeats the season before). */
function seasonalNaiveKindOf<N extends string>(name: N, season: Season): ModelKind<N> {
  return {
    name,
    create: (o) => new SeasonalNaiveForecaster({ season, stepMs: o.stepMs }),
    async save(f, { dir, training }) {
      ownKind(name, f, SeasonalNaiveForecaster);
      writeHistory(dir, training);
      return {};
    },
    load: ({ dir, stepMs }) => refitOnHistory(new SeasonalNaiveForecaster({ season, stepMs }), dir),
  };
}

export const seasonalNaiveKind = seasonalNaiveKindOf('seasonal-naive', 'daily');
export const seasonalNaiveWeeklyKind = seasonalNaiveKindOf('seasonal-naive-weekly', 'weekly');
