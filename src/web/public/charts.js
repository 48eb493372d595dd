/*
 * Time charts shared by the dashboard and the self-contained backtest report.
 *
 * Plain browser script over Chart.js 4 (the UMD build, global `Chart`): no build step, no date adapter, so
 * it can be served as a file or inlined into an HTML report. The x axis is linear in epoch milliseconds with
 * a tick formatter; times are shown in UTC so that a report and the server logs agree.
 *
 *   window.PrescaleCharts.renderTimeChart(canvas, spec) -> Chart
 *
 *   spec = { title, yLabel, xMin?, xMax?, markers?: [{ms, label}],
 *            series: [{ label, kind: 'line'|'band'|'step'|'bar', points, color?, dashed?, hidden? }] }
 *
 * `points` are [ms, value] pairs, or [ms, lower, upper] for a band; null (or a non-finite number) is a gap.
 * Calling again on the same canvas updates that chart in place rather than stacking a new one on it.
 */
(function (root) {
  'use strict';

  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
  var MINUTE = 60000;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  /** A tick label that carries as much of the date as the visible span needs. */
  function formatTime(ms, spanMs) {
    var d = new Date(ms);
    var hm = pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
    if (spanMs <= 2 * DAY) return hm;
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' + hm;
  }

  function withAlpha(hex, alpha) {
    var m = /^#([0-9a-f]{6})$/i.exec(hex || '');
    if (!m) return hex;
    var n = parseInt(m[1], 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  function xy(points, yIndex) {
    var out = [];
    for (var i = 0; i < (points || []).length; i++) {
      var p = points[i];
      var x = num(p[0]);
      if (x === null) continue;
      out.push({ x: x, y: num(p[yIndex]) });
    }
    return out;
  }

  /** One spec series becomes one Chart.js dataset, or two for a band (lower edge, then upper filled to it). */
  function datasetsFor(s, index) {
    var color = s.color || PALETTE[index % PALETTE.length];
    var base = {
      label: s.label,
      borderColor: color,
      backgroundColor: color,
      borderWidth: 1.5,
      pointRadius: 0,
      pointHitRadius: 4,
      spanGaps: false,
      hidden: !!s.hidden,
      borderDash: s.dashed ? [6, 4] : [],
      prescaleKind: s.kind,
    };
    switch (s.kind) {
      case 'line':
        return [Object.assign(base, { type: 'line', data: xy(s.points, 1), fill: false })];
      case 'step':
        return [Object.assign(base, { type: 'line', data: xy(s.points, 1), fill: false, stepped: 'before' })];
      case 'bar':
        return [
          Object.assign(base, {
            type: 'bar',
            data: xy(s.points, 1),
            backgroundColor: withAlpha(color, 0.6),
            borderWidth: 0,
            // On a linear axis Chart.js sizes bars by the smallest gap between them; cap it so sparse events stay marks.
            barPercentage: 0.9,
            categoryPercentage: 1,
            maxBarThickness: 6,
            // Side-by-side grouping would shift each dataset's bar off its time; they stack instead.
            grouped: false,
          }),
        ];
      case 'band':
        return [
          Object.assign({}, base, {
            type: 'line',
            label: s.label + ' (lower)',
            data: xy(s.points, 1),
            borderColor: withAlpha(color, 0.35),
            borderWidth: 0.5,
            fill: false,
            prescaleKind: 'band-lower',
            prescaleBandOf: s.label,
          }),
          Object.assign(base, {
            type: 'line',
            data: xy(s.points, 2),
            borderColor: withAlpha(color, 0.35),
            backgroundColor: withAlpha(color, 0.18),
            borderWidth: 0.5,
            fill: '-1',
            prescaleKind: 'band',
          }),
        ];
      default:
        throw new Error('PrescaleCharts: unknown series kind ' + JSON.stringify(s.kind) + ' for ' + s.label);
    }
  }

  function spanOf(chart) {
    var sc = chart.scales && chart.scales.x;
    return sc ? sc.max - sc.min : DAY;
  }

  /** Vertical lines at given times (e.g. "now"), drawn under the datasets. */
  var markerPlugin = {
    id: 'prescaleMarkers',
    beforeDatasetsDraw: function (chart) {
      var markers = chart.options.plugins.prescaleMarkers && chart.options.plugins.prescaleMarkers.markers;
      if (!markers || !markers.length) return;
      var x = chart.scales.x;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = '#6b7280';
      ctx.fillStyle = '#374151';
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1;
      ctx.font = '11px sans-serif';
      for (var i = 0; i < markers.length; i++) {
        var px = x.getPixelForValue(markers[i].ms);
        if (!(px >= area.left && px <= area.right)) continue;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        if (markers[i].label) {
          // Near the right edge the label goes on the left of the line so it is not clipped.
          var w = ctx.measureText(markers[i].label).width;
          ctx.fillText(markers[i].label, px + 3 + w > area.right ? px - 3 - w : px + 3, area.top + 10);
        }
      }
      ctx.restore();
    },
  };

  var STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];

  /**
   * Ticks on whole minutes/hours/days (UTC), as many as fit. Chart.js's own linear ticks are "nice" numbers
   * of milliseconds, which fall on odd times like 18:07.
   */
  function timeTicks(axis) {
    var lo = axis.min;
    var hi = axis.max;
    if (!(hi > lo)) return;
    var fit = Math.max(2, Math.min(9, Math.floor((axis.width || 600) / 90)));
    var step = STEPS_MIN[STEPS_MIN.length - 1] * MINUTE;
    for (var i = 0; i < STEPS_MIN.length; i++) {
      if ((hi - lo) / (STEPS_MIN[i] * MINUTE) <= fit) {
        step = STEPS_MIN[i] * MINUTE;
        break;
      }
    }
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push({ value: t });
    axis.ticks = ticks;
  }

  function wholeUnits(spec) {
    var s = spec.series || [];
    return (
      s.length > 0 &&
      s.every(function (x) {
        return x.kind === 'bar' || x.kind === 'step';
      })
    );
  }

  function allBars(spec) {
    var s = spec.series || [];
    return (
      s.length > 0 &&
      s.every(function (x) {
        return x.kind === 'bar';
      })
    );
  }

  function optionsFor(spec) {
    var stacked = allBars(spec);
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: {
          type: 'linear',
          min: num(spec.xMin) === null ? undefined : spec.xMin,
          max: num(spec.xMax) === null ? undefined : spec.xMax,
          offset: false,
          stacked: stacked,
          grid: { offset: false },
          afterBuildTicks: timeTicks,
          title: { display: true, text: 'time (UTC)' },
          ticks: {
            maxRotation: 0,
            autoSkip: false,
            callback: function (value) {
              return formatTime(value, spanOf(this.chart));
            },
          },
        },
        y: {
          beginAtZero: true,
          stacked: stacked,
          title: { display: !!spec.yLabel, text: spec.yLabel || '' },
          // Counts and capacity units are whole numbers: no 0.2-replica ticks.
          ticks: { precision: wholeUnits(spec) ? 0 : undefined },
        },
      },
      plugins: {
        title: { display: !!spec.title, text: spec.title || '' },
        legend: {
          labels: {
            boxWidth: 14,
            filter: function (item, data) {
              return data.datasets[item.datasetIndex].prescaleKind !== 'band-lower';
            },
          },
          onClick: function (_e, item, legend) {
            // A band is two datasets; toggling its label must hide both edges and the fill together.
            var chart = legend.chart;
            var ds = chart.data.datasets;
            var i = item.datasetIndex;
            var visible = chart.isDatasetVisible(i);
            chart.setDatasetVisibility(i, !visible);
            if (ds[i].prescaleKind === 'band' && i > 0 && ds[i - 1].prescaleKind === 'band-lower') {
              chart.setDatasetVisibility(i - 1, !visible);
            }
            chart.update();
          },
        },
        tooltip: {
          callbacks: {
            title: function (items) {
              return items.length ? formatTime(items[0].parsed.x, 3 * DAY) + ' UTC' : '';
            },
          },
        },
        prescaleMarkers: { markers: spec.markers || [] },
      },
    };
  }

  function renderTimeChart(canvas, spec) {
    var Chart = root.Chart;
    if (!Chart) throw new Error('PrescaleCharts needs Chart.js loaded first (global Chart)');
    var datasets = [];
    (spec.series || []).forEach(function (s, i) {
      datasets.push.apply(datasets, datasetsFor(s, i));
    });
    var existing = Chart.getChart(canvas);
    if (existing) {
      existing.data.datasets = datasets;
      existing.options = optionsFor(spec);
      existing.update('none');
      return existing;
    }
    return new Chart(canvas, {
      type: 'line',
      data: { datasets: datasets },
      options: optionsFor(spec),
      plugins: [markerPlugin],
    });
  }

  /** Points per series label (a band counts its upper edge), for tests and debugging. */
  function describe(canvas) {
    var chart = root.Chart && root.Chart.getChart(canvas);
    if (!chart) return null;
    return chart.data.datasets.map(function (d) {
      var finite = 0;
      for (var i = 0; i < d.data.length; i++) if (d.data[i].y !== null) finite++;
      return { label: d.label, kind: d.prescaleKind, points: d.data.length, finitePoints: finite, fill: d.fill };
    });
  }

  root.PrescaleCharts = { renderTimeChart: renderTimeChart, describe: describe, formatTime: formatTime };
})(typeof window !== 'undefined' ? window : globalThis);
