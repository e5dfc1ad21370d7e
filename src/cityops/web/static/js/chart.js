// ECharts charts of cityops pages: <div class="chart" data-option-id="x"> with the option in
// <script type="application/json" id="x">. Charts follow the page's language only through the
// labels the server put in the option.
(function () {
  "use strict";
  function init(el) {
    if (el._cityopsChart || typeof echarts === "undefined") return;
    var source = document.getElementById(el.getAttribute("data-option-id"));
    if (!source) return;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(source.textContent));
    el._cityopsChart = chart;
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function initAll(root) { (root || document).querySelectorAll(".chart").forEach(init); }
  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { initAll(e.target); });
})();
