import { describe, expect, it } from '@jest/globals';
import { runBacktest } from '../../src/backtest/backtest.js';
import { renderReport, reportCharts } from '../../src/backtest/report.js';
import { parseScenario } from '../../src/backtest/scenario.js';
import { makeSeries } from '../../src/series/series.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

describe('backtest report', () => {
  it('draws demand, PC and cold starts per strategy, keeping peaks when it thins long series, and inlines its scripts', async () => {
    // 3 days flat at 700 QPS with one minute at 7000 on day 2: the report must still show that minute's peak
    const v = new Float64Array(3 * 1440).fill(700);
    v[1440 + 1001] = 7000;
    const scenario = parseScenario({});
    const r = await runBacktest({ series: makeSeries(T0, MIN, v), fromMs: T0 + 60 * MIN, toMs: T0 + 3 * 1440 * MIN, scenario, strategies: ['reactive', 'oracle'] });
    const charts = reportCharts(r, scenario);
    expect(charts.map((c) => c.series.map((s) => s.label))).toEqual([
      ['demand', 'reactive: ready pods x 100 QPS', 'oracle: ready pods x 100 QPS'],
      ['needed (QPS x duration)', 'reactive: ready PC', 'oracle: ready PC', 'oracle: scheduled MinCapacity'],
      ['reactive', 'oracle'],
    ]);
    const demand = charts[0].series[0].points;
    expect(demand.length).toBeLessThanOrEqual(2000);
    expect(Math.max(...demand.map((p) => p[1] ?? 0))).toBe(7000);
    expect(charts[1].series[0].points[0]).toEqual([T0 + 60 * MIN, 140]); // 700 QPS x 0.2 s
    const html = renderReport(r, { scenario, trace: 'x.csv' });
    expect(html).toContain('<td>0.000 %</td>');
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\/cdn/);
    // inlined scripts cannot close their own element early
    const scripts = html.split('<script>').slice(1);
    expect(scripts.length).toBe(3);
    for (const s of scripts) expect(s.indexOf('</script>')).toBe(s.lastIndexOf('</script>'));
  });
});
