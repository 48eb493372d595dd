import { describe, expect, it } from '@jest/globals';
import { HoltWintersForecaster, lossGradient, type HoltWintersParams, type StartState } from '../../src/forecast/holt-winters.js';
import { makeSeries, sliceSeries, type Series } from '../../src/series/series.js';
import { MINUTE_MS } from '../../src/util/clock.js';
import { mulberry32 } from '../../src/util/prng.js';

const STEP = 5 * MINUTE_MS;
const M = 288;
const T0 = Date.parse('2024-01-01T00:00:00Z');

/** The daily season the simulations start from (log scale, slot j = time of day j·5 min). */
const SEASON = Float64Array.from({ length: M }, (_, j) => Math.sin((2 * Math.PI * j) / M) + 0.4 * Math.sin((6 * Math.PI * j) / M));

/**
 * Draws a series from the model itself, in innovations form on z = log1p(rate per minute): z = l + φb + s + e,
 * then l ← l + φb + αe, b ← φb + αβe, s ← s + γe (the same recursions as the filter's, rearranged), starting
 * from level 5, no trend and SEASON. Returns per-second rates, what the forecaster takes.
 */
function simulate(o: { days: number; params: HoltWintersParams; sd: number; seed: number }): Series {
  const r = mulberry32(o.seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const { alpha, beta, gamma, phi } = o.params;
  const s = Float64Array.from(SEASON);
  let l = 5;
  let b = 0;
  const v = new Float64Array(o.days * M);
  for (let i = 0; i < v.length; i++) {
    const e = o.sd * gauss();
    const lb = l + phi * b;
    v[i] = Math.expm1(lb + s[i % M] + e) / 60;
    l = lb + alpha * e;
    b = phi * b + alpha * beta * e;
    s[i % M] += gamma * e;
  }
  return makeSeries(T0, STEP, v);
}

describe('lossGradient', () => {
  it('matches a hand computation', () => {
    // Start l = 1, b = 0, s = [0, 0]; α = 0.5, β = γ = 0. Point 0: forecast 1, error 1, level → 1.5.
    // Point 1: forecast 1.5, error 0.5. Loss (1 + 0.25) / 2; ∂/∂l₀ = (2·1·(−1) + 2·0.5·(−0.5)) / 2.
    const grad = new Float64Array(8);
    const loss = lossGradient({ alpha: 0.5, beta: 0, gamma: 0, phi: 0.9 }, Float64Array.of(2, 2), { l: 1, b: 0, s: [0, 0] }, { H: 1, phase0: 0, grad });
    expect(loss).toBeCloseTo(0.625, 12);
    expect(grad[4]).toBeCloseTo(-1.25, 12);
  });

  it.each([1, 4])('gives the exact gradient with gaps and a %i-step objective (central differences)', (H) => {
    const m = 7;
    const z = Float64Array.from({ length: 60 }, (_, i) => 2 + 0.01 * i + Math.sin((2 * Math.PI * i) / m) + 0.1 * Math.cos(i * 1.3));
    z[20] = NaN;
    z[21] = NaN;
    const p: HoltWintersParams = { alpha: 0.4, beta: 0.2, gamma: 0.3, phi: 0.9 };
    const start: StartState = { l: 1.9, b: 0.02, s: Array.from({ length: m }, (_, i) => 0.5 * Math.sin(i)) };
    const grad = new Float64Array(m + 6);
    lossGradient(p, z, start, { H, phase0: 3, grad });
    // Unknowns in the gradient's order: α, β, γ, φ, l₀, b₀, s₀[0..m−1].
    const at = (k: number, d: number): number => {
      const q = [p.alpha, p.beta, p.gamma, p.phi, start.l, start.b, ...Array.from(start.s)];
      q[k] += d;
      return lossGradient({ alpha: q[0], beta: q[1], gamma: q[2], phi: q[3] }, z, { l: q[4], b: q[5], s: q.slice(6) }, { H, phase0: 3, grad: new Float64Array(m + 6) });
    };
    for (let k = 0; k < m + 6; k++) {
      const numeric = (at(k, 1e-6) - at(k, -1e-6)) / 2e-6;
      expect(Math.abs(grad[k] - numeric)).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric)));
    }
  });
});

describe('HoltWintersForecaster estimation', () => {
  // A fixed daily profile (γ = 0) under a wandering level: what least squares finds on the shared traces.
  const truth: HoltWintersParams = { alpha: 0.3, beta: 0.05, gamma: 0, phi: 0.9 };

  it('recovers α, γ and the start season of a series drawn from the model', async () => {
    const f = new HoltWintersForecaster();
    await f.fit(simulate({ days: 14, params: truth, sd: 0.05, seed: 1 }));
    const fitted = f.fitted;
    expect(fitted?.params.alpha).toBeGreaterThan(0.27);
    expect(fitted?.params.alpha).toBeLessThan(0.33);
    // A start season guessed from the first days made the search pick γ ≈ 0.1 to repair it.
    expect(fitted?.params.gamma).toBeLessThan(0.01);
    const season = fitted?.start.season ?? new Float64Array(M);
    const mean = season.reduce((a, v) => a + v, 0) / M;
    // Slots are times of day; T0 is midnight, so slot j is point j's. Noise sd 0.05, 14 days per slot.
    for (let j = 0; j < M; j++) expect(Math.abs(season[j] - mean - SEASON[j])).toBeLessThan(0.12);
  });

  it('forecasts from a context that starts after the training series as well as from one that extends it', async () => {
    const s = simulate({ days: 12, params: truth, sd: 0.1, seed: 2 });
    const f = new HoltWintersForecaster();
    await f.fit(sliceSeries(s, 0, 8 * M));
    let extending = 0;
    let sliding = 0;
    for (let t = 8 * M; t + 6 <= s.values.length; t += 6) {
      const a = f.predict(6, sliceSeries(s, 0, t));
      // Three days of history only, like the service's sliding window: not an extension of the training series.
      const b = f.predict(6, sliceSeries(s, t - 3 * M, t));
      for (let h = 0; h < 6; h++) {
        extending += Math.abs(Math.log(a.values[0][h] / s.values[t + h]));
        sliding += Math.abs(Math.log(b.values[0][h] / s.values[t + h]));
      }
    }
    // Restarting the season from the window's own first days made these errors 2–3.5 times larger.
    expect(sliding / extending).toBeLessThan(1.05);
  });

  it('rebuilds the same start state and quantiles from saved parameters', async () => {
    const s = simulate({ days: 6, params: { alpha: 0.2, beta: 0.1, gamma: 0.1, phi: 0.95 }, sd: 0.1, seed: 3 });
    const a = new HoltWintersForecaster({ objective: 'horizon', objectiveHorizon: 6 });
    await a.fit(s);
    // Another objective on purpose: meta.json does not record it, and the start must not depend on it.
    const b = new HoltWintersForecaster({ params: a.fitted?.params });
    await b.fit(s);
    expect(a.fitted?.start.season.length).toBe(M);
    expect(b.fitted?.start).toEqual(a.fitted?.start);
    expect(b.fitted?.residualQuantiles).toEqual(a.fitted?.residualQuantiles);
    expect(b.predict(12).values).toEqual(a.predict(12).values);
  });
});
