/**
 * The chart's alerts (deploy/helm/prescale/files/prometheus-rules.yaml, rendered into the PrometheusRule by
 * helm) checked and run by promtool (Debian's `prometheus` package; npm test installs it): `promtool check
 * rules`, and `promtool test rules` with input series that fire each alert and series that do not. Every metric
 * an alert reads must be one prescale exports (src/obs/metrics.ts, recorded from a snapshot here).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createMetrics } from '../../src/obs/metrics.js';
import { CHART, Helm, type Obj } from '../support/helm.js';
import { fakeSnapshot } from '../web/fake-snapshots.js';

const RULES_FILE = join(CHART, 'files/prometheus-rules.yaml');
const dir = mkdtempSync(join(tmpdir(), 'prescale-rules-'));
const helm = new Helm();
afterAll(() => {
  helm.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function promtool(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (Debian's prometheus package; npm test installs it): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The rule groups of the rendered PrometheusRule, written as a Prometheus rules file. */
function renderedRules(values: object, name: string): { file: string; groups: Obj[] } {
  const docs = helm.template({ prometheusRule: { enabled: true, ...values } }, { showOnly: 'templates/prometheusrule.yaml' });
  expect(docs.map((d) => d.kind)).toEqual(['PrometheusRule']);
  const groups = docs[0].spec.groups as Obj[];
  const file = join(dir, `${name}.rules.yaml`);
  writeFileSync(file, stringify({ groups }));
  return { file, groups };
}

const alertOf = (groups: Obj[], name: string): Obj => groups.flatMap((g) => g.rules as Obj[]).find((r) => r.alert === name);

/** Two replicas report every target: the alerts must fire once per target, not once per pod. */
const pods = ['prescale-7d9f-a', 'prescale-7d9f-b'];
const series = (metric: string, target: string, values: string, onlyFirstPod = false): Obj[] =>
  (onlyFirstPod ? pods.slice(0, 1) : pods).map((pod) => ({ series: `${metric}{job="prescale",namespace="prescale",instance="${pod}:8080",pod="${pod}",target="${target}"}`, values }));
const labels = (target: string, severity: string): Obj => ({ job: 'prescale', namespace: 'prescale', target, severity });

/** A promtool unit-test file for the rendered rules with the given thresholds (minutes). */
function unitTests(rulesFile: string, t: { fallback: number; stale: number; worse: number }): string {
  const fallbackAnnotations = (target: string): Obj => ({
    summary: `prescale target ${target} has been in fallback for more than ${t.fallback} minutes`,
    description: `Scaling of ${target} is reactive only: see /readyz or the audit log for the reason, and the target's history source.`,
  });
  const frozenAt = 5; // minutes: the forecast time stops moving here
  const staleAge = (evalMin: number): string => `${evalMin - frozenAt}m 0s`;
  const tests = [
    {
      // checkout: in fallback throughout; search: never; inventory: in fallback for less than the threshold, then not.
      interval: '1m',
      input_series: [
        ...series('prescale_fallback_active', 'checkout', `1x${t.fallback + 20}`),
        ...series('prescale_fallback_active', 'search', `0x${t.fallback + 20}`),
        ...series('prescale_fallback_active', 'inventory', `1x${t.fallback - 2} 0x22`),
      ],
      alert_rule_test: [
        { eval_time: `${t.fallback - 1}m`, alertname: 'PrescaleFallbackActive', exp_alerts: [] },
        { eval_time: `${t.fallback + 1}m`, alertname: 'PrescaleFallbackActive', exp_alerts: [{ exp_labels: labels('checkout', 'warning'), exp_annotations: fallbackAnnotations('checkout') }] },
      ],
    },
    {
      // checkout's forecast time stops at 5 min (300 s); search's keeps up with the clock (a forecast every minute).
      interval: '1m',
      input_series: [...series('prescale_forecast_timestamp_seconds', 'checkout', `0+60x${frozenAt} 300x${t.stale + 20}`), ...series('prescale_forecast_timestamp_seconds', 'search', `0+60x${t.stale + 25}`)],
      alert_rule_test: [
        { eval_time: `${frozenAt + t.stale - 1}m`, alertname: 'PrescaleForecastStale', exp_alerts: [] },
        {
          eval_time: `${frozenAt + t.stale + 1}m`,
          alertname: 'PrescaleForecastStale',
          exp_alerts: [
            {
              exp_labels: labels('checkout', 'warning'),
              exp_annotations: {
                summary: `prescale's forecast for checkout is ${staleAge(frozenAt + t.stale + 1)} old`,
                description: 'No new forecast for checkout: the HPA is served the observed load, or nothing.',
              },
            },
          ],
        },
      ],
    },
    {
      // checkout: the model's error (20 QPS) above the baseline's (10) over 40 steps; search: below it;
      // inventory: above it but over 5 steps only, too few for the gate to judge.
      interval: '1m',
      input_series: [
        ...series('prescale_quality_gate_model_mae_qps', 'checkout', `20x${t.worse + 20}`),
        ...series('prescale_quality_gate_baseline_mae_qps', 'checkout', `10x${t.worse + 20}`),
        ...series('prescale_quality_gate_steps', 'checkout', `40x${t.worse + 20}`),
        ...series('prescale_quality_gate_model_mae_qps', 'search', `5x${t.worse + 20}`),
        ...series('prescale_quality_gate_baseline_mae_qps', 'search', `10x${t.worse + 20}`),
        ...series('prescale_quality_gate_steps', 'search', `40x${t.worse + 20}`),
        ...series('prescale_quality_gate_model_mae_qps', 'inventory', `20x${t.worse + 20}`, true),
        ...series('prescale_quality_gate_baseline_mae_qps', 'inventory', `10x${t.worse + 20}`, true),
        ...series('prescale_quality_gate_steps', 'inventory', `5x${t.worse + 20}`, true),
      ],
      alert_rule_test: [
        { eval_time: `${t.worse - 1}m`, alertname: 'PrescaleModelWorseThanBaseline', exp_alerts: [] },
        {
          eval_time: `${t.worse + 1}m`,
          alertname: 'PrescaleModelWorseThanBaseline',
          exp_alerts: [
            {
              exp_labels: labels('checkout', 'info'),
              exp_annotations: {
                summary: "prescale's model for checkout forecasts worse than the seasonal baseline",
                description: "Live MAE 20 QPS above the day-ago baseline's: the plan uses the baseline; retrain or check the target's history.",
              },
            },
          ],
        },
      ],
    },
  ];
  const file = rulesFile.replace(/\.rules\.yaml$/, '.test.yaml');
  writeFileSync(file, stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests }));
  return file;
}

