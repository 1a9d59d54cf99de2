// The pairing page follows the WhatsApp session by itself: it polls our small
// status endpoint, shows a fresh QR code as WAHA rotates it, and switches to
// "Connected as +55 ..." when the phone is linked. Without this file the page
// still works: it shows the code of the moment and a link to reload.
(function () {
  "use strict";

  var root = document.querySelector(".pairing[data-status-url]");
  if (!root) return;

  var POLL_MS = 2000;
  var QR_REFRESH_MS = 10000; // WAHA rotates the code about every 20 s
  var statusUrl = root.getAttribute("data-status-url");
  var qrUrl = root.getAttribute("data-qr-url");
  var image = document.getElementById("qr-image");
  var qrBox = document.getElementById("qr-box");
  var lastStatus = root.getAttribute("data-status");
  var lastQr = Date.now();

  function show(id, visible) {
    var node = document.getElementById(id);
    if (node) node.hidden = !visible;
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node && value !== undefined && value !== null) node.textContent = value;
  }

  function refreshQr() {
    image.src = qrUrl + "?t=" + Date.now(); // a new URL: the browser fetches it again
    lastQr = Date.now();
  }

  function apply(state) {
    var badge = document.querySelector("h1 [data-session-status]");
    if (badge) {
      badge.textContent = state.label;
      badge.className = "badge badge-" + state.badge;
      badge.setAttribute("data-session-status", state.status);
    }
    root.setAttribute("data-status", state.status);
    if (state.working) {
      text("connected-headline", state.headline);
      show("connected", true);
      show("waiting", false);
    } else {
      show("connected", false);
      show("waiting", true);
      text("status-label", state.label);
      text("status-advice", state.advice);
      var scanning = state.status === "SCAN_QR_CODE";
      qrBox.hidden = !scanning;
      if (scanning && (lastStatus !== "SCAN_QR_CODE" || Date.now() - lastQr >= QR_REFRESH_MS)) refreshQr();
    }
    lastStatus = state.status;
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.error) {
          text("status-advice", state.error);
        } else {
          apply(state);
        }
      })
      .catch(function () { /* our server is unreachable for a moment: try again */ })
      .finally(function () {
        if (lastStatus !== "WORKING") setTimeout(poll, POLL_MS);
      });
  }

  if (lastStatus !== "WORKING") setTimeout(poll, POLL_MS);
})();
