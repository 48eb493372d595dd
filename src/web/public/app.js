/*
 * The prescale dashboard: polls the JSON API (api/targets, api/targets/:name) and draws one target at a time
 * with the shared chart code (charts.js). No framework and no build step: the page is served as-is.
 * DOM is built with textContent only, because target names, reasons and action details come from config
 * and from outside systems.
 */
/* global PrescaleCharts, Chart */
(function () {
  'use strict';

  var REFRESH_MS = 12000;
  var MINUTE = 60000;
  var HOUR = 60 * MINUTE;
  var ZOOM_BACK_MS = 3 * HOUR;
  var ACTION_BUCKET_MS = 15 * MINUTE;
  var COLORS = {
    actual: '#111827',
    past: '#9333ea',
    forecast: '#2563eb',
    p99: '#dc2626',
    planned: '#2563eb',
    current: '#16a34a',
    ok: '#16a34a',
    quiet: '#9ca3af',
    error: '#dc2626',
  };

  var debug = (window.__prescaleDebug = {
    refreshes: 0,
    selected: null,
    targets: [],
    charts: {},
    lastError: null,
    refresh: refresh,
  });

  var selected = decodeURIComponent(window.location.hash.replace(/^#/, '')) || null;
  var timer = null;
  var inFlight = null;

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (k.indexOf('data-') === 0) e.setAttribute(k, attrs[k]);
      else e[k] = attrs[k];
    });
    (children || []).forEach(function (c) {
      if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmtNum(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var d = digits === undefined ? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : digits;
    return Number(v).toFixed(d);
  }

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return '–';
    return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }

  function fmtAge(ms, nowMs) {
    if (ms === null || ms === undefined) return '–';
    var s = Math.max(0, Math.round((nowMs - ms) / 1000));
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h ago';
    return (s / 86400).toFixed(1) + ' days ago';
  }

  async function getJson(path) {
    var res = await fetch(path, { cache: 'no-store' });
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }

  function renderTabs(list) {
    var nav = $('targets');
    clear(nav);
    list.targets.forEach(function (t) {
      var cls = 'tab' + (t.name === selected ? ' active' : '') + (t.fallback ? ' warn' : '');
      var b = el('button', { class: cls, type: 'button', text: t.name, 'data-target': t.name, title: t.fallback ? 'on fallback' : '' });
      b.addEventListener('click', function () {
        select(t.name);
      });
      nav.appendChild(b);
    });
  }

  function select(name) {
    selected = name;
    if (decodeURIComponent(window.location.hash.slice(1)) !== name) window.history.replaceState(null, '', '#' + encodeURIComponent(name));
    void refresh();
  }

  function badge(text, kind) {
    return el('span', { class: 'badge ' + kind, text: text });
  }

  function renderSummary(t, nowMs) {
    var box = $('summary');
    clear(box);
    var stat = function (label, value) {
      return el('div', { class: 'stat' }, [el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value })]);
    };
    box.appendChild(el('h2', { class: 'target-name', text: t.name }));
    box.appendChild(stat('observed', fmtNum(t.observedQps) + ' QPS'));
    var next = t.forecast ? t.forecast.quantiles.p90[0] : null;
    box.appendChild(stat('forecast p90 (next step)', next ? fmtNum(next[1]) + ' QPS' : '–'));
    box.appendChild(stat('updated', fmtAge(t.updatedAtMs, nowMs)));
    box.appendChild(stat('forecast made', fmtAge(t.forecastAtMs, nowMs)));
    var flags = el('div', { class: 'flags' });
    if (t.fallback.active) flags.appendChild(badge('fallback: ' + (t.fallback.reason || 'reactive'), 'error'));
    else flags.appendChild(badge('forecasting', 'ok'));
    if (t.paused) flags.appendChild(badge('paused', 'quiet'));
    var cal = t.calendarUplift;
    if (cal) flags.appendChild(badge('calendar: ' + cal.event + ' (' + cal.tag + ') p90 x' + (cal.peakP90 === null ? '?' : cal.peakP90.toFixed(2)), 'ok'));
    box.appendChild(flags);
  }

  function pts(list) {
    return (list || []).map(function (p) {
      return [p[0], p[1]];
    });
  }

  function loadSeries(t, fromMs) {
    var keep = function (p) {
      return p[0] >= fromMs;
    };
    var past = t.pastForecasts.filter(keep);
    var series = [
      {
        label: 'past forecasts p50–p90',
        kind: 'band',
        color: COLORS.past,
        points: past.map(function (p) {
          return [p[0], p[1], p[2]];
        }),
      },
      { label: 'past forecast p50', kind: 'line', color: COLORS.past, dashed: true, points: pts(past) },
      { label: 'actual', kind: 'line', color: COLORS.actual, points: t.history.filter(keep) },
    ];
    if (t.forecast) {
      var q = t.forecast.quantiles;
      series.push({
        label: 'forecast p50–p90',
        kind: 'band',
        color: COLORS.forecast,
        points: q.p50.map(function (p, i) {
          return [p[0], p[1], q.p90[i] ? q.p90[i][1] : null];
        }),
      });
      series.push({ label: 'forecast p50', kind: 'line', color: COLORS.forecast, points: q.p50 });
      series.push({ label: 'forecast p99', kind: 'line', color: COLORS.p99, dashed: true, points: q.p99 });
    }
    return series;
  }

  function forecastEnd(t) {
    var f = t.forecast;
    return f ? f.startMs + f.horizon * f.stepMs : t.updatedAtMs;
  }

  function chart(id, spec) {
    var canvas = $(id);
    PrescaleCharts.renderTimeChart(canvas, spec);
    var d = PrescaleCharts.describe(canvas);
    debug.charts[id] = d;
    canvas.setAttribute(
      'data-points',
      JSON.stringify(
        d.reduce(function (acc, s) {
          acc[s.label] = s.points;
          return acc;
        }, {}),
      ),
    );
  }

  function renderLoad(t) {
    var now = { ms: t.updatedAtMs, label: 'now' };
    var msg = $('load-empty');
    var hasHistory = t.history.some(function (p) {
      return p[1] !== null;
    });
    msg.hidden = hasHistory && !!t.forecast;
    msg.textContent = !hasHistory
      ? 'No observed load yet for this target; the chart fills in as the source reports data.'
      : 'No live forecast' + (t.fallback.reason ? ': ' + t.fallback.reason : '') + '. Capacity follows observed load (reactive fallback).';
    var end = forecastEnd(t);
    chart('chart-load', {
      yLabel: 'requests / s',
      xMin: Math.min(t.updatedAtMs - 24 * HOUR, t.history.length ? t.history[0][0] : Infinity),
      xMax: end,
      markers: [now],
      series: loadSeries(t, -Infinity),
    });
    chart('chart-zoom', {
      yLabel: 'requests / s',
      xMin: t.updatedAtMs - ZOOM_BACK_MS,
      xMax: end,
      markers: [now],
      series: loadSeries(t, t.updatedAtMs - ZOOM_BACK_MS),
    });
  }

  function unitOf(kind) {
    return kind === 'cloneset' ? 'replicas' : 'provisioned concurrency';
  }

  function renderCapacity(t) {
    var box = $('capacity');
    var keep = {};
    t.actuators.forEach(function (a, i) {
      var id = 'chart-capacity-' + i;
      keep[id] = true;
      var card = $('wrap-' + id);
      if (!card) {
        card = el('div', { class: 'actuator', id: 'wrap-' + id }, [
          el('h3', {}),
          el('div', { class: 'chart short' }, [el('canvas', { id: id })]),
        ]);
        box.appendChild(card);
      }
      card.querySelector('h3').textContent =
        a.id + ' — planned ' + fmtNum(a.plannedCapacity, 0) + ', current ' + fmtNum(a.currentCapacity, 0) + ' ' + unitOf(a.kind);
      var end = a.schedule.length ? a.schedule[a.schedule.length - 1][0] : t.updatedAtMs;
      var series = [
        {
          label: 'planned ' + unitOf(a.kind),
          kind: 'step',
          color: COLORS.planned,
          points: a.schedule.map(function (p) {
            return [p[0], p[1]];
          }),
        },
      ];
      if (a.currentCapacity !== null) {
        series.push({
          label: 'current',
          kind: 'step',
          color: COLORS.current,
          dashed: true,
          points: [
            [t.updatedAtMs, a.currentCapacity],
            [Math.max(end, t.updatedAtMs + MINUTE), a.currentCapacity],
          ],
        });
      }
      chart(id, { yLabel: unitOf(a.kind), markers: [{ ms: t.updatedAtMs, label: 'now' }], series: series });
    });
    // Drop charts of actuators the newly selected target does not have.
    Array.prototype.slice.call(box.querySelectorAll('.actuator')).forEach(function (n) {
      if (!keep[n.id.replace(/^wrap-/, '')]) {
        var c = n.querySelector('canvas');
        var inst = c && Chart.getChart(c);
        if (inst) inst.destroy();
        delete debug.charts[n.id.replace(/^wrap-/, '')];
        box.removeChild(n);
      }
    });
    var empty = box.querySelector('.empty');
    if (!t.actuators.length && !empty) box.appendChild(el('p', { class: 'empty', text: 'No capacity planned yet (no actuators, or no cycle has finished).' }));
    if (t.actuators.length && empty) box.removeChild(empty);
  }

  function resultClass(r) {
    return r === 'ok' ? 'ok' : r === 'error' ? 'error' : 'quiet';
  }

  function renderActions(t) {
    var buckets = { ok: {}, quiet: {}, error: {} };
    t.actions.forEach(function (a) {
      var b = Math.floor(a.atMs / ACTION_BUCKET_MS) * ACTION_BUCKET_MS;
      var k = resultClass(a.result);
      buckets[k][b] = (buckets[k][b] || 0) + 1;
    });
    var toPoints = function (m) {
      return Object.keys(m)
        .map(Number)
        .sort(function (a, b) {
          return a - b;
        })
        .map(function (b) {
          return [b, m[b]];
        });
    };
    chart('chart-actions', {
      yLabel: 'actions / 15 min',
      xMin: t.updatedAtMs - 24 * HOUR,
      xMax: forecastEnd(t),
      series: [
        { label: 'ok', kind: 'bar', color: COLORS.ok, points: toPoints(buckets.ok) },
        { label: 'skipped / dry-run', kind: 'bar', color: COLORS.quiet, points: toPoints(buckets.quiet) },
        { label: 'error', kind: 'bar', color: COLORS.error, points: toPoints(buckets.error) },
      ],
    });
    var box = $('actions');
    clear(box);
    // A fallback is a state of the target, not an actuator action; list it on top so it is not missed.
    var list = t.fallback.active
      ? [{ atMs: t.updatedAtMs, actuator: '(all)', action: 'fallback', result: 'error', detail: t.fallback.reason || 'reactive fallback' }].concat(t.actions)
      : t.actions;
    if (!list.length) {
      box.appendChild(el('p', { class: 'empty', text: 'No actions yet.' }));
      return;
    }
    var rows = list.slice(0, 50).map(function (a) {
      return el('tr', { class: resultClass(a.result) }, [
        el('td', { class: 'nowrap', text: fmtTime(a.atMs) }),
        el('td', { text: a.actuator }),
        el('td', { text: a.action }),
        el('td', {}, [badge(a.result, resultClass(a.result))]),
        el('td', { text: a.detail }),
      ]);
    });
    var head = el('tr', {}, ['time', 'actuator', 'action', 'result', 'detail'].map(function (h) {
      return el('th', { text: h });
    }));
    box.appendChild(el('div', { class: 'scroll' }, [el('table', { id: 'actions-table' }, [el('thead', {}, [head]), el('tbody', {}, rows)])]));
    if (list.length > 50) box.appendChild(el('p', { class: 'muted', text: 'Newest 50 of ' + list.length + ' shown; the audit log has all.' }));
  }

  function renderModel(t, nowMs) {
    var box = $('model');
    clear(box);
    var m = t.model;
    var e = t.liveError;
    var live = e
      ? 'WAPE ' + fmtNum(e.wape * 100, 1) + ' %, MAE ' + fmtNum(e.mae) + ' QPS, actual ≤ p90 in ' + fmtNum(e.p90Coverage * 100, 0) + ' % of ' + e.steps + ' steps'
      : 'not enough matured forecasts yet';
    if (!m) {
      box.appendChild(el('p', { class: 'empty', text: 'No model yet: prescale plans from observed load until one is trained.' }));
      return;
    }
    var dl = el('dl', { class: 'kv' });
    var rows = [
      ['kind', m.kind],
      ['trained', fmtTime(m.trainedAtMs) + ' (' + fmtAge(m.trainedAtMs, nowMs) + ')'],
      ['backend', m.backend],
      ['live error, last 24 h', live],
    ];
    if (m.liveMase !== null) rows.push(['live MASE (rolling)', fmtNum(m.liveMase, 3)]);
    if (m.band) {
      var pct = function (v) {
        return v === null ? '–' : fmtNum(v * 100, 0);
      };
      rows.push(['p90 band', m.band.exponent === 1
        ? 'as fitted (holdout window-peak misses ' + pct(m.band.holdoutUfrBefore) + ' %)'
        : 'widened ×' + m.band.exponent + ' on the holdout: window-peak misses ' + pct(m.band.holdoutUfrBefore) + ' % → ' + pct(m.band.holdoutUfrAfter) + ' %']);
    }
    rows.forEach(function (kv) {
      dl.appendChild(el('dt', { text: kv[0] }));
      dl.appendChild(el('dd', { text: kv[1] }));
    });
    box.appendChild(dl);
    var methods = Object.keys(m.scores);
    if (!methods.length) return;
    var metrics = [];
    methods.forEach(function (k) {
      Object.keys(m.scores[k]).forEach(function (s) {
        if (metrics.indexOf(s) < 0) metrics.push(s);
      });
    });
    var head = el('tr', {}, [el('th', { text: 'holdout' })].concat(metrics.map(function (s) {
      return el('th', { text: s });
    })));
    var scoreRows = methods.map(function (k) {
      return el('tr', { class: k === m.kind ? 'current' : '' }, [el('td', { text: k })].concat(metrics.map(function (s) {
        var v = m.scores[k][s];
        // Counts (windows, points) are whole numbers; scores get three decimals.
        return el('td', { class: 'num', text: fmtNum(v, Number.isInteger(v) && Math.abs(v) >= 2 ? 0 : 3) });
      })));
    });
    box.appendChild(el('div', { class: 'scroll-x' }, [el('table', { id: 'scores' }, [el('thead', {}, [head]), el('tbody', {}, scoreRows)])]));
  }

  function renderTarget(t, nowMs) {
    $('target').hidden = false;
    renderSummary(t, nowMs);
    renderLoad(t);
    renderCapacity(t);
    renderActions(t);
    renderModel(t, nowMs);
    document.body.setAttribute('data-loaded-target', t.name);
  }

  async function doRefresh() {
    try {
      var list = await getJson('api/targets');
      debug.targets = list.targets.map(function (t) {
        return t.name;
      });
      var names = debug.targets;
      if (!selected || names.indexOf(selected) < 0) selected = names.length ? names[0] : null;
      debug.selected = selected;
      renderTabs(list);
      $('empty').hidden = names.length > 0;
      if (!selected) {
        $('target').hidden = true;
      } else {
        var t = await getJson('api/targets/' + encodeURIComponent(selected));
        if (t.name === selected) renderTarget(t, list.nowMs);
      }
      $('status').textContent =
        (list.ready === false ? 'NOT READY · ' : '') + 'server time ' + fmtTime(list.nowMs) + ' · refreshes every ' + REFRESH_MS / 1000 + ' s';
      $('status').className = list.ready === false ? 'warn' : 'muted';
      debug.lastError = null;
    } catch (err) {
      debug.lastError = String(err && err.message ? err.message : err);
      $('status').textContent = 'refresh failed: ' + debug.lastError + ' (retrying)';
      $('status').className = 'warn';
    }
    debug.refreshes++;
  }

  /** One refresh at a time: a click during a slow poll waits for it, then fetches the new target. */
  function refresh() {
    var run = function () {
      inFlight = doRefresh().finally(function () {
        inFlight = null;
      });
      return inFlight;
    };
    var p = inFlight ? inFlight.then(run) : run();
    clearTimeout(timer);
    timer = setTimeout(tick, REFRESH_MS);
    return p;
  }

  // A background tab skips its polls and catches up as soon as it is shown again.
  function tick() {
    if (document.hidden) {
      clearTimeout(timer);
      timer = setTimeout(tick, REFRESH_MS);
      return;
    }
    void refresh();
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) void refresh();
  });

  window.addEventListener('hashchange', function () {
    var h = decodeURIComponent(window.location.hash.slice(1));
    if (h && h !== selected) select(h);
  });
  void refresh();
})();
