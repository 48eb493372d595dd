import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MINUTE_MS } from '../util/clock.js';
import { STRATEGIES, type BacktestResult, type StrategyName } from './backtest.js';
import type { Scenario } from './scenario.js';

/**
 * The backtest report: one HTML file that opens offline. Chart.js (UMD build) and the shared chart code of the
 * dashboard (src/web/public/charts.js) are inlined, with the data as JSON; nothing is fetched from a CDN.
 */

export interface ReportOptions {
  readonly file: string;
  readonly scenario: Scenario;
  /** Shown in the title: the trace the replay came from. */
  readonly trace: string;
}

/** Longest series drawn per chart line; longer ones keep each bucket's max so that peaks still show. */
const MAX_POINTS = 2000;

type Point = [number, number | null];

interface ChartSeries {
  label: string;
  kind: 'line' | 'step' | 'bar';
  points: Point[];
  color?: string;
  dashed?: boolean;
  hidden?: boolean;
}

/** One colour per strategy in every chart, so that the legend reads the same throughout. */
const COLORS: Record<StrategyName | 'demand', string> = { demand: '#2563eb', reactive: '#dc2626', predictive: '#16a34a', 'predictive+calendar': '#d97706', oracle: '#9333ea' };
interface ChartSpec {
  title: string;
  yLabel: string;
  series: ChartSeries[];
}

function points(fromMs: number, values: ArrayLike<number>, scale = 1): Point[] {
  const n = values.length;
  const bucket = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out: Point[] = [];
  for (let i = 0; i < n; i += bucket) {
    let m = -Infinity;
    for (let j = i; j < Math.min(n, i + bucket); j++) if (values[j] > m) m = values[j];
    out.push([fromMs + i * MINUTE_MS, Number.isFinite(m) ? Math.round(m * scale * 1000) / 1000 : null]);
  }
  return out;
}

function present(r: BacktestResult): StrategyName[] {
  return STRATEGIES.filter((n) => r.strategies[n] !== undefined);
}

