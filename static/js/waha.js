// The WhatsApp pages follow the sessions by themselves, from ChronoFlow's own
// record of them (WAHA pushes every change to ChronoFlow; nothing here asks WAHA):
// - the pairing page polls our small status endpoint, shows a fresh QR code each
//   time WAHA rotates it, and switches to "Connected as +55 ..." once linked;
// - the sessions page polls every session's state and updates each card.
// Without this file the pages still work: they show the state of the moment.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var QR_REFRESH_MS = 10000; // without WAHA's events: WAHA rotates the code about every 20 s

  function show(id, visible) {
    var node = document.getElementById(id);
    if (node) node.hidden = !visible;
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node && value !== undefined && value !== null) node.textContent = value;
  }

  function setBadge(badge, state) {
    if (!badge) return;
    badge.textContent = state.label;
    badge.className = "badge badge-" + state.badge;
    badge.setAttribute("data-session-status", state.status);
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); });
  }

  // --- the pairing page -------------------------------------------------------
  var root = document.querySelector(".pairing[data-status-url]");
  if (root) {
    var statusUrl = root.getAttribute("data-status-url");
    var qrUrl = root.getAttribute("data-qr-url");
    var image = document.getElementById("qr-image");
    var qrBox = document.getElementById("qr-box");
    var lastStatus = root.getAttribute("data-status");
    var lastChange = root.getAttribute("data-changed-at");
    var lastQr = Date.now();

    var refreshQr = function () {
      image.src = qrUrl + "?t=" + Date.now(); // a new URL: the browser fetches it again
      lastQr = Date.now();
    };

    var apply = function (state) {
      setBadge(document.querySelector("h1 [data-session-status]"), state);
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
        // WAHA says SCAN_QR_CODE again with every new code: fetch it then.
        var rotated = state.live ? state.changed_at !== lastChange : Date.now() - lastQr >= QR_REFRESH_MS;
        if (scanning && (lastStatus !== "SCAN_QR_CODE" || rotated)) refreshQr();
      }
      lastStatus = state.status;
      lastChange = state.changed_at;
    };

    var poll = function () {
      getJson(statusUrl)
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
    };

    if (lastStatus !== "WORKING") setTimeout(poll, POLL_MS);
  }

  // --- the sessions page ----------------------------------------------------------
  var list = document.querySelector("[data-states-url]");
  if (list) {
    var statesUrl = list.getAttribute("data-states-url");
    var notLinked = list.getAttribute("data-not-linked");

    var update = function (states) {
      states.forEach(function (state) {
        var card = list.querySelector('[data-session="' + CSS.escape(state.name) + '"]');
        if (!card) return;
        setBadge(card.querySelector("[data-session-status]"), state);
        var number = card.querySelector("[data-session-number]");
        if (number) {
          var words = state.working ? (state.phone || "—") + (state.push_name ? " (" + state.push_name + ")" : "") : notLinked;
          number.textContent = words;
        }
      });
    };

    var pollStates = function () {
      getJson(statesUrl)
        .then(update)
        .catch(function () { /* try again */ })
        .finally(function () { setTimeout(pollStates, POLL_MS * 2); });
    };
    setTimeout(pollStates, POLL_MS * 2);
  }
})();
