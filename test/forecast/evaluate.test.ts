import { describe, expect, it } from '@jest/globals';
import { causalContext, evaluateSeries, originsOf, prepareProtocol, scoreRollingOrigins, seasonalScale } from '../../src/forecast/evaluate.js';
import { BandForecaster } from '../../src/forecast/band.js';
import { QUANTILES, sanitizeForecast, type Forecaster, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { endMs, fillGaps, makeSeries, type Series } from '../../src/series/series.js';
import { DAY_MS, MINUTE_MS } from '../../src/util/clock.js';
import { InputError } from '../../src/util/errors.js';

const STEP = 5 * MINUTE_MS;
const M = DAY_MS / STEP; // 288
const H = 6;
const T0 = Date.parse('2024-01-01T00:00:00Z');

/**
 * A forecaster whose forecast is a function of the context: lets a test state exactly what is predicted.
 * `upper` gives p90 (and p99) when set, making it probabilistic.
 */
class FakeForecaster implements Forecaster {
  readonly name = 'fake';
  readonly minTrainLength = 1;
  readonly probabilistic: boolean;
  readonly contexts: Series[] = [];
  fitted: Series | undefined;
  constructor(
    private readonly point: (ctx: Series, h: number) => number,
    private readonly upper?: (ctx: Series, h: number) => number,
  ) {
    this.probabilistic = upper !== undefined;
  }
  async fit(series: Series): Promise<void> {
    this.fitted = series;
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    const ctx = context ?? (this.fitted as Series);
    this.contexts.push(ctx);
    const p = Float64Array.from({ length: horizon }, (_, h) => this.point(ctx, h + 1));
    const u = this.upper ? Float64Array.from({ length: horizon }, (_, h) => this.upper!(ctx, h + 1)) : p;
    return sanitizeForecast({ startMs: endMs(ctx), stepMs: ctx.stepMs, horizon, probabilistic: this.probabilistic, values: QUANTILES.map((_, q) => (q === 0 ? p : u)) });
  }
}

const lastOf = (ctx: Series): number => ctx.values[ctx.values.length - 1];
const line = (n: number, step = STEP): Series => makeSeries(T0, step, Array.from({ length: n }, (_, i) => 10 + 2 * i));

describe('prepareProtocol', () => {
  it('resamples a 1-minute trace to 5 minutes by the mean and splits 70/30', () => {
    const s = makeSeries(T0, MINUTE_MS, Array.from({ length: 10 * M * 5 }, (_, i) => (i % 5 === 0 ? NaN : i)));
    const d = prepareProtocol(s);
    expect(d.actual.stepMs).toBe(STEP);
    expect(d.actual.values.length).toBe(10 * M);
    expect(d.actual.values[0]).toBe((1 + 2 + 3 + 4) / 4);
    expect(d.horizon).toBe(6);
    expect(d.season).toBe(288);
    expect(d.trainEnd).toBe(Math.floor(10 * M * 0.7));
  });

  it('keeps an hourly trace at its own step, forecasting one step', () => {
    const d = prepareProtocol(makeSeries(T0, 3_600_000, Array.from({ length: 24 * 10 }, (_, i) => 1 + (i % 24) + i / 100)));
    expect(d.actual.stepMs).toBe(3_600_000);
    expect(d.horizon).toBe(1);
    expect(d.season).toBe(24);
  });

  it.each([
    ['an all-zero series', makeSeries(T0, STEP, new Float64Array(4 * M)), /does not change from one day to the next/],
    ['less than a day of training', line(M), /needs more than one day \(288 points at 5 min\)/],
    ['a step that does not divide 5 minutes', makeSeries(T0, 120_000, new Float64Array(4 * M)), /step of 120 s does not divide/],
  ])('rejects %s', (_what, s, re) => {
    expect(() => prepareProtocol(s)).toThrow(re);
    expect(() => prepareProtocol(s)).toThrow(InputError);
  });

  it('computes the MASE denominator over present pairs of the training part only', () => {
    const v = Float64Array.from({ length: 2 * M + 4 }, (_, i) => i);
    v[M + 1] = NaN;
    // pairs t = M..end-1 with both present: every one differs by exactly M
    expect(seasonalScale(v, 2 * M + 4, M)).toBe(M);
    expect(() => seasonalScale(v, M, M)).toThrow(/no[n]?e|at least one pair/);
  });
});

describe('originsOf and causalContext', () => {
  it('starts at the last training point and steps by H while the window fits', () => {
    expect(originsOf(10, 23, 6)).toEqual([9, 15]);
    expect(originsOf(10, 22, 6)).toEqual([9, 15]);
    expect(originsOf(10, 21, 6)).toEqual([9]);
  });

  it('fills a gap at the origin by holding the last present value, never peeking ahead', () => {
    const actual = makeSeries(T0, STEP, [1, 2, NaN, NaN, 8, 9]);
    const filled = fillGaps(actual);
    expect(Array.from(causalContext(actual, filled, 3).values)).toEqual([1, 2, 2, 2]);
    expect(Array.from(causalContext(actual, filled, 4).values)).toEqual([1, 2, 4, 6, 8]);
    expect(Array.from(filled.values)).toEqual([1, 2, 4, 6, 8, 9]);
  });
});

describe('scoreRollingOrigins', () => {
  it('scores naive on a straight line with MASE (H+1)/(2m) exactly', async () => {
    const s = line(10 * M);
    const d = prepareProtocol(s);
    const f = new FakeForecaster(lastOf);
    await f.fit(s);
    const r = scoreRollingOrigins(f, d);
    // error at step h is 2h, mean over h = 1..H is H+1; the seasonal difference is 2m.
    expect(r.mase).toBeCloseTo((H + 1) / (2 * M), 12);
    expect(r.coverageP90).toBeNull();
    // every forecast peak (the last value) is below 0.9 × the actual peak only when the line is low
    const origins = originsOf(d.trainEnd, s.values.length, H);
    expect(r.windows).toBe(origins.length);
    const under = origins.filter((t) => s.values[t] < 0.9 * s.values[t + H]).length;
    expect(r.ufr).toBe(under / origins.length);
    const ratio = origins.reduce((a, t) => a + s.values[t] / s.values[t + H], 0) / origins.length;
    expect(r.peakRatio).toBeCloseTo(ratio, 12);
  });

  it('scores seasonal naive on a pure daily sine with MASE 0', async () => {
    // The first day differs (so the seasonal differences of the training part are not all zero); then pure repeats.
    const s = makeSeries(T0, STEP, Array.from({ length: 9 * M }, (_, i) => (i < M ? 2 : 1) * (5 + Math.sin((2 * Math.PI * (i % M)) / M))));
    const d = prepareProtocol(s);
    const f = new FakeForecaster((ctx, h) => ctx.values[ctx.values.length - M + h - 1]);
    await f.fit(s);
    const r = scoreRollingOrigins(f, d);
    expect(r.mase).toBe(0);
    expect(r.ufr).toBe(0);
    expect(r.peakRatio).toBeCloseTo(1, 12);
  });

  it('judges probabilistic methods on their p90 for UFR, peak ratio and coverage', async () => {
    const s = line(10 * M);
    const d = prepareProtocol(s);
    // p50 one below the truth; p90 = truth × 1.2 on the first half of each window and truth − 0.5 after
    const truth = (ctx: Series, h: number): number => lastOf(ctx) + 2 * h;
    const f = new FakeForecaster((ctx, h) => truth(ctx, h) - 1, (ctx, h) => (h <= 3 ? 1.2 * truth(ctx, h) : truth(ctx, h) - 0.5));
    await f.fit(s);
    const r = scoreRollingOrigins(f, d);
    expect(r.mase).toBeCloseTo(1 / (2 * M), 12);
    expect(r.coverageP90).toBe(0.5);
    // peak of p90 is max(1.2 × y[t+3], y[t+6] − 0.5) = 1.2 × y[t+3] on this line
    const origins = originsOf(d.trainEnd, s.values.length, H);
    const ratio = origins.reduce((a, t) => a + (1.2 * s.values[t + 3]) / s.values[t + 6], 0) / origins.length;
    expect(r.peakRatio).toBeCloseTo(ratio, 12);
    expect(r.ufr).toBe(0);
  });

  it('never scores missing points and leaves incomplete windows out of UFR and peak ratio', async () => {
    const v = Array.from({ length: 10 * M }, (_, i) => 10 + 2 * i);
    const s0 = makeSeries(T0, STEP, v);
    const d0 = prepareProtocol(s0);
    const first = d0.trainEnd; // first test point: inside window 0
    v[first + 1] = NaN;
    const s = makeSeries(T0, STEP, v);
    const d = prepareProtocol(s);
    const f = new FakeForecaster(() => 0);
    await f.fit(s);
    const r = scoreRollingOrigins(f, d);
    expect(r.completeWindows).toBe(r.windows - 1);
    expect(r.scoredPoints).toBe(r.windows * H - 1);
    expect(r.ufr).toBe(1);
    expect(r.peakRatio).toBe(0);
    // the origin right after the gap saw it filled from both sides; the model never saw a NaN
    for (const c of f.contexts) expect(c.values.some((x) => Number.isNaN(x))).toBe(false);
  });
});

describe('evaluateSeries', () => {
  it('runs the registry methods: on a straight line naive scores (H+1)/(2m) and seasonal naive exactly 1', async () => {
    const report = await evaluateSeries(line(10 * M), { methods: ['naive', 'seasonal-naive'] });
    expect(report.methods.naive?.mase).toBeCloseTo((H + 1) / (2 * M), 12);
    expect(report.methods['seasonal-naive']?.mase).toBeCloseTo(1, 12);
    expect(report.methods.naive?.coverageP90).toBeNull();
  });

  it('fits on the causally filled training part and reports every method, with fitSeconds and chosen', async () => {
    const v = Array.from({ length: 10 * M }, (_, i) => 10 + 2 * i);
    const trainEnd = Math.floor(10 * M * 0.7);
    v[trainEnd - 1] = NaN; // the last training point is missing
    const fakes: FakeForecaster[] = [];
    const scores = { ufr: 0.2, peakRatio: 1.1, coverageP90: 0.9 };
    const band = { exponent: 1.5, targetUfr: 0.1, holdout: { before: scores, after: scores } };
    let clock = 0;
    const report = await evaluateSeries(makeSeries(T0, STEP, v), {
      methods: ['naive', 'auto'],
      create: (name) => {
        const f = new FakeForecaster(lastOf);
        fakes.push(f);
        // auto says what it chose through Forecaster.wraps (here: holt-winters inside a band widened ×1.5).
        if (name === 'auto') Object.defineProperty(f, 'wraps', { get: () => ({ model: new BandForecaster(new FakeForecaster(lastOf), band), chosen: 'holt-winters' }) });
        return f;
      },
      nowMs: () => (clock += 500),
    });
    expect(report).toMatchObject({ resolutionMinutes: 5, horizonSteps: 6, points: 10 * M, trainPoints: trainEnd });
    expect(report.methods.naive?.fitSeconds).toBe(0.5);
    expect(report.methods.naive?.chosen).toBeUndefined();
    expect(report.methods.auto?.chosen).toBe('holt-winters');
    expect(report.methods.auto?.bandExponent).toBe(1.5);
    expect(report.methods.naive?.bandExponent).toBeUndefined();
    const train = fakes[0].fitted as Series;
    expect(train.values.length).toBe(trainEnd);
    expect(train.values[trainEnd - 1]).toBe(v[trainEnd - 2]); // held flat, not interpolated from the test part
  });
});
