// The Health tab's charts (templates/webhooks/tabs/_charts.html), drawn with the vendored
// Chart.js from the JSON the partial carries. Charts are made for the page and for each htmx swap,
// and destroyed with the canvas they draw on. No inline scripts or styles (CSP): Chart.js sizes
// its canvas through the CSSOM, which the policy allows.
(function () {
  "use strict";

  if (!window.Chart) return;  // the figures keep their sentences

  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // -- Labels: each hour's start in the viewer's local time ---------------------------------------
  // "14:00" on a 24-hour clock, "2:00 PM" (not "02:00 PM") on a 12-hour one.
  var HOUR12 = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hour12;
  var CLOCK = new Intl.DateTimeFormat(undefined, { hour: HOUR12 ? "numeric" : "2-digit", minute: "2-digit" });
  var DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });
  var DATE_KEY = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric" });
  var FULL = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric",
                                                   hour: HOUR12 ? "numeric" : "2-digit", minute: "2-digit",
                                                   timeZoneName: "short" });

  // "Fri 27" in every locale (some order it "27 Fri", which reads oddly alone on an axis), or
  // "Fri" where the axis is narrow.
  function dayLabel(date, narrow) {
    var parts = {};
    DAY.formatToParts(date).forEach(function (part) { parts[part.type] = part.value; });
    return narrow ? parts.weekday : parts.weekday + " " + parts.day;
  }

  // 24 hours: "14:00" (the axis skips what does not fit). 7 days: the day where a new local
  // day begins and nothing elsewhere, so the axis shows one label and grid line per day.
  function axisLabels(dates, period, narrow) {
    if (period !== "7d") return dates.map(function (d) { return CLOCK.format(d); });
    return dates.map(function (d, i) {
      var newDay = i > 0 && DATE_KEY.format(d) !== DATE_KEY.format(dates[i - 1]);
      return newDay ? dayLabel(d, narrow) : "";
    });
  }

  // -- Chart options --------------------------------------------------------------------------------
  function baseOptions(data, dates, yTitle) {
    var weekly = data.period === "7d";
    var narrowLabels = axisLabels(dates, data.period, true);
    return {
      responsive: true,
      maintainAspectRatio: false,  // the wrapper's CSS height decides
      animation: reducedMotion.matches ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
        tooltip: { callbacks: { title: function (items) { return items.length ? FULL.format(dates[items[0].dataIndex]) : ""; } } }
      },
      scales: {
        x: {
          ticks: { maxRotation: 0, autoSkip: !weekly,
                   callback: function (value, index) {
                     var narrow = weekly && this.chart.width < 480;  // about 40 px a day: "Fri" fits, "Fri 27" not
                     return (narrow ? narrowLabels[index] : this.getLabelForValue(value)) || null;
                   } },
          grid: { display: weekly, color: cssVar("--line") }
        },
        y: { beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle },
             ticks: { precision: 0 }, grid: { color: cssVar("--line") } }
      }
    };
  }

  function deliveriesConfig(data, dates) {
    var options = baseOptions(data, dates, "");
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    function bars(label, values, colour) {
      return { label: label, data: values, backgroundColor: colour, borderWidth: 0, barPercentage: 1, categoryPercentage: 0.85 };
    }
    return {
      type: "bar",
      data: { labels: axisLabels(dates, data.period), datasets: [
        bars("Succeeded", data.succeeded, cssVar("--ok")),
        bars("Failed", data.failed, cssVar("--bad")),
        bars("Retried", data.retrying, cssVar("--warn"))
      ] },
      options: options
    };
  }

  function responseTimeConfig(data, dates) {
    var options = baseOptions(data, dates, "ms");
    options.plugins.tooltip.callbacks.label = function (item) {
      return item.dataset.label + ": " + (item.raw == null ? "no attempts" : item.formattedValue + " ms");
    };
    // p95 is dashed as well as coloured, so the two lines differ without colour.
    options.plugins.legend.labels = { usePointStyle: true, pointStyle: "line", pointStyleWidth: 28 };
    var weekly = data.period === "7d";
    // 168 points would hide the lines: over 7 days only an hour without neighbours (no line to
    // draw) gets a dot.
    function pointRadius(context) {
      var values = context.dataset.data, i = context.dataIndex;
      return !weekly || (values[i - 1] == null && values[i + 1] == null) ? 2 : 0;
    }
    function line(label, values, colour, dash) {
      return { label: label, data: values, borderColor: colour, backgroundColor: colour,
               borderWidth: weekly ? 1.5 : 2, borderDash: dash, pointRadius: pointRadius, pointHoverRadius: 4,
               spanGaps: false, tension: 0 };
    }
    return {
      type: "line",
      data: { labels: axisLabels(dates, data.period), datasets: [
        line("p50", data.p50_ms, cssVar("--brand"), []),
        line("p95", data.p95_ms, cssVar("--warn"), [6, 4])
      ] },
      options: options
    };
  }

  var CONFIGS = { deliveries: deliveriesConfig, "response-time": responseTimeConfig };

  // -- Making and destroying -------------------------------------------------------------------------
  function readData(canvas) {
    var group = canvas.closest("[data-health-charts]");
    var source = group && group.querySelector('script[type="application/json"]');
    return source ? JSON.parse(source.textContent) : null;
  }

  function draw(canvas) {
    var build = CONFIGS[canvas.dataset.chart];
    if (!build || Chart.getChart(canvas)) return;
    var data = readData(canvas);
    if (!data) return;
    var box = canvas.closest("[data-chart-box]");
    if (box) box.hidden = false;  // shown before drawing: Chart.js measures it
    var dates = data.labels.map(function (iso) { return new Date(iso); });
    new Chart(canvas, build(data, dates));
    // The canvas's label says what the sentence says: read it once.
    var summary = canvas.closest("figure").querySelector("[data-chart-summary]");
    if (summary) summary.setAttribute("aria-hidden", "true");
  }

  function drawCharts(root) {
    if (root.matches && root.matches("canvas[data-chart]")) draw(root);
    if (root.querySelectorAll) root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  function destroy(canvas) {
    var chart = Chart.getChart(canvas);
    if (chart) chart.destroy();
  }

  // Charts whose canvas left the page some other way than an htmx swap.
  function destroyDetached() {
    Object.keys(Chart.instances).forEach(function (id) {
      var chart = Chart.instances[id];
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
  }

  // htmx's history snapshot copies the markup, and a drawn canvas carries the style attribute
  // Chart.js set: restored as HTML, that is an inline style the CSP refuses. Snapshot bare
  // canvases, then draw again whatever the coming swap leaves in place.
  function bareForSnapshot(root) {
    var canvases = Array.prototype.slice.call(root.querySelectorAll("canvas[data-chart]"));
    canvases.forEach(function (canvas) {
      destroy(canvas);
      ["style", "width", "height"].forEach(function (name) { canvas.removeAttribute(name); });
    });
    setTimeout(function () {
      canvases.forEach(function (canvas) { if (canvas.isConnected) draw(canvas); });
    }, 0);
  }

  // -- Wiring -----------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (e) {
    destroyDetached();
    drawCharts(e.detail.elt);
  });
  document.addEventListener("htmx:beforeCleanupElement", function (e) {
    if (e.target.matches && e.target.matches("canvas[data-chart]")) destroy(e.target);
  });
  document.addEventListener("htmx:beforeHistorySave", function (e) {
    bareForSnapshot(e.detail.historyElt || document.body);
  });
})();
