// cityops pages: small behaviours shared by every page. No inline scripts anywhere (CSP
// script-src 'self'): pages pass data in data-* attributes or <script type="application/json">.
(function () {
  "use strict";
  var token = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };
  // htmx requests carry the CSRF token in a header (forms carry it in a hidden field).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = token();
  });
  // <button data-confirm="…"> asks before its form is sent.
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  // <input type=file data-max-bytes> refuses oversized or non-image files before upload
  // (the server checks again; this only saves a long upload on a phone).
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var lang = document.documentElement.lang;
    for (var i = 0; i < input.files.length; i++) {
      var f = input.files[i];
      var bad = f.size > max ? (lang === "en" ? "Photo too large: " : "照片过大：") :
        (!/^image\/(jpeg|png|webp)$/.test(f.type) ? (lang === "en" ? "Not a photo: " : "不是照片：") : "");
      if (bad) {
        input.setCustomValidity(bad + f.name);
        input.reportValidity();
        return;
      }
    }
    input.setCustomValidity("");
  });
  // Double-submits: a form disables its buttons once sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("hx-get") || form.method.toLowerCase() === "get") return;
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // The device's location fills lon/lat inputs: <button data-locate="prefix">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-locate]") : null;
    if (!button || !navigator.geolocation) return;
    event.preventDefault();
    var prefix = button.getAttribute("data-locate");
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.dispatchEvent(new CustomEvent("cityops:located", {
        detail: { prefix: prefix, lon: pos.coords.longitude, lat: pos.coords.latitude }
      }));
    }, function () {
      button.textContent = document.documentElement.lang === "en" ? "Location unavailable" : "无法获取位置";
    }, { enableHighAccuracy: true, timeout: 10000 });
  });
  // A search box filtering a <select> or a list: <input data-filter-for="id">.
  document.addEventListener("input", function (event) {
    var input = event.target;
    var id = input.getAttribute && input.getAttribute("data-filter-for");
    if (!id) return;
    var q = input.value.trim().toLowerCase();
    var target = document.getElementById(id);
    if (!target) return;
    var items = target.tagName === "SELECT" ? target.options : target.children;
    var firstShown = null;
    for (var i = 0; i < items.length; i++) {
      var show = !q || items[i].textContent.toLowerCase().indexOf(q) >= 0 || (items[i].value || "").indexOf(q) === 0;
      items[i].hidden = !show;
      if (show && !firstShown && items[i].value) firstShown = items[i];
    }
    if (target.tagName === "SELECT" && firstShown && target.selectedOptions.length && target.selectedOptions[0].hidden) {
      target.value = firstShown.value;
    }
  });
})();
