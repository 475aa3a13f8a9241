/* Draws every <div data-chart="ID"> from the JSON figure in <script id="ID" type="application/json">
   (written by Django's json_script), with Tandem's fonts and colours. Needs plotly.min.js first. */
(function () {
  "use strict";
  var COLORS = ["#4338ca", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b", "#ec4899"];
  function draw(el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source || !window.Plotly) return;
    var fig = JSON.parse(source.textContent);
    var base = {
      margin: { t: 10, r: 10, b: 40, l: 48 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1c2230" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      colorway: COLORS,
      legend: { orientation: "h", y: -0.2 },
      xaxis: { gridcolor: "#eef0f3" },
      yaxis: { gridcolor: "#eef0f3", rangemode: "tozero" }
    };
    var own = fig.layout || {};
    var layout = Object.assign({}, base, own);
    // A page overriding one axis setting keeps the house style for the rest of that object.
    ["margin", "font", "legend", "xaxis", "yaxis"].forEach(function (key) {
      if (own[key]) layout[key] = Object.assign({}, base[key], own[key]);
    });
    window.Plotly.newPlot(el, fig.data, layout, { displayModeBar: false, responsive: true });
  }
  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
