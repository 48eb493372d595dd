import { describe, expect, it } from '@jest/globals';
import { createMetrics } from '../../src/obs/metrics.js';
import { fakeSnapshot, NOW } from '../web/fake-snapshots.js';

/** Sample lines of one metric in the exposition, `{labels} value` each. */
function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('the quality gate and the forecast time as metrics (what the PrometheusRule alerts and the dashboard read)', () => {
  const snap = (o: { gate?: { active: boolean; steps: number; modelMae: number; baselineMae: number }; horizon?: number }): ReturnType<typeof fakeSnapshot> => ({
    ...fakeSnapshot({ name: 'checkout', historyMinutes: 60, horizon: o.horizon ?? 30, pastForecastMinutes: 0, base: 100 }),
    ...(o.gate ? { qualityGate: o.gate } : {}),
  });

  it.each([
    { gate: { active: true, steps: 40, modelMae: 12.5, baselineMae: 8 }, active: 1 },
    { gate: { active: false, steps: 40, modelMae: 3, baselineMae: 8 }, active: 0 },
  ])('exports the model\'s live error beside the seasonal baseline\'s ($gate.modelMae vs $gate.baselineMae)', async ({ gate, active }) => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordSnapshot(snap({ gate }));
    const text = await m.render();
    expect(lines(text, 'prescale_quality_gate_model_mae_qps')).toEqual([`prescale_quality_gate_model_mae_qps{target="checkout"} ${gate.modelMae}`]);
    expect(lines(text, 'prescale_quality_gate_baseline_mae_qps')).toEqual([`prescale_quality_gate_baseline_mae_qps{target="checkout"} ${gate.baselineMae}`]);
    expect(lines(text, 'prescale_quality_gate_steps')).toEqual([`prescale_quality_gate_steps{target="checkout"} ${gate.steps}`]);
    expect(lines(text, 'prescale_quality_gate_active')).toEqual([`prescale_quality_gate_active{target="checkout"} ${active}`]);
  });

  it('drops the gate series when a cycle has no verdict (fallback before a forecast), and an undefined error (no steps yet)', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordSnapshot(snap({ gate: { active: false, steps: 40, modelMae: 3, baselineMae: 8 } }));
    m.recordSnapshot(snap({}));
    let text = await m.render();
    for (const n of ['model_mae_qps', 'baseline_mae_qps', 'steps', 'active']) expect(lines(text, `prescale_quality_gate_${n}`)).toEqual([]);
    m.recordSnapshot(snap({ gate: { active: false, steps: 0, modelMae: NaN, baselineMae: NaN } }));
    text = await m.render();
    expect(lines(text, 'prescale_quality_gate_model_mae_qps')).toEqual([]);
    expect(lines(text, 'prescale_quality_gate_steps')).toEqual(['prescale_quality_gate_steps{target="checkout"} 0']);
  });

  it('exports when the forecast in use was made, and nothing before the first forecast', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordSnapshot(snap({ horizon: 0 }));
    expect(lines(await m.render(), 'prescale_forecast_timestamp_seconds')).toEqual([]);
    m.recordSnapshot(snap({}));
    expect(lines(await m.render(), 'prescale_forecast_timestamp_seconds')).toEqual([`prescale_forecast_timestamp_seconds{target="checkout"} ${NOW / 1000}`]);
  });
});
