import { endMs, type Series } from '../series/series.js';
import { InputError } from '../util/errors.js';
import { assertFitted, assertTrainLength, pointForecast, type Forecaster, type QuantileForecast } from './forecaster.js';
import { ownKind, refitOnHistory, writeHistory, type ModelKind } from './model-kind.js';

/** The last present value of a series at or before index `end - 1`, or NaN when all are gaps. */
export function lastPresent(values: Float64Array, end: number = values.length): number {
  for (let i = Math.min(end, values.length) - 1; i >= 0; i--) if (!Number.isNaN(values[i])) return values[i];
  return NaN;
}

/** Throws the shared "nothing to learn from" error when a training series holds only gaps. */
export function assertSomeValues(name: string, series: Series): void {
  if (Number.isNaN(lastPresent(series.values))) throw new InputError(`${name}: the training series has no values, only gaps`);
}

/** Tomorrow looks like now: every step of the horizon is the last observed value. */
export class NaiveForecaster implements Forecaster {
  readonly name = 'naive';
  readonly minTrainLength = 1;
  readonly probabilistic = false;
  private train: Series | undefined;

  async fit(series: Series): Promise<void> {
    assertTrainLength(this, series);
    assertSomeValues(this.name, series);
    this.train = series;
  }

  predict(horizon: number, context?: Series): QuantileForecast {
    assertFitted(this.name, this.train !== undefined);
    const ctx = context ?? (this.train as Series);
    let last = lastPresent(ctx.values);
    // A context of only gaps says nothing new; fall back on what training saw last.
    if (Number.isNaN(last)) last = lastPresent((this.train as Series).values);
    return pointForecast(endMs(ctx), ctx.stepMs, new Float64Array(horizon).fill(last));
  }
}

/** The `naive` kind: history.json, the training series it is refitted on (its last value is the whole state). */
export const naiveKind: ModelKind<'naive'> = {
  name: 'naive',
  create: () => new NaiveForecaster(),
  async save(f, { dir, training }) {
    ownKind('naive', f, NaiveForecaster);
    writeHistory(dir, training);
    return {};
  },
  load: ({ dir }) => refitOnHistory(new NaiveForecaster(), dir),
};
