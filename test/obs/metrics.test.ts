import { describe, expect, it } from '@jest/globals';
import { createMetrics } from '../../src/obs/metrics.js';
import { action, fakeSnapshot, MIN, NOW } from '../web/fake-snapshots.js';

/** The value of one sample line `name{labels} value` in the exposition text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

describe('createMetrics', () => {
  it('exposes every series of a snapshot with its labels', async () => {
    const m = createMetrics({ defaultMetrics: false, now: () => NOW + 90_000, tensorCount: () => 42, tfjsBackend: () => 'wasm' });
    m.recordSnapshot(fakeSnapshot({ name: 'checkout', historyMinutes: 60, horizon: 30, pastForecastMinutes: 0, base: 100, withModel: true }));
    m.observeCycle(0.3);
    const text = await m.render();
    const s = (name: string, labels?: Record<string, string>): number | undefined => sample(text, name, labels);
    const obs = s('prescale_observed_qps', { target: 'checkout' });
    expect(obs).toBeGreaterThan(0);
    // 30 steps x 3 quantiles, one a minute from the forecast origin.
    expect(text.split('\n').filter((l) => l.startsWith('prescale_forecast_qps{'))).toHaveLength(90);
    const p50 = s('prescale_forecast_qps', { target: 'checkout', quantile: '0.5', horizon_minutes: '29' }) ?? NaN;
    expect(s('prescale_forecast_qps', { target: 'checkout', quantile: '0.99', horizon_minutes: '29' })).toBeCloseTo(p50 * 1.5, 6);
    expect(s('prescale_forecast_error_mase', { target: 'checkout' })).toBe(0.7);
    const labels = { target: 'checkout', actuator: 'cloneset:shop/checkout', kind: 'cloneset' };
    const planned = s('prescale_planned_capacity', labels) ?? NaN;
    expect(planned).toBeGreaterThan(0);
    expect(s('prescale_current_capacity', labels)).toBe(planned - 1);
    expect(s('prescale_planned_qps', labels)).toBeGreaterThan(0);
    expect(s('prescale_fallback_active', { target: 'checkout' })).toBe(0);
    expect(s('prescale_paused', { target: 'checkout' })).toBe(0);
    // Trained an hour before NOW, scraped 90 s after it.
    expect(s('prescale_model_age_seconds', { target: 'checkout' })).toBe(3690);
    expect(s('prescale_model_info', { target: 'checkout', kind: 'lstm', backend: 'wasm' })).toBe(1);
    expect(s('prescale_tfjs_backend_info', { backend: 'wasm' })).toBe(1);
    expect(s('prescale_tfjs_tensors')).toBe(42);
    expect(s('prescale_cycle_duration_seconds_count')).toBe(1);
    expect(s('prescale_cycle_duration_seconds_bucket', { le: '0.25' })).toBe(0);
    expect(s('prescale_cycle_duration_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(s('prescale_last_cycle_timestamp_seconds', { target: 'checkout' })).toBe(NOW / 1000);
    // Too few past forecasts (none) for a live error: absent rather than 0.
    expect(s('prescale_forecast_live_wape', { target: 'checkout' })).toBeUndefined();
    m.recordSnapshot(fakeSnapshot({ name: 'checkout', historyMinutes: 60, horizon: 30, pastForecastMinutes: 60, base: 100, withModel: true }));
    const again = await m.render();
    expect(sample(again, 'prescale_forecast_live_wape', { target: 'checkout' })).toBeCloseTo(0.05, 9);
    expect(sample(again, 'prescale_forecast_p90_coverage', { target: 'checkout' })).toBe(1);
    expect(sample(again, 'prescale_forecast_live_mae_qps', { target: 'checkout' })).toBeGreaterThan(0);
  });

  it('counts each action once although later snapshots repeat it', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const a1 = action({ atMs: NOW, target: 't' });
    const a2 = action({ atMs: NOW + MIN, target: 't', result: 'error', detail: 'HTTP 500' });
    const a3 = action({ atMs: NOW + 2 * MIN, target: 't' });
    const snap = (actions: ReturnType<typeof action>[]): ReturnType<typeof fakeSnapshot> =>
      fakeSnapshot({ name: 't', historyMinutes: 1, horizon: 0, pastForecastMinutes: 0, base: 1, actions });
    m.recordSnapshot(snap([a1]));
    m.recordSnapshot(snap([a2, a1]));
    m.recordSnapshot(snap([a3, a2, a1]));
    // The service's list slides: a1 drops out, nothing new arrives.
    m.recordSnapshot(snap([a3, a2]));
    const text = await m.render();
    const base = { target: 't', actuator: 'cloneset:shop/x', action: 'patch-scale' };
    expect(sample(text, 'prescale_actions_total', { ...base, result: 'ok' })).toBe(2);
    expect(sample(text, 'prescale_actions_total', { ...base, result: 'error' })).toBe(1);
  });

  it('counts two identical actions in one snapshot twice', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const a = action({ atMs: NOW, target: 't', action: 'noop', result: 'skipped', detail: 'paused' });
    m.recordSnapshot(fakeSnapshot({ name: 't', historyMinutes: 1, horizon: 0, pastForecastMinutes: 0, base: 1, actions: [a, { ...a }] }));
    const text = await m.render();
    expect(sample(text, 'prescale_actions_total', { target: 't', actuator: 'cloneset:shop/x', action: 'noop', result: 'skipped' })).toBe(2);
  });

  it('drops forecast, actuator and model series that went away, and flags the fallback', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordSnapshot(fakeSnapshot({ name: 'a', historyMinutes: 5, horizon: 10, pastForecastMinutes: 0, base: 10, withModel: true }));
    m.recordSnapshot(fakeSnapshot({ name: 'b', historyMinutes: 5, horizon: 10, pastForecastMinutes: 0, base: 10 }));
    m.recordSnapshot(fakeSnapshot({ name: 'a', historyMinutes: 0, horizon: 0, pastForecastMinutes: 0, base: 10, fallback: 'stale history' }));
    const text = await m.render();
    expect(text).not.toMatch(/prescale_forecast_qps\{target="a"/);
    expect(text).not.toMatch(/prescale_planned_capacity\{target="a"/);
    expect(text).not.toMatch(/prescale_model_info\{target="a"/);
    expect(text).not.toMatch(/prescale_observed_qps\{target="a"/);
    expect(text).toMatch(/prescale_forecast_qps\{target="b"/);
    expect(sample(text, 'prescale_fallback_active', { target: 'a' })).toBe(1);
    expect(sample(text, 'prescale_model_age_seconds', { target: 'a' })).toBeUndefined();
  });

  it('keeps registries apart and adds process metrics only when asked', async () => {
    const a = createMetrics({ defaultMetrics: true });
    const b = createMetrics({ defaultMetrics: false });
    a.observeCycle(1);
    expect(await a.render()).toContain('prescale_process_cpu_user_seconds_total');
    const bt = await b.render();
    expect(bt).not.toContain('process_cpu');
    expect(sample(bt, 'prescale_cycle_duration_seconds_count')).toBe(0);
    b.observeCycle(NaN);
    expect(sample(await b.render(), 'prescale_cycle_duration_seconds_count')).toBe(0);
  });
});

describe('a target removed', () => {
  it('leaves no series behind (a deleted PredictiveScaler must not fire a stale-forecast alert forever), and the others keep theirs', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const gone = fakeSnapshot({ name: 'shop.gone', historyMinutes: 60, horizon: 30, pastForecastMinutes: 30, base: 100, withModel: true, actions: [action({ atMs: NOW, target: 'shop.gone' })] });
    m.recordSnapshot(gone);
    m.recordSnapshot(fakeSnapshot({ name: 'shop.stays', historyMinutes: 60, horizon: 30, pastForecastMinutes: 0, base: 100, withModel: true }));
    const before = await m.render();
    expect(before.split('\n').filter((l) => l.includes('target="shop.gone"')).length).toBeGreaterThan(20);
    m.forgetTarget('shop.gone');
    const after = await m.render();
    expect(after.split('\n').filter((l) => l.includes('target="shop.gone"'))).toEqual([]);
    expect(after.split('\n').filter((l) => l.includes('target="shop.stays"')).length).toBeGreaterThan(20);
  });
});
