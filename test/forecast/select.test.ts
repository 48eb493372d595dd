import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/util/errors.js';
import type { MethodScores } from '../../src/forecast/evaluate.js';
import { disposeForecaster, pointForecast, unwrap, type Forecaster, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { LstmForecaster } from '../../src/forecast/lstm.js';
import { initTf, liveTensorCount } from '../../src/forecast/tf-backend.js';
import { applyBand } from '../../src/forecast/band.js';
import { AutoForecaster, createCandidate, decide, isSane, pickBest, ENSEMBLE_MEMBERS, type CandidateName } from '../../src/forecast/select.js';
import { endMs, type Series } from '../../src/series/series.js';

const STEP = 60 * 60_000; // hourly keeps a day at 24 points
const series: Series = {
  startMs: Date.UTC(2024, 0, 1),
  stepMs: STEP,
  values: Float64Array.from({ length: 8 * 24 }, (_, i) => 100 + 50 * Math.sin((2 * Math.PI * i) / 24)),
};

function scores(o: Partial<MethodScores>): MethodScores {
  return { mase: 1, ufr: 0.1, peakRatio: 1.1, coverageP90: 0.9, windows: 10, completeWindows: 10, scoredPoints: 60, ...o };
}

describe('pickBest', () => {
  it.each<[string, Partial<Record<CandidateName, MethodScores>>, CandidateName]>([
    ['lowest MASE when all are sane', { lstm: scores({ mase: 0.5 }), 'holt-winters': scores({ mase: 0.6 }) }, 'lstm'],
    ['skips a lower MASE whose p90 misses peaks', { lstm: scores({ mase: 0.5, ufr: 0.3 }), 'holt-winters': scores({ mase: 0.6 }) }, 'holt-winters'],
    ['skips a lower MASE whose p90 overshoots peaks', { lstm: scores({ mase: 0.5, peakRatio: 1.6 }), 'holt-winters': scores({ mase: 0.6 }) }, 'holt-winters'],
    ['skips a lower MASE whose p90 is over-wide', { lstm: scores({ mase: 0.5, coverageP90: 0.99 }), 'holt-winters': scores({ mase: 0.6 }) }, 'holt-winters'],
    ['a point forecast is sane when it rarely misses the peak', { naive: scores({ mase: 0.4, ufr: 0.05, coverageP90: null }), lstm: scores({ mase: 0.5 }) }, 'naive'],
    ['none sane: the best probabilistic one', { naive: scores({ mase: 0.4, ufr: 0.5, coverageP90: null }), lstm: scores({ mase: 0.7, ufr: 0.3 }) }, 'lstm'],
    ['none sane and none probabilistic: lowest MASE', { naive: scores({ mase: 0.4, ufr: 0.5, coverageP90: null }), 'seasonal-naive': scores({ mase: 0.3, ufr: 0.5, coverageP90: null }) }, 'seasonal-naive'],
    ['NaN MASE is never chosen', { lstm: scores({ mase: NaN }), naive: scores({ mase: 2, coverageP90: null }) }, 'naive'],
  ])('%s', (_name, s, want) => {
    expect(pickBest(s)).toBe(want);
  });

  it('refuses when nothing could be scored', () => {
    expect(() => pickBest({})).toThrow(/no candidate/);
  });

  it('isSane follows the bar', () => {
    expect(isSane(scores({ ufr: 0.15, coverageP90: 0.85 }))).toBe(true);
    expect(isSane(scores({ ufr: 0.16 }))).toBe(false);
    expect(isSane(scores({ ufr: NaN }))).toBe(false);
    expect(isSane(scores({ peakRatio: 1.36 }))).toBe(false);
  });
});

describe('decide', () => {
  const e = Array.from({ length: 60 }, (_, i) => Math.sin(1.7 * i));
  it.each<[string, Partial<Record<CandidateName, MethodScores>>, Partial<Record<CandidateName, number[]>>, CandidateName]>([
    [
      'keeps the ensemble when the lowest MASE is not a significant lead',
      { 'holt-winters': scores({ mase: 0.5 }), ensemble: scores({ mase: 0.51 }) },
      { 'holt-winters': e.map((x) => 2 + x), ensemble: e.map(() => 2.02) },
      'ensemble',
    ],
    [
      'keeps the lowest MASE when its lead is significant',
      { 'holt-winters': scores({ mase: 0.5 }), ensemble: scores({ mase: 0.6 }) },
      { 'holt-winters': e.map((x) => 2 + 0.1 * x), ensemble: e.map((x) => 2.4 + 0.1 * x * x) },
      'holt-winters',
    ],
    [
      'never swaps a sane winner for an ensemble that fails the sanity bar',
      { 'holt-winters': scores({ mase: 0.5 }), ensemble: scores({ mase: 0.51, ufr: 0.3 }) },
      { 'holt-winters': e.map((x) => 2 + x), ensemble: e.map(() => 2.02) },
      'holt-winters',
    ],
    [
      'in the tier without a sane candidate, compares the probabilistic ones',
      { lstm: scores({ mase: 0.5, ufr: 0.3 }), ensemble: scores({ mase: 0.51, ufr: 0.2 }) },
      { lstm: e.map((x) => 2 + x), ensemble: e.map(() => 2.02) },
      'ensemble',
    ],
  ])('%s', (_name, s, losses, want) => {
    const d = decide(s, losses);
    expect(d.chosen).toBe(want);
    expect(d.lowest).toBe(pickBest(s));
  });

  it('records the test when it ran, and nothing when the ensemble won outright or was not scored', () => {
    const tied = decide({ lstm: scores({ mase: 0.5 }), ensemble: scores({ mase: 0.51 }) }, { lstm: e.map((x) => 2 + x), ensemble: e.map(() => 2.02) });
    expect(tied.dm!.windows).toBe(60);
    expect(tied.dm!.t).toBeLessThan(0);
    expect(tied.dm!.t).toBeGreaterThan(-1.6449);
    expect(decide({ lstm: scores({ mase: 0.5 }), ensemble: scores({ mase: 0.4 }) }, { lstm: e, ensemble: e })).toEqual({ chosen: 'ensemble', lowest: 'ensemble' });
    expect(decide({ lstm: scores({ mase: 0.5 }) }, { lstm: e })).toEqual({ chosen: 'lstm', lowest: 'lstm' });
  });
});

/** A fake that forecasts the series' own future plus a bias, and records what it was fitted on. */
class Oracle implements Forecaster {
  readonly minTrainLength = 24;
  readonly probabilistic = true;
  fittedOn: number[] = [];
  /** `bias` may depend on the forecast's first index, i.e. on the window. */
  constructor(
    readonly name: string,
    private readonly bias: number | ((start: number) => number),
  ) {}
  fit(s: Series): Promise<void> {
    this.fittedOn.push(s.values.length);
    return Promise.resolve();
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    const ctx = context ?? series;
    const start = ctx.values.length;
    const bias = typeof this.bias === 'number' ? this.bias : this.bias(start);
    const p = Array.from({ length: horizon }, (_, h) => 100 + 50 * Math.sin((2 * Math.PI * (start + h)) / 24) + bias);
    const f = pointForecast(endMs(ctx), STEP, p);
    return { ...f, probabilistic: true, values: [f.values[0], f.values[0].map((v) => v + 5), f.values[0].map((v) => v + 10)] };
  }
}

describe('AutoForecaster', () => {
  it('scores candidates on the holdout, keeps the best and refits it on all the data', async () => {
    const made: Oracle[] = [];
    const auto = new AutoForecaster({
      stepMs: STEP,
      horizon: 2,
      candidates: ['lstm', 'holt-winters', 'naive'],
      create: (name) => {
        const o = new Oracle(name, name === 'holt-winters' ? 0 : name === 'lstm' ? 8 : 20);
        made.push(o);
        return o;
      },
    });
    await auto.fit(series);
    expect(auto.chosen).toBe('holt-winters');
    expect(Object.keys(auto.scores).sort()).toEqual(['holt-winters', 'lstm', 'naive']);
    expect(auto.scores['holt-winters']!.mase).toBeLessThan(auto.scores.lstm!.mase);
    // Three holdout fits on the first part, then one refit of the winner on everything.
    const holdoutFits = made.slice(0, 3).map((o) => o.fittedOn[0]);
    expect(new Set(holdoutFits).size).toBe(1);
    expect(holdoutFits[0]).toBeLessThan(series.values.length);
    expect(made[3].name).toBe('holt-winters');
    expect(made[3].fittedOn).toEqual([series.values.length]);
    expect(auto.predict(2, series).values[0][0]).toBeCloseTo(100 + 50 * Math.sin((2 * Math.PI * series.values.length) / 24), 9);
  });

  it("scores the ensemble from the members' holdout fits, without fitting again, and keeps it when it wins", async () => {
    const made: Oracle[] = [];
    const auto = new AutoForecaster({
      stepMs: STEP,
      horizon: 2,
      candidates: ['lstm', 'holt-winters', 'gbdt', 'ensemble', 'naive'],
      // Biases of +8, −4 and −4 cancel in the average: the ensemble is exact on the holdout.
      create: (name) => {
        const o = new Oracle(name, name === 'lstm' ? 8 : name === 'holt-winters' || name === 'gbdt' ? -4 : name === 'naive' ? 20 : 0);
        made.push(o);
        return o;
      },
    });
    await auto.fit(series);
    expect(auto.chosen).toBe('ensemble');
    expect(auto.decision).toEqual({ chosen: 'ensemble', lowest: 'ensemble' });
    expect(auto.scores.ensemble!.mase).toBeLessThan(Math.min(auto.scores.lstm!.mase, auto.scores['holt-winters']!.mase, auto.scores.gbdt!.mase));
    // Holdout: lstm, holt-winters, gbdt and naive fitted once each; the ensemble reused the first three; then the refit.
    expect(made.map((o) => o.name)).toEqual(['lstm', 'holt-winters', 'gbdt', 'naive', 'ensemble']);
    expect(made.slice(0, 4).every((o) => o.fittedOn.length === 1)).toBe(true);
  });

  it('keeps the ensemble over a lower holdout MASE that is no significant lead, and says why', async () => {
    // Holt-Winters' error swings between 0.5 and 3.5 from window to window (mean 2); the ensemble's is 2.1 in
    // every window: a lower mean for Holt-Winters, but well within its noise.
    const hw = (start: number): number => 2 + 1.5 * Math.sin(1.7 * start);
    const auto = new AutoForecaster({
      stepMs: STEP,
      horizon: 2,
      band: false,
      candidates: ['lstm', 'holt-winters', 'gbdt', 'ensemble'],
      create: (name) => new Oracle(name, name === 'holt-winters' ? hw : name === 'lstm' ? (start) => 9.3 - hw(start) : -3),
    });
    await auto.fit(series);
    expect(auto.scores['holt-winters']!.mase).toBeLessThan(auto.scores.ensemble!.mase);
    expect(auto.chosen).toBe('ensemble');
    expect(auto.decision!.lowest).toBe('holt-winters');
    expect(auto.decision!.dm!.t).toBeLessThan(0);
    expect(auto.decision!.dm!.t).toBeGreaterThan(-1.6449);
    expect(auto.decision!.dm!.windows).toBe(auto.scores.ensemble!.windows);
  });

  it('the ensemble candidate combines one model of each family', () => {
    expect(ENSEMBLE_MEMBERS).toEqual(['lstm', 'holt-winters', 'gbdt']);
  });

  it("widens the winner's band when its p90 misses the holdout's window peaks, and records the calibration", async () => {
    // p50 20 below the truth, p90 15 below: every window's peak is under-forecast on the holdout.
    const make = (band?: false): { auto: AutoForecaster; made: Oracle[] } => {
      const made: Oracle[] = [];
      const auto = new AutoForecaster({
        stepMs: STEP,
        horizon: 2,
        candidates: ['holt-winters', 'naive'],
        ...(band === false ? { band } : {}),
        create: (name) => {
          const o = new Oracle(name, name === 'holt-winters' ? -20 : 40);
          made.push(o);
          return o;
        },
      });
      return { auto, made };
    };
    const { auto, made } = make();
    await auto.fit(series);
    expect(auto.chosen).toBe('holt-winters');
    const band = auto.band!;
    expect(band.holdout.before.ufr).toBeGreaterThan(0.5);
    expect(band.exponent).toBeGreaterThan(1);
    expect(band.holdout.after.ufr).toBeLessThanOrEqual(band.targetUfr);
    const refit = made[made.length - 1];
    const want = applyBand(refit.predict(2, series), band.exponent);
    const got = auto.predict(2, series);
    for (let q = 0; q < 3; q++) expect(Array.from(got.values[q])).toEqual(Array.from(want.values[q]));
    expect(got.values[1][0]).toBeGreaterThan(refit.predict(2, series).values[1][0]);

    const off = make(false);
    await off.auto.fit(series);
    expect(off.auto.band).toBeUndefined();
    expect(Array.from(off.auto.predict(2, series).values[1])).toEqual(Array.from(refit.predict(2, series).values[1]));
  });

  it('skips the ensemble when a member was not a candidate', async () => {
    const auto = new AutoForecaster({ stepMs: STEP, horizon: 2, candidates: ['holt-winters', 'ensemble', 'naive'], create: (name) => new Oracle(name, 5) });
    await auto.fit(series);
    expect(Object.keys(auto.scores).sort()).toEqual(['holt-winters', 'naive']);
  });

  it('skips a candidate whose fit rejects the data (InputError) and chooses among the rest; other errors still fail', async () => {
    class Refuses extends Oracle {
      constructor(
        name: string,
        private readonly error: Error,
      ) {
        super(name, 0);
      }
      override fit(): Promise<void> {
        return Promise.reject(this.error);
      }
    }
    const auto = new AutoForecaster({
      stepMs: STEP,
      horizon: 2,
      candidates: ['gbdt', 'holt-winters', 'naive'],
      create: (name) => (name === 'gbdt' ? new Refuses(name, new InputError('gbdt: 95 usable training origins')) : new Oracle(name, name === 'naive' ? 20 : 3)),
    });
    await auto.fit(series);
    expect(Object.keys(auto.scores).sort()).toEqual(['holt-winters', 'naive']);
    expect(auto.chosen).toBe('holt-winters');
    const broken = new AutoForecaster({ stepMs: STEP, horizon: 2, candidates: ['gbdt', 'naive'], create: (name) => (name === 'gbdt' ? new Refuses(name, new Error('bug')) : new Oracle(name, 1)) });
    await expect(broken.fit(series)).rejects.toThrow('bug');
  });

  it('with real baselines on a pure daily pattern, picks seasonal naive and skips weekly without two weeks', async () => {
    const auto = new AutoForecaster({ stepMs: STEP, horizon: 2, candidates: ['holt-winters', 'seasonal-naive', 'seasonal-naive-weekly', 'naive'] });
    // A little day-to-day noise keeps the MASE scale (mean daily change) away from zero.
    const noisy = { ...series, values: series.values.map((v, i) => v + ((i * 7919) % 11) / 5) };
    await auto.fit(noisy);
    expect(auto.scores['seasonal-naive-weekly']).toBeUndefined();
    expect(auto.scores['seasonal-naive']!.mase).toBeLessThan(auto.scores.naive!.mase);
    expect(['seasonal-naive', 'holt-winters']).toContain(auto.chosen);
  });

  it('frees the candidates it does not keep, the winner it replaces when refitted, and its winner on dispose', async () => {
    await initTf();
    const step = 15 * 60_000;
    const long: Series = { startMs: series.startMs, stepMs: step, values: Float64Array.from({ length: 6 * 96 }, (_, i) => 100 + 50 * Math.sin((2 * Math.PI * i) / 96) + ((i * 7919) % 11)) };
    const before = liveTensorCount();
    const auto = new AutoForecaster({ stepMs: step, horizon: 2, candidates: ['lstm'], band: false, lstm: { window: 6, units: 4, epochs: 2, patience: 2 } });
    await auto.fit(long); // fits the LSTM on the first part (then frees it) and again on everything
    const winner = unwrap(auto).model as LstmForecaster;
    expect(winner).toBeInstanceOf(LstmForecaster);
    expect(liveTensorCount() - before).toBe(winner.layersModel!.weights.length);
    await auto.fit(long);
    expect(winner.layersModel).toBeUndefined(); // the first winner was disposed
    expect(liveTensorCount() - before).toBe((unwrap(auto).model as LstmForecaster).layersModel!.weights.length);
    disposeForecaster(auto);
    expect(liveTensorCount()).toBe(before);
  });

  it('creates every candidate kind by name', () => {
    for (const name of ['lstm', 'holt-winters', 'ensemble', 'seasonal-naive', 'seasonal-naive-weekly', 'naive'] as const) {
      expect(createCandidate(name, { stepMs: STEP, horizon: 2 }).name).toBe(name);
    }
  });
});