describe('the chart\'s alerts, by promtool', () => {
  it('the PrometheusRule template includes the one rules file', () => {
    const template = readFileSync(join(CHART, 'templates/prometheusrule.yaml'), 'utf8');
    expect(template).toContain('.Files.Get "files/prometheus-rules.yaml"');
    expect(readFileSync(RULES_FILE, 'utf8')).toContain('groups:');
    const { groups } = renderedRules({}, 'names');
    expect(groups.flatMap((g) => (g.rules as Obj[]).map((r) => r.alert)).sort()).toEqual(['PrescaleFallbackActive', 'PrescaleForecastStale', 'PrescaleModelWorseThanBaseline']);
  });

  it.each([
    ['the default values', {}, { fallback: 15, stale: 10, worse: 30 }],
    ['other thresholds', { fallbackMinutes: 5, staleForecastMinutes: 3, modelWorseMinutes: 12 }, { fallback: 5, stale: 3, worse: 12 }],
  ])('with %s: promtool check rules passes, and each alert fires on the series meant to fire it and on no other', (name, values, t) => {
    const { file, groups } = renderedRules(values, name.replace(/\W+/g, '-'));
    expect(alertOf(groups, 'PrescaleFallbackActive').for).toBe(`${t.fallback}m`);
    expect(alertOf(groups, 'PrescaleModelWorseThanBaseline').for).toBe(`${t.worse}m`);
    const check = promtool(['check', 'rules', file]);
    expect({ code: check.code, out: check.out }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 3 rules found') });
    const run = promtool(['test', 'rules', unitTests(file, t)]);
    expect({ code: run.code, out: run.out }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('every metric the alerts read is one prescale exports', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.recordSnapshot({
      ...fakeSnapshot({ name: 'checkout', historyMinutes: 60, horizon: 30, pastForecastMinutes: 60, base: 100, withModel: true }),
      qualityGate: { active: false, steps: 40, modelMae: 3, baselineMae: 8 },
    });
    const exported = new Set((await m.render()).split('\n').flatMap((l) => (/^(prescale_\w+)[{ ]/.exec(l)?.slice(1, 2) ?? [])));
    const { groups } = renderedRules({}, 'metrics');
    const used = new Set(groups.flatMap((g) => (g.rules as Obj[]).flatMap((r) => [...String(r.expr).matchAll(/\bprescale_\w+/g)].map((x) => x[0]))));
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const u of used) expect({ metric: u, exported: exported.has(u) }).toEqual({ metric: u, exported: true });
  });
});
