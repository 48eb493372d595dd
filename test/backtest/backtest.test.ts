import { describe, expect, it } from '@jest/globals';
import { pointForecast, type Forecaster, type QuantileForecast } from '../../src/forecast/forecaster.js';
import { runBacktest, toMinuteSeries, summarize } from '../../src/backtest/backtest.js';
import { parseScenario } from '../../src/backtest/scenario.js';
import { makeSeries, endMs, type Series } from '../../src/series/series.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** A tiny daily seasonal-naive for tests: tomorrow looks like today, at the context's step. */
class DailyNaive implements Forecaster {
  readonly name = 'test-daily-naive';
  readonly probabilistic = false;
  minTrainLength = 1440;
  fitted: Series | undefined;
  /** End of each context predict was given: the model must never see the minute it is forecasting. */
  contextEnds: number[] = [];
  async fit(series: Series): Promise<void> {
    this.fitted = series;
  }
  predict(horizon: number, context?: Series): QuantileForecast {
    const c = context ?? this.fitted!;
    this.contextEnds.push(endMs(c));
    const m = 1440 * (MIN / c.stepMs);
    const n = c.values.length;
    return pointForecast(endMs(c), c.stepMs, Array.from({ length: horizon }, (_, h) => c.values[n - m + (h % m)]));
  }
}

/** Two days of a flat base with, each day, a step to `high` at 12:00 for an hour. */
function stepTrace(base: number, high: number): Series {
  const v = new Float64Array(2 * 1440);
  for (let i = 0; i < v.length; i++) v[i] = i % 1440 >= 720 && i % 1440 < 780 ? high : base;
  return makeSeries(T0, MIN, v);
}

const scenario = parseScenario({ pods: { max: 2000 } });

describe('runBacktest', () => {
  it('a flat trace gives zero cold starts and no under-provisioned minutes once warm, for every strategy', async () => {
    const series = makeSeries(T0, MIN, new Float64Array(2 * 1440).fill(1000));
    const r = await runBacktest({ series, fromMs: T0 + 1440 * MIN, toMs: T0 + 1500 * MIN, scenario, forecaster: new DailyNaive() });
    for (const name of ['reactive', 'predictive', 'oracle'] as const) {
      const s = r.strategies[name]!;
      expect([name, s.coldStarts, s.underProvisionedMinutes]).toEqual([name, 0, 0]);
      // warm start: ceil(1000 / 70) = 15 pods; PC ceil(1000 x 0.2 / 0.7) = 286, for the whole hour
      expect(s.podHours).toBeCloseTo(15, 9);
      expect(s.pcHours).toBeCloseTo(286, 9);
    }
    expect(r.strategies.reactive!.costVsOracle).toBeCloseTo(1, 9);
  });

  it('on a step function the oracle never has more cold starts or overloaded minutes than reactive, and predictive with a daily model matches it', async () => {
    const series = stepTrace(500, 20_000);
    const r = await runBacktest({ series, fromMs: T0 + 1440 * MIN, toMs: T0 + 2880 * MIN, scenario, forecaster: new DailyNaive() });
    const { reactive, predictive, oracle } = r.strategies;
    expect(reactive!.coldStarts).toBeGreaterThan(0);
    expect(reactive!.underProvisionedMinutes).toBeGreaterThan(0);
    expect(oracle!.coldStarts).toBe(0);
    expect(oracle!.underProvisionedMinutes).toBe(0);
    // yesterday had the same step: the forecast is perfect, so predictive = oracle exactly
    expect(predictive!.coldStarts).toBe(0);
    expect(predictive!.podHours).toBeCloseTo(oracle!.podHours, 9);
    expect(predictive!.costVsOracle).toBeCloseTo(1, 9);
    expect(r.model).toBe('test-daily-naive');
  });

  it('the oracle plans a lead time ahead: PC is raised before the step and ready when it comes', async () => {
    const series = stepTrace(500, 20_000);
    const r = await runBacktest({ series, fromMs: T0 + 1440 * MIN, toMs: T0 + 1440 * MIN + 800 * MIN, scenario, strategies: ['oracle'] });
    const tl = r.strategies.oracle!.timeline;
    // step at minute 720; PC lead 5 min -> MinCapacity raised at minute 715, ready 2 min later
    const need = Math.ceil((20_000 * 0.2) / 0.7);
    expect(tl.plannedPc[714]).toBeLessThan(need);
    expect(tl.plannedPc[715]).toBe(need);
    expect(tl.pcReady[716]).toBeLessThan(need);
    expect(tl.pcReady[717]).toBe(need);
  });

  it('trains only on data before --from: a model that peeks would see no more than that', async () => {
    const series = stepTrace(500, 20_000);
    const model = new DailyNaive();
    const from = T0 + 1440 * MIN + 30 * MIN;
    await runBacktest({ series, fromMs: from, toMs: from + 10 * MIN, scenario, forecaster: model, strategies: ['predictive'] });
    expect(endMs(model.fitted!)).toBe(from);
    // one forecast per minute, each from the history up to (not including) that minute
    expect(model.contextEnds).toEqual(Array.from({ length: 10 }, (_, i) => from + i * MIN));
  });

  it('with 5-minute model steps the model sees complete 5-minute buckets only, and forecasts again only when a bucket completes', async () => {
    const series = stepTrace(500, 20_000);
    const model = new DailyNaive();
    const from = T0 + 1440 * MIN + 32 * MIN;
    const s5 = parseScenario({ pods: { max: 2000 }, predictive: { stepMinutes: 5 } });
    await runBacktest({ series, fromMs: from, toMs: from + 10 * MIN, scenario: s5, forecaster: model, strategies: ['predictive'] });
    expect(endMs(model.fitted!)).toBe(T0 + 1440 * MIN + 30 * MIN);
    // minutes 32..41: the buckets complete by then end at 30, 35 and 40; in between the context is the same and the
    // cycle reuses its forecast
    expect(model.contextEnds).toEqual([30, 35, 40].map((m) => T0 + 1440 * MIN + m * MIN));
  });

  it('rejects a window outside the trace, naming the times', async () => {
    const series = stepTrace(500, 600);
    await expect(runBacktest({ series, fromMs: T0, toMs: T0 + MIN, scenario, strategies: ['reactive'] })).rejects.toThrow(/must be after the trace start/);
    await expect(runBacktest({ series, fromMs: T0 + MIN, toMs: T0 + 5000 * MIN, scenario, strategies: ['reactive'] })).rejects.toThrow(/inside the trace/);
  });

  it('summarize drops the time series', async () => {
    const series = stepTrace(500, 600);
    const r = await runBacktest({ series, fromMs: T0 + 60 * MIN, toMs: T0 + 70 * MIN, scenario, strategies: ['reactive'] });
    expect(Object.keys(summarize(r).strategies.reactive!)).not.toContain('timeline');
  });
});