/** The chart specs of the report (exported for tests). */
export function reportCharts(r: BacktestResult, scenario: Scenario): ChartSpec[] {
  const names = present(r);
  const tl = (n: StrategyName): NonNullable<BacktestResult['strategies'][StrategyName]>['timeline'] => r.strategies[n]!.timeline;
  return [
    {
      title: 'Demand against ready pod capacity',
      yLabel: 'requests per second',
      series: [
        { label: 'demand', kind: 'line', color: COLORS.demand, points: points(r.fromMs, r.demand) },
        ...names.map((n): ChartSeries => ({ label: `${n}: ready pods x ${scenario.pods.qpsPerReplica} QPS`, kind: 'step', color: COLORS[n], points: points(r.fromMs, tl(n).readyPods, scenario.pods.qpsPerReplica) })),
      ],
    },
    {
      title: 'Provisioned concurrency against concurrency needed',
      yLabel: 'concurrent executions',
      series: [
        { label: 'needed (QPS x duration)', kind: 'line', color: COLORS.demand, points: points(r.fromMs, r.pcNeeded) },
        ...names.map((n): ChartSeries => ({ label: `${n}: ready PC`, kind: 'step', color: COLORS[n], points: points(r.fromMs, tl(n).pcReady) })),
        // The planner's scheduled MinCapacity shows the raises made ahead of the peak (hidden at first).
        ...names
          .filter((n) => n !== 'reactive')
          .map((n): ChartSeries => ({ label: `${n}: scheduled MinCapacity`, kind: 'step', color: COLORS[n], dashed: true, hidden: true, points: points(r.fromMs, tl(n).plannedPc) })),
      ],
    },
    {
      title: 'Cold starts (invocations beyond ready provisioned concurrency) per minute',
      yLabel: 'invocations per minute',
      series: names.map((n): ChartSeries => ({ label: n, kind: 'line', color: COLORS[n], points: points(r.fromMs, tl(n).coldStarts) })),
    },
  ];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
/** Text safe inside a <script> element. */
const inScript = (s: string): string => s.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');

function readAsset(candidates: string[], what: string): string {
  for (const c of candidates) if (existsSync(c)) return readFileSync(c, 'utf8');
  throw new Error(`report: ${what} not found (looked in ${candidates.join(', ')})`);
}

function assets(): { chartJs: string; chartsJs: string } {
  const require = createRequire(import.meta.url);
  const chartDir = path.dirname(require.resolve('chart.js'));
  const here = path.dirname(fileURLToPath(import.meta.url));
  return {
    chartJs: readAsset([path.join(chartDir, 'chart.umd.js'), path.join(chartDir, 'chart.umd.min.js')], 'chart.js UMD build'),
    // From src/backtest (tsx) or dist/src/backtest (built): the shared chart code lives in src/web/public.
    chartsJs: readAsset(
      [path.resolve(here, '../web/public/charts.js'), path.resolve(here, '../../../src/web/public/charts.js')],
      'src/web/public/charts.js',
    ),
  };
}

function summaryTable(r: BacktestResult, s: Scenario): string {
  const fmt = (x: number | null, d: number): string => (x === null ? '-' : x.toFixed(d));
  const rows = present(r).map((n) => {
    const x = r.strategies[n]!;
    return `<tr><th>${n}</th><td>${fmt(x.coldStartShare * 100, 3)} %</td><td>${Math.round(x.coldStarts)}</td><td>${x.underProvisionedMinutes}</td><td>${fmt(x.podHours, 1)}</td><td>${fmt(x.pcHours, 1)}</td><td>${fmt(x.cost, 2)}</td><td>${fmt(x.costVsOracle, 3)}</td></tr>`;
  });
  return `<table><thead><tr><th>strategy</th><th>cold-start share</th><th>cold starts</th><th>under-provisioned minutes</th><th>pod-hours</th><th>PC-hours</th><th>cost (${s.prices.podHour}/pod-h, ${s.prices.pcHour}/PC-h)</th><th>cost vs oracle</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The whole report as a string. */
export function renderReport(r: BacktestResult, o: Omit<ReportOptions, 'file'>): string {
  const { chartJs, chartsJs } = assets();
  const charts = reportCharts(r, o.scenario);
  const title = `prescale backtest: ${path.basename(o.trace)}, ${new Date(r.fromMs).toISOString()} to ${new Date(r.toMs).toISOString()}`;
  const data = JSON.stringify(charts).replace(/</g, '\\u003c');
  const canvases = charts.map((_, i) => `<div class="chart"><canvas id="chart${i}"></canvas></div>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}thead th{background:#f3f4f6}tbody th{text-align:left}
.chart{position:relative;height:340px;margin:1.5rem 0}.note{color:#555;font-size:.9rem}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="note">${r.minutes} minutes replayed${r.gapMinutes > 0 ? ` (${r.gapMinutes} without data, interpolated)` : ''}; predictive model: ${esc(r.model ?? 'none')}${r.fitSeconds !== null ? ` (trained in ${r.fitSeconds.toFixed(1)} s on data before the window)` : ''}.
Reactive = HPA on observed load and Lambda target tracking; predictive = the same plus prescale's planner on the forecast; oracle = the same planner fed the actual future. Times in UTC.</p>
${summaryTable(r, o.scenario)}
${canvases}
<details><summary>Scenario</summary><pre>${esc(JSON.stringify(o.scenario, null, 2))}</pre></details>
<script>${inScript(chartJs)}</script>
<script>${inScript(chartsJs)}</script>
<script>
var specs = ${data};
specs.forEach(function (spec, i) { window.PrescaleCharts.renderTimeChart(document.getElementById('chart' + i), spec); });
</script>
</body></html>
`;
}

export function writeReport(r: BacktestResult, o: ReportOptions): void {
  const tmp = `${o.file}.tmp-${process.pid}`;
  writeFileSync(tmp, renderReport(r, o));
  renameSync(tmp, o.file);
}
