import { describe, expect, it, beforeAll } from '@jest/globals';
import { LstmForecaster, type EpochInfo } from '../../src/forecast/lstm.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { initTf, liveTensorCount } from '../../src/forecast/tf-backend.js';
import { sliceSeries, type Series } from '../../src/series/series.js';
import { InputError } from '../../src/util/errors.js';

const STEP = 15 * 60_000; // 96 steps a day keeps the model and the data tiny
const DAY = 96;

/** A daily sine around 100 QPS with seeded noise, starting at midnight UTC. */
function dailySine(days: number, seed = 7): Series {
  let a = seed;
  const rand = (): number => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a / 2 ** 31;
  };
  const values = Float64Array.from({ length: days * DAY }, (_, i) => 100 + 60 * Math.sin((2 * Math.PI * i) / DAY) + 6 * (rand() - 0.5));
  return { startMs: Date.UTC(2024, 0, 1), stepMs: STEP, values };
}

const tiny = { stepMs: STEP, horizon: 4, window: 8, units: 8, epochs: 30, patience: 6, batchSize: 32, learningRate: 0.01, seed: 3 } as const;

/** Mean absolute error of the p50 over rolling origins every `horizon` steps through the test part. */
function maeOf(f: { predict: LstmForecaster['predict'] }, s: Series, from: number, horizon: number): number {
  let sum = 0;
  let n = 0;
  for (let t = from; t + horizon < s.values.length; t += horizon) {
    const fc = f.predict(horizon, sliceSeries(s, 0, t + 1));
    for (let h = 0; h < horizon; h++) {
      sum += Math.abs(fc.values[0][h] - s.values[t + 1 + h]);
      n++;
    }
  }
  return sum / n;
}

describe('LstmForecaster', () => {
  const series = dailySine(6);
  const trainEnd = 5 * DAY;
  const train = sliceSeries(series, 0, trainEnd);
  let model: LstmForecaster;
  const epochs: EpochInfo[] = [];

  beforeAll(async () => {
    await initTf();
    model = new LstmForecaster({ ...tiny, onEpoch: (e) => epochs.push(e) });
    await model.fit(train);
  });

  it('learns a daily pattern better than the naive forecast', async () => {
    const naive = new NaiveForecaster();
    await naive.fit(train);
    const lstm = maeOf(model, series, trainEnd - 1, tiny.horizon);
    const base = maeOf(naive, series, trainEnd - 1, tiny.horizon);
    expect(lstm).toBeLessThan(0.8 * base);
  });

  it('returns monotone, finite, non-negative quantiles for the asked horizon', () => {
    const fc = model.predict(3, series);
    expect(fc.horizon).toBe(3);
    expect(fc.startMs).toBe(series.startMs + series.values.length * STEP);
    for (let h = 0; h < 3; h++) {
      expect(Number.isFinite(fc.values[0][h]) && fc.values[0][h] >= 0).toBe(true);
      expect(fc.values[1][h]).toBeGreaterThanOrEqual(fc.values[0][h]);
      expect(fc.values[2][h]).toBeGreaterThanOrEqual(fc.values[1][h]);
    }
  });

  it('reports progress per epoch and stops early or at the cap', () => {
    expect(epochs.length).toBeGreaterThan(0);
    expect(epochs.length).toBeLessThanOrEqual(tiny.epochs);
    expect(epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.valLoss))).toBe(true);
    expect(model.state?.epochsRun).toBe(epochs.length);
  });

  it('forecasts after the training series when no context is given', () => {
    const fc = model.predict(2);
    expect(fc.startMs).toBe(train.startMs + trainEnd * STEP);
  });

  it('holds only its weights once fitted, frees the old ones when refitted and all of them on dispose', async () => {
    // Tensors are made where TensorFlow.js runs: training (batches, gradients, optimizer state, the best weights
    // kept), the model itself, and the tfjs predict path (below). The default predict is plain JavaScript.
    const before = liveTensorCount();
    const f = new LstmForecaster({ ...tiny, epochs: 2, patience: 2 });
    await f.fit(train);
    const weights = f.layersModel!.weights.length;
    expect(weights).toBe(9); // LSTM kernel, recurrent kernel, bias; three dense layers' kernels and biases
    // A fitted model that is never disposed stays counted: this is what a leak looks like.
    expect(liveTensorCount() - before).toBe(weights);
    await f.fit(train);
    expect(liveTensorCount() - before).toBe(weights);
    f.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('predicts the same with the JavaScript forward pass as with TensorFlow.js, without leaking tensors', () => {
    const viaTf = LstmForecaster.fromParts(model.layersModel!, model.state!, { inference: 'tf' });
    const js = model.predict(4, series);
    viaTf.predict(4, series);
    const before = liveTensorCount();
    for (let i = 0; i < 100; i++) viaTf.predict(4, series);
    expect(liveTensorCount()).toBe(before);
    const tf = viaTf.predict(4, series);
    for (let q = 0; q < 3; q++) for (let h = 0; h < 4; h++) expect(tf.values[q][h]).toBeCloseTo(js.values[q][h], 3);
  });

  it('survives gaps in the context and still gives no NaN', () => {
    const values = Float64Array.from(series.values);
    values.fill(NaN, values.length - 5, values.length - 2);
    const fc = model.predict(4, { ...series, values });
    expect(fc.values.every((row) => row.every((v) => Number.isFinite(v) && v >= 0))).toBe(true);
  });

  it('refuses a horizon longer than it was trained for', () => {
    expect(() => model.predict(5, series)).toThrow(InputError);
  });

  it('is reproducible with a seed', async () => {
    const again = new LstmForecaster({ ...tiny, epochs: 3, patience: 3 });
    const other = new LstmForecaster({ ...tiny, epochs: 3, patience: 3 });
    await again.fit(train);
    await other.fit(train);
    expect(Array.from(again.predict(4, series).values[1])).toEqual(Array.from(other.predict(4, series).values[1]));
    const seeded = new LstmForecaster({ ...tiny, epochs: 3, patience: 3, seed: 99 });
    await seeded.fit(train);
    expect(Array.from(seeded.predict(4, series).values[1])).not.toEqual(Array.from(again.predict(4, series).values[1]));
    for (const f of [again, other, seeded]) f.dispose();
  });

  it('rejects a series shorter than its minimum with the shared error', async () => {
    const f = new LstmForecaster(tiny);
    await expect(f.fit(sliceSeries(series, 0, 50))).rejects.toThrow(/lstm needs at least \d+ points/);
  });

  it('reads the seasonal profile of as many past days as the history allows (up to profileDays)', () => {
    // 5 training days: 3 usable profile days (two are kept for the lags and windows).
    expect(model.state?.profileDays).toBe(3);
    expect(model.state?.denseFeatures).toContain('z_profile_now_minus_last');
    expect(model.state?.denseFeatures).toContain(`z_profile_h${tiny.horizon}_minus_last`);
  });

  it('leaves the profile inputs out with profileDays 0, and a state without profileDays (older models) still predicts', async () => {
    const f = new LstmForecaster({ ...tiny, epochs: 1, profileDays: 0 });
    await f.fit(train);
    expect(f.state?.profileDays).toBe(0);
    expect(f.state?.denseFeatures.some((n) => n.startsWith('z_profile'))).toBe(false);
    const { profileDays: _omitted, ...older } = f.state!;
    const rebuilt = LstmForecaster.fromParts(f.layersModel!, older);
    expect(Array.from(rebuilt.predict(4, series).values[0])).toEqual(Array.from(f.predict(4, series).values[0]));
    f.dispose();
  });
});
