// The overview's TPI chart: ECharts over the JSON the page embeds (no inline script, no CDN).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var holder = document.getElementById("tpi-chart");
  var data = document.getElementById("tpi-data");
  if (!holder || !data || typeof echarts === "undefined") {
    return;
  }
  var series = JSON.parse(data.textContent);
  var chart = echarts.init(holder, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    grid: { left: 48, right: 24, top: 24, bottom: 40 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: series.times, axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", min: 0, max: 10, splitNumber: 5 },
    visualMap: {
      show: false,
      pieces: [
        { gte: 0, lt: 2, color: "#2e9d4f" },
        { gte: 2, lt: 4, color: "#8cc152" },
        { gte: 4, lt: 6, color: "#f2b200" },
        { gte: 6, lt: 8, color: "#f07b26" },
        { gte: 8, lte: 10, color: "#d0312d" }
      ]
    },
    series: [{ name: series.name, type: "line", data: series.tpi, showSymbol: false, smooth: false }]
  });
  holder.setAttribute("data-ready", "1");
  window.addEventListener("resize", function () { chart.resize(); });
});

// Forecast against actual (traffic page): mean forecast speed of one issue's segments and the measured mean.
document.addEventListener("DOMContentLoaded", function () {
  var holder = document.getElementById("versus-chart");
  var data = document.getElementById("versus-data");
  if (!holder || !data || typeof echarts === "undefined") {
    return;
  }
  var series = JSON.parse(data.textContent);
  var chart = echarts.init(holder, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    grid: { left: 48, right: 24, top: 32, bottom: 40 },
    tooltip: { trigger: "axis" },
    legend: { data: series.names, top: 0 },
    xAxis: { type: "category", data: series.times, axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", name: "km/h", min: 0 },
    series: [
      { name: series.names[0], type: "line", data: series.forecast, showSymbol: false, lineStyle: { type: "dashed" } },
      { name: series.names[1], type: "line", data: series.actual, showSymbol: false, connectNulls: false }
    ]
  });
  holder.setAttribute("data-ready", "1");
  window.addEventListener("resize", function () { chart.resize(); });
});
