// The cockpit's map (areas coloured by an indicator's level, a heat layer of open cases per grid
// aggregated on the server), the cards' sparklines and the report's print button. Data comes from
// /api/v1/cockpit/* with the page's own sign-in cookie; nothing is loaded from another host.
(function () {
  "use strict";
  var COLOURS = { normal: "#34a853", blue: "#1a73e8", yellow: "#f9ab00", orange: "#fa7b17", red: "#d93025" };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(url + " " + r.status); return r.json(); });
  }

  function initMap(el) {
    if (el._cockpit || typeof L === "undefined") return;
    var map = L.map(el, { attributionControl: false, preferCanvas: true, zoomSnap: 0.25 });
    el._cockpit = map;
    map.setView([30.32, 120.15], 12);
    var areas = null, values = {}, heat = L.layerGroup().addTo(map);
    var select = document.getElementById("map-indicator");
    var heatBox = document.getElementById("map-heat");
    var legend = document.getElementById("map-legend");

    function style(feature) {
      var v = values[feature.id];
      return { color: "#16325c", weight: 1, fillOpacity: v ? 0.45 : 0.05,
               fillColor: v ? COLOURS[v.level] || "#888" : "#888" };
    }
    function paint() { if (areas) areas.setStyle(style); }
    function loadValues() {
      if (!select) return;
      getJSON(el.getAttribute("data-map-url") + encodeURIComponent(select.value)).then(function (data) {
        values = data.values || {};
        paint();
        if (legend) legend.textContent = data.name + (data.unit ? "（" + data.unit + "）" : "");
      }).catch(function () {});
    }
    function loadHeat() {
      heat.clearLayers();
      if (heatBox && !heatBox.checked) return;
      getJSON(el.getAttribute("data-heat-url")).then(function (data) {
        var max = 1;
        data.points.forEach(function (p) { if (p[2] > max) max = p[2]; });
        data.points.forEach(function (p) {
          var w = p[2] / max;
          L.circleMarker([p[1], p[0]], { radius: 3 + 9 * Math.sqrt(w), stroke: false,
            fillColor: w > 0.6 ? "#d93025" : w > 0.3 ? "#fa7b17" : "#f9ab00", fillOpacity: 0.35 + 0.4 * w })
            .bindTooltip(String(p[2])).addTo(heat);
        });
        el.setAttribute("data-heat-total", data.total);
      }).catch(function () {});
    }
    getJSON(el.getAttribute("data-geo-url")).then(function (geo) {
      areas = L.geoJSON(geo, {
        style: style,
        onEachFeature: function (f, layer) {
          layer.bindTooltip(f.properties.name);
          layer.on("click", function () {
            if (select) window.location = "/cockpit/indicators/" + encodeURIComponent(select.value) + "?area=" + f.id;
          });
        }
      }).addTo(map);
      var b = areas.getBounds();
      if (b.isValid()) map.fitBounds(b, { padding: [8, 8] });
      loadValues();
    }).catch(function () {});
    loadHeat();
    if (select) select.addEventListener("change", loadValues);
    if (heatBox) heatBox.addEventListener("change", loadHeat);
    setInterval(loadHeat, 10000);
    setInterval(loadValues, 60000);
  }

  function sparkline(el) {
    if (el._drawn) return;
    el._drawn = true;
    var values = [];
    try { values = JSON.parse(el.getAttribute("data-values") || "[]").filter(function (v) { return v !== null; }); } catch (e) { return; }
    if (values.length < 2) return;
    var min = Math.min.apply(null, values), max = Math.max.apply(null, values), span = max - min || 1;
    var pts = values.map(function (v, i) {
      return (i * 100 / (values.length - 1)).toFixed(1) + "," + (28 - (v - min) * 26 / span).toFixed(1);
    }).join(" ");
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 100 30");
    svg.setAttribute("preserveAspectRatio", "none");
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts);
    svg.appendChild(line);
    el.appendChild(svg);
  }

  function initChart(el) {
    if (el._cockpitChart || typeof echarts === "undefined") return;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.getAttribute("data-option")));
    el._cockpitChart = chart;
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function initAll(root) {
    (root || document).querySelectorAll(".cockpit-map").forEach(initMap);
    (root || document).querySelectorAll(".cockpit-chart[data-option]").forEach(initChart);
    (root || document).querySelectorAll(".spark").forEach(sparkline);
    (root || document).querySelectorAll("[data-print]").forEach(function (b) {
      if (b._bound) return;
      b._bound = true;
      b.addEventListener("click", function () { window.print(); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { initAll(e.target); });
})();