describe('helpers', () => {
  it('toMinuteSeries holds 5-min values and averages 30-s ones', () => {
    expect(Array.from(toMinuteSeries(makeSeries(T0, 5 * MIN, [1, 2])).values)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    expect(Array.from(toMinuteSeries(makeSeries(T0, 30_000, [1, 3, 5, 7])).values)).toEqual([2, 6]);
  });
});

describe('scenario faults', () => {
  it('a source outage puts the cycle in fallback for its minutes: capacity is held, not lowered, and the replay counts them', async () => {
    const series = stepTrace(500, 20_000);
    const from = T0 + 1440 * MIN + 600 * MIN;
    const faults = [{ kind: 'source-outage' as const, start: new Date(from + 100 * MIN).toISOString(), end: new Date(from + 130 * MIN).toISOString() }];
    const s = parseScenario({ pods: { max: 2000 }, faults });
    const r = await runBacktest({ series, fromMs: from, toMs: from + 200 * MIN, scenario: s, forecaster: new DailyNaive(), strategies: ['predictive'], record: true });
    const p = r.strategies.predictive!;
    expect(p.fallbackMinutes).toBe(30);
    const cycles = p.cycles!;
    const inOutage = cycles.slice(100, 130);
    for (const c of inOutage) expect(c.decisions.every((d) => d.fallback?.startsWith('history unavailable: backtest trace: source outage'))).toBe(true);
    // The step to 20,000 QPS (minute 720 of the day) lands during the outage: the capacity raised before it holds.
    const podsAt = (i: number): number => cycles[i].decisions.find((d) => d.actuator.startsWith('cloneset'))!.plannedCapacity;
    expect(podsAt(129)).toBeGreaterThanOrEqual(podsAt(99));
    expect(cycles[130].decisions.every((d) => d.fallback === null)).toBe(true);
  });
});
