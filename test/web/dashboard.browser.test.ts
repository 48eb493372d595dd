/**
 * The dashboard in real headless Chromium (Debian `chromium`, driven by playwright-core). Fails, never skips,
 * when Chromium is missing: `.ci/run` installs it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { StateStore } from '../../src/service/state.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { createWebRouter } from '../../src/web/router.js';
import { action, fakeSnapshot, MIN, NOW } from './fake-snapshots.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface ChartSeries {
  label: string;
  kind: string;
  points: number;
  finitePoints: number;
  fill: unknown;
}

describe('dashboard in headless Chromium', () => {
  const store = new StateStore();
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const actions = [
      action({ atMs: NOW - 90 * MIN, target: 'checkout', actuator: 'cloneset:shop/checkout', action: 'patch-scale', detail: 'replicas 20 -> 24' }),
      action({ atMs: NOW - 30 * MIN, target: 'checkout', actuator: 'cloneset:shop/checkout', action: 'patch-scale', result: 'error', detail: 'HTTP 409 conflict' }),
      action({ atMs: NOW, target: 'checkout', actuator: 'cloneset:shop/checkout', action: 'noop', result: 'skipped', detail: 'already at 24' }),
    ];
    store.put(
      fakeSnapshot({ name: 'checkout', historyMinutes: 1440, gaps: [100, 101], horizon: 30, pastForecastMinutes: 1380, base: 200, withModel: true, actions }),
    );
    store.put(fakeSnapshot({ name: 'search', historyMinutes: 0, horizon: 0, pastForecastMinutes: 0, base: 1, fallback: 'no model yet' }));
    const app = express();
    app.use(createWebRouter({ store, registry: createMetrics({ defaultMetrics: false }).registry, readiness: () => ({ ready: true }), clock: { now: () => NOW + 20_000 } }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1366, height: 1100 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.close();
      await once(server, 'close');
    }
  });

  const chartOf = async (id: string): Promise<ChartSeries[]> =>
    (await page.evaluate((cid) => (window as unknown as { __prescaleDebug: { charts: Record<string, unknown> } }).__prescaleDebug.charts[cid], id)) as ChartSeries[];

  it('draws history, past forecasts and the live forecast band of the first target', async () => {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.body.getAttribute('data-loaded-target') === 'checkout');
    const load = await chartOf('chart-load');
    const by = Object.fromEntries(load.map((s) => [s.label, s]));
    expect(by['actual'].points).toBe(1440);
    expect(by['actual'].finitePoints).toBe(1438);
    expect(by['past forecast p50'].points).toBe(1380);
    expect(by['past forecasts p50–p90'].points).toBe(1380);
    expect(by['past forecasts p50–p90'].fill).toBe('-1');
    expect(by['past forecasts p50–p90 (lower)'].kind).toBe('band-lower');
    expect(by['forecast p50'].points).toBe(30);
    expect(by['forecast p99'].points).toBe(30);
    expect(by['forecast p50–p90'].kind).toBe('band');
    expect(by['forecast p50–p90'].finitePoints).toBe(30);
    // The close-up keeps only the last 3 hours of history.
    const zoom = await chartOf('chart-zoom');
    expect(zoom.find((s) => s.label === 'actual')?.points).toBe(180);
    const cap = await chartOf('chart-capacity-0');
    expect(cap.map((s) => [s.label, s.points])).toEqual([
      ['planned replicas', 30],
      ['current', 2],
    ]);
    expect(await page.locator('#actions-table tbody tr').count()).toBe(3);
    expect(await page.locator('#actions-table').innerText()).toContain('HTTP 409 conflict');
    expect(await page.locator('#scores').innerText()).toContain('seasonal-naive');
    expect(await page.locator('#model').innerText()).toMatch(/WAPE 5\.0 %.*in 100 % of 1378 steps/); // 1380 past steps, 2 of them over history gaps
    expect(await page.locator('#model').innerText()).toContain('widened ×1.2 on the holdout: window-peak misses 16 % → 9 %');
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
    // The committed copy for the docs is refreshed on request only, so that a test run leaves the tree clean.
    if (process.env.PRESCALE_UPDATE_DOCS_IMG === '1') {
      mkdirSync('docs/img', { recursive: true });
      copyFileSync('test-artifacts/dashboard.png', 'docs/img/dashboard.png');
    }
  });

  it('switches to the other target and shows its empty states', async () => {
    await page.click('button[data-target="search"]');
    await page.waitForFunction(() => document.body.getAttribute('data-loaded-target') === 'search');
    expect(page.url()).toMatch(/#search$/);
    const load = await chartOf('chart-load');
    expect(load.find((s) => s.label === 'actual')?.points).toBe(0);
    expect(load.some((s) => s.label.startsWith('forecast'))).toBe(false);
    expect(await page.locator('#load-empty').innerText()).toMatch(/No observed load yet/);
    expect(await page.locator('#model').innerText()).toMatch(/No model yet/);
    expect(await page.locator('#capacity').innerText()).toMatch(/No capacity planned yet/);
    expect(await page.locator('#summary').innerText()).toMatch(/fallback: no model yet/);
    expect(await page.locator('button.tab.active').innerText()).toContain('search');
    // The fallback is listed with the actions, since it explains why nothing forecast-driven happens.
    expect(await page.locator('#actions-table tbody tr').count()).toBe(1);
    expect(await page.locator('#actions-table tbody tr').innerText()).toMatch(/fallback[\s\S]*no model yet/);
    await page.screenshot({ path: 'test-artifacts/dashboard-empty.png', fullPage: true });
  });

  it('shows which known event lifts the forecast (calendar badge), and none without one', async () => {
    expect(await page.locator('#summary').innerText()).not.toContain('calendar:');
    const lifted = fakeSnapshot({ name: 'search', historyMinutes: 30, horizon: 10, pastForecastMinutes: 0, base: 3 });
    const uplift = { event: 'spring-sale', tag: 'promo', startMs: NOW + 3 * MIN, endMs: NOW + 63 * MIN, peakP50: 4.5, peakP90: 5.7 };
    store.put({ ...lifted, calendarUplift: uplift });
    await page.evaluate(() => (window as unknown as { __prescaleDebug: { refresh: () => Promise<void> } }).__prescaleDebug.refresh());
    expect(await page.locator('#summary .flags').innerText()).toContain('calendar: spring-sale (promo) p90 x5.70');
  });

  it('picks up new data on refresh and raised no page errors', async () => {
    store.put(fakeSnapshot({ name: 'search', historyMinutes: 60, horizon: 10, pastForecastMinutes: 0, base: 3 }));
    await page.evaluate(() => (window as unknown as { __prescaleDebug: { refresh: () => Promise<void> } }).__prescaleDebug.refresh());
    const load = await chartOf('chart-load');
    expect(load.find((s) => s.label === 'actual')?.points).toBe(60);
    expect(load.find((s) => s.label === 'forecast p50')?.points).toBe(10);
    expect(pageErrors).toEqual([]);
  });
});
