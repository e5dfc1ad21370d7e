// Maps of cityops pages (Leaflet). Offline first: the base layer is the district's own GeoJSON
// served by this app (/map/areas.geojson); a tile layer is added only when the server is given a
// tile URL (e.g. 天地图 with its key). The server hands out coordinates already in the tile
// layer's system (WGS-84, or GCJ-02 when the tiles are GCJ-02), so this file never converts.
(function () {
  "use strict";
  var STYLE = {
    district: { color: "#16325c", weight: 2, fill: false },
    street: { color: "#0b57d0", weight: 1.5, fillOpacity: 0.03 },
    community: { color: "#7a8a99", weight: 0.8, fillOpacity: 0, dashArray: "3 3" },
    grid: { color: "#9aa7b3", weight: 0.6, fillOpacity: 0 },
    selected: { color: "#d93025", weight: 2.5, fillColor: "#d93025", fillOpacity: 0.12 }
  };

  function num(el, name) {
    var v = el.getAttribute(name);
    return v === null || v === "" ? null : parseFloat(v);
  }

  function setInputs(prefix, lon, lat) {
    var lonInput = document.getElementById(prefix + "-lon");
    var latInput = document.getElementById(prefix + "-lat");
    if (lonInput) { lonInput.value = lon.toFixed(6); lonInput.dispatchEvent(new Event("change", { bubbles: true })); }
    if (latInput) { latInput.value = lat.toFixed(6); latInput.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  function init(el) {
    if (el._cityopsMap || typeof L === "undefined") return;
    var map = L.map(el, { zoomControl: true, attributionControl: false, preferCanvas: true });
    el._cityopsMap = map;
    map.setView([30.33, 120.15], 12);  // 拱墅区, until the areas arrive
    var tileUrl = el.getAttribute("data-tile-url");
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 18, subdomains: ["0", "1", "2", "3", "4", "5", "6", "7"] }).addTo(map);
    }
    var grid = el.getAttribute("data-grid");
    var lon = num(el, "data-lon"), lat = num(el, "data-lat");
    var marker = null;
    if (lon !== null && lat !== null) {
      marker = L.marker([lat, lon]).addTo(map);
    }
    var markers = [];
    try { markers = JSON.parse(el.getAttribute("data-markers") || "[]"); } catch (e) { markers = []; }
    var bounds = [];
    markers.forEach(function (m) {
      var mk = L.circleMarker([m.lat, m.lon], { radius: 7, color: "#d93025", fillOpacity: 0.8 }).addTo(map);
      if (m.label) {
        var link = document.createElement(m.href ? "a" : "span");
        link.textContent = m.label;
        if (m.href) link.href = m.href;
        mk.bindPopup(link);
      }
      bounds.push([m.lat, m.lon]);
    });
    var url = el.getAttribute("data-areas-url");
    if (url) {
      if (grid) url += (url.indexOf("?") < 0 ? "?" : "&") + "grid=" + encodeURIComponent(grid);
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
        var selected = null;
        var layer = L.geoJSON(data, {
          interactive: false,
          style: function (f) {
            if (grid && f.properties.code === grid) return STYLE.selected;
            return STYLE[f.properties.level] || STYLE.grid;
          },
          onEachFeature: function (f, l) { if (grid && f.properties.code === grid) selected = l; }
        }).addTo(map);
        if (selected) {
          map.fitBounds(selected.getBounds(), { maxZoom: 17, padding: [20, 20] });
        } else if (marker) {
          map.setView(marker.getLatLng(), 16);
        } else if (bounds.length) {
          map.fitBounds(bounds, { maxZoom: 16, padding: [30, 30] });
        } else if (layer.getLayers().length) {
          map.fitBounds(layer.getBounds());
        }
      }).catch(function () { /* the map stays usable without its outlines */ });
    }
    var pick = el.getAttribute("data-pick");
    if (pick) {
      var place = function (lonv, latv) {
        if (marker) { marker.setLatLng([latv, lonv]); } else { marker = L.marker([latv, lonv]).addTo(map); }
        setInputs(pick, lonv, latv);
      };
      map.on("click", function (e) { place(e.latlng.lng, e.latlng.lat); });
      document.addEventListener("cityops:located", function (e) {
        if (e.detail.prefix !== pick) return;
        // The device reports WGS-84; with GCJ-02 tiles the server converts what the form sends
        // (the form's "crs" field says which system its lon/lat are in).
        place(e.detail.lon, e.detail.lat);
        map.setView([e.detail.lat, e.detail.lon], 17);
        var crs = document.getElementById(pick + "-crs");
        if (crs) crs.value = "wgs84";
      });
    }
  }

  function initAll(root) {
    (root || document).querySelectorAll(".map").forEach(init);
  }
  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { initAll(e.target); });
})();
