/* Charts of the briefing, hotspot and ranking pages, drawn with the vendored ECharts.
   Data comes from the page's <script type="application/json" id="chart-data"> block (or, on
   the ranking page, from its table); every container says which chart it holds in
   data-chart. No inline code: the CSP allows scripts from 'self' only. */
(function () {
  "use strict";
  var BRAND = "#0b4ea2", ACCENT = "#d4380d", MUTED = "#6b7686", LINE = "#e3e8ef";
  var PALETTE = ["#0b4ea2", "#2f7dd3", "#5aa2ea", "#8cc2f5", "#237a3b", "#6bb37e", "#b26a00", "#e0a040", "#d4380d", "#9aa5b4"];
  var FONT = '-apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var BASE = { color: PALETTE, textStyle: { fontFamily: FONT, color: "#1c2430" }, animationDuration: 400 };

  function data() {
    var el = document.getElementById("chart-data");
    if (!el) return {};
    try { return JSON.parse(el.textContent || "{}"); } catch (e) { return {}; }
  }

  function axis(extra) {
    return Object.assign({ axisLine: { lineStyle: { color: LINE } }, axisLabel: { color: MUTED },
      splitLine: { lineStyle: { color: "#eef1f5" } } }, extra || {});
  }

  function empty(el) {
    el.classList.add("chart-empty");
    el.textContent = el.getAttribute("data-empty") || "—";
    return null;
  }

  var builders = {
    trend: function (d) {
      if (!d.trend || !d.trend.dates.length) return null;
      return { grid: { left: 40, right: 16, top: 20, bottom: 28 }, tooltip: { trigger: "axis" },
        xAxis: axis({ type: "category", data: d.trend.dates.map(function (s) { return s.slice(5); }), boundaryGap: false }),
        yAxis: axis({ type: "value", minInterval: 1 }),
        series: [{ type: "line", data: d.trend.values, smooth: true, symbolSize: 6,
          lineStyle: { width: 2, color: BRAND }, itemStyle: { color: BRAND },
          areaStyle: { color: "rgba(11,78,162,.10)" } }] };
    },
    categories: function (d) {
      if (!d.categories || !d.categories.length) return null;
      return { tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        legend: { type: "scroll", orient: "vertical", right: 0, top: "middle", textStyle: { color: MUTED } },
        series: [{ type: "pie", radius: ["42%", "70%"], center: ["34%", "50%"], data: d.categories,
          label: { show: false }, itemStyle: { borderColor: "#fff", borderWidth: 2 } }] };
    },
    ranking: function (d) {
      var rows = (d.ranking || []).slice().reverse();
      if (!rows.length) return null;
      return { grid: { left: 8, right: 40, top: 8, bottom: 20, containLabel: true }, tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: axis({ type: "value", max: 100 }),
        yAxis: axis({ type: "category", data: rows.map(function (r) { return r.name; }) }),
        series: [{ type: "bar", barMaxWidth: 18, label: { show: true, position: "right", color: MUTED, formatter: function (p) { return p.value.toFixed(2); } },
          data: rows.map(function (r) { return { value: r.index, itemStyle: { color: r.bottom ? ACCENT : BRAND } }; }) }] };
    },
    hot: function (d) {
      var rows = (d.hot || []).slice(0, 12).reverse();
      if (!rows.length) return null;
      return { grid: { left: 8, right: 24, top: 24, bottom: 20, containLabel: true }, tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { top: 0, right: 0, textStyle: { color: MUTED }, data: [d.labels ? d.labels.count : "count", d.labels ? d.labels.mean : "mean"] },
        xAxis: axis({ type: "value", minInterval: 1 }),
        yAxis: axis({ type: "category", data: rows.map(function (r) { return r.name; }) }),
        series: [
          { name: d.labels ? d.labels.count : "count", type: "bar", barMaxWidth: 16, itemStyle: { color: ACCENT }, data: rows.map(function (r) { return r.count; }) },
          { name: d.labels ? d.labels.mean : "mean", type: "bar", barMaxWidth: 16, itemStyle: { color: "#9aa5b4" }, data: rows.map(function (r) { return r.mean; }) }
        ] };
    },
    grid: function (d) {
      var g = d.grid || {};
      if (!g.items || !g.items.length || !g.districts || !g.districts.length) return null;
      var cells = [], max = 1;
      g.cells.forEach(function (row, i) { row.forEach(function (v, j) { cells.push([j, i, v]); if (v > max) max = v; }); });
      return { tooltip: { position: "top", formatter: function (p) { return g.items[p.value[1]] + " · " + g.districts[p.value[0]] + ": " + p.value[2]; } },
        grid: { left: 8, right: 16, top: 8, bottom: 48, containLabel: true },
        xAxis: axis({ type: "category", data: g.districts, splitArea: { show: true }, axisLabel: { color: MUTED, interval: 0 } }),
        yAxis: axis({ type: "category", data: g.items, splitArea: { show: true } }),
        visualMap: { min: 0, max: max, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120,
          inRange: { color: ["#fdf3ef", "#f7b79c", "#ec7a4e", ACCENT] }, textStyle: { color: MUTED } },
        series: [{ type: "heatmap", data: cells,
          label: { show: true, color: "#1c2430", formatter: function (p) { return p.value[2] ? String(p.value[2]) : ""; } },
          itemStyle: { borderColor: "#fff", borderWidth: 2 } }] };
    }
  };

  /* The ranking page gives its bars as data attributes of the chart's container. */
  function rankingFromAttributes(el) {
    function list(name) { try { return JSON.parse(el.getAttribute(name) || "[]"); } catch (e) { return []; } }
    var names = list("data-names"), values = list("data-values"), codes = list("data-codes"), bottom = list("data-bottom");
    return names.map(function (n, i) { return { name: n, index: values[i], bottom: bottom.indexOf(codes[i]) >= 0 }; });
  }

  function draw() {
    if (!window.echarts) return;
    var d = data();
    var own = document.querySelector("[data-chart=ranking][data-values]");
    if (own) d.ranking = rankingFromAttributes(own);
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.getAttribute("data-chart")];
      var option = build ? build(d) : null;
      if (!option) { empty(el); return; }
      // A grid row per hot item: the container grows with them (CSSOM, allowed by the CSP).
      if (option.series[0].type === "heatmap") el.style.height = Math.max(220, 90 + 30 * option.yAxis.data.length) + "px";
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(Object.assign({}, BASE, option));
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
