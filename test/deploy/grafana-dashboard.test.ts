/**
 * deploy/grafana/prescale-dashboard.json: every metric its PromQL queries (panels and template variables) is one
 * prescale exports — the registry of src/obs/metrics.ts, recorded from a snapshot, is the reference — with the
 * labels the queries match on; every query parses (promtool check rules, on the queries as recording rules with
 * Grafana's variables filled in); and it shows what it is for, templated by target.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createMetrics } from '../../src/obs/metrics.js';
import { ROOT } from '../support/cli.js';
import { action, fakeSnapshot, NOW } from '../web/fake-snapshots.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = any;

const DASHBOARD = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/prescale-dashboard.json'), 'utf8')) as Obj;
const dir = mkdtempSync(join(tmpdir(), 'prescale-dashboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Query {
  readonly where: string;
  readonly expr: string;
}

/** Every PromQL expression of the dashboard: panel targets, and the selector inside each label_values() variable. */
function queries(d: Obj): Query[] {
  const out: Query[] = [];
  const walk = (panels: Obj[]): void => {
    for (const p of panels) {
      for (const t of (p.targets as Obj[] | undefined) ?? []) if (t.expr) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      walk((p.panels as Obj[] | undefined) ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list as Obj[]) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
    if (!m) throw new Error(`variable ${v.name}: only label_values(selector, label) is expected, got ${q}`);
    out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

/** Grafana's variables as a real query would have them. */
const filled = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replaceAll('${horizon}', '5').replaceAll('$horizon', '5').replaceAll('$target', '.*');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** The metric names in a PromQL expression, each with the label names its selector matches on. */
function metricsIn(expr: string): { name: string; labels: string[] }[] {
  const out: { name: string; labels: string[] }[] = [];
  // Strings and grouping clauses hold no metric names.
  const s = filled(expr)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const m of s.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?/g)) {
    const [, name, selector, call] = m;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    const labels = [...(selector ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]);
    out.push({ name, labels });
  }
  return out;
}

/** Sample names of the exposition, with the label names each carries. */
async function exposition(): Promise<Map<string, Set<string>>> {
  const m = createMetrics({ now: () => NOW + 60_000, tensorCount: () => 9, tfjsBackend: () => 'wasm' });
  m.recordSnapshot({
    ...fakeSnapshot({ name: 'checkout', historyMinutes: 120, horizon: 30, pastForecastMinutes: 60, base: 100, withModel: true, actions: [action({ atMs: NOW, target: 'checkout' })] }),
    qualityGate: { active: false, steps: 40, modelMae: 3, baselineMae: 8 },
  });
  m.observeCycle(0.4);
  const out = new Map<string, Set<string>>();
  for (const line of (await m.render()).split('\n')) {
    const x = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(line);
    if (!x) continue;
    const set = out.get(x[1]) ?? new Set<string>();
    for (const l of (x[2] ?? '').matchAll(/(\w+)="/g)) set.add(l[1]);
    out.set(x[1], set);
  }
  return out;
}

describe('the Grafana dashboard', () => {
  const qs = queries(DASHBOARD);

  it('queries only metrics prescale exports, with labels they carry', async () => {
    const exported = await exposition();
    const used = qs.flatMap((q) => metricsIn(q.expr).map((m) => ({ ...m, where: q.where })));
    expect(used.length).toBeGreaterThan(qs.length - 1);
    for (const u of used) {
      expect({ where: u.where, metric: u.name, exported: exported.has(u.name) }).toEqual({ where: u.where, metric: u.name, exported: true });
      for (const l of u.labels) expect({ where: u.where, metric: u.name, label: l, carried: exported.get(u.name)?.has(l) }).toEqual({ where: u.where, metric: u.name, label: l, carried: true });
    }
  });

  it('every query parses (promtool check rules)', () => {
    const rules = qs.map((q, i) => ({ record: `dashboard:query_${i}`, expr: filled(q.expr) }));
    const file = join(dir, 'dashboard.rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    if (r.error) throw new Error(`promtool could not run (Debian's prometheus package; npm test installs it): ${r.error.message}`);
    expect({ code: r.status, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) });
  });

  it('shows forecast against actual, planned against current capacity, fallback and the model\'s error against the baseline\'s', () => {
    const byMetric = (name: string): string[] => qs.filter((q) => metricsIn(q.expr).some((m) => m.name === name)).map((q) => q.where);
    for (const m of [
      'prescale_observed_qps',
      'prescale_forecast_qps',
      'prescale_planned_capacity',
      'prescale_current_capacity',
      'prescale_fallback_active',
      'prescale_quality_gate_model_mae_qps',
      'prescale_quality_gate_baseline_mae_qps',
    ]) {
      expect({ metric: m, panels: byMetric(m).length > 0 }).toEqual({ metric: m, panels: true });
    }
    // Forecast and actual on one panel, planned and current capacity on one panel, model and baseline error on one.
    const panelWith = (...names: string[]): boolean =>
      (DASHBOARD.panels as Obj[]).some((p) => names.every((n) => ((p.targets as Obj[] | undefined) ?? []).some((t) => metricsIn(t.expr).some((m) => m.name === n))));
    expect(panelWith('prescale_observed_qps', 'prescale_forecast_qps')).toBe(true);
    expect(panelWith('prescale_planned_capacity', 'prescale_current_capacity')).toBe(true);
    expect(panelWith('prescale_quality_gate_model_mae_qps', 'prescale_quality_gate_baseline_mae_qps')).toBe(true);
  });

  it('is templated by target: every panel query of a per-target metric selects target=~"$target"', () => {
    const target = (DASHBOARD.templating.list as Obj[]).find((v) => v.name === 'target');
    expect(target).toMatchObject({ type: 'query', multi: true, includeAll: true });
    const exported = qs.filter((q) => q.where.startsWith('panel'));
    for (const q of exported) {
      for (const m of metricsIn(q.expr)) {
        if (m.name === 'prescale_cycle_duration_seconds_bucket') continue; // one per process, no target label
        expect({ where: q.where, metric: m.name, selectsTarget: new RegExp(`${m.name}\\{[^}]*target=~"\\$target"`).test(q.expr) }).toEqual({ where: q.where, metric: m.name, selectsTarget: true });
      }
    }
    for (const p of DASHBOARD.panels as Obj[]) if (p.type !== 'row') expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });
});
