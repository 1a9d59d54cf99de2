// Progressive enhancement for the chrono form. Every part of the page works
// without this file (the buttons submit the form and the server answers);
// with it, the preview follows the typing and Test / Paste curl answer in place.
// No inline scripts anywhere: this file is all the JavaScript there is.
(function () {
  "use strict";

  var form = document.querySelector("form.chrono-form");
  if (!form) return;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function replace(container, nodes) {
    while (container.firstChild) container.removeChild(container.firstChild);
    nodes.forEach(function (node) { container.appendChild(node); });
  }

  // --- fields of the chosen target type only -------------------------------
  function showTarget() {
    var chosen = form.querySelector('input[name="target_type"]:checked');
    form.querySelectorAll("[data-target]").forEach(function (section) {
      section.hidden = Boolean(chosen) && section.getAttribute("data-target") !== chosen.value;
    });
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "target_type") showTarget();
  });
  showTarget();

  // --- live schedule preview -------------------------------------------------
  var preview = document.getElementById("schedule-preview");
  var schedule = form.elements.schedule;
  var timezone = form.elements.timezone;
  var timer = null;
  var latest = 0;

  function renderPreview(data) {
    if (!data.ok) {
      replace(preview, data.error ? [el("p", { "class": "error" }, [data.error])] : []);
      return;
    }
    // The schedule is fine now: an error the server gave it earlier is stale.
    showErrors({ schedule: null }, ["schedule"]);
    var items = data.next.map(function (t) {
      return el("li", {}, [el("time", { datetime: t.iso }, [t.at]), " ", el("span", { "class": "muted" }, [t.relative])]);
    });
    replace(preview, [
      el("p", { "class": "preview-description" }, [el("strong", {}, [data.description])]),
      el("p", { "class": "muted" }, [data.next_label]),
      el("ol", { "class": "preview-times" }, items),
    ]);
  }

  function refreshPreview() {
    var mine = ++latest;
    var query = new URLSearchParams({ schedule: schedule.value, timezone: timezone.value });
    ["starts_at", "ends_at", "spread_s"].forEach(function (name) {
      if (form.elements[name]) query.set(name, form.elements[name].value);
    });
    var url = form.getAttribute("data-preview-url");
    fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + query, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (mine === latest) renderPreview(data); })
      .catch(function () { /* offline: the server checks it on save */ });
  }

  [schedule, timezone, form.elements.starts_at, form.elements.ends_at, form.elements.spread_s].filter(Boolean).forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refreshPreview, 250);
    });
  });

  // --- a WhatsApp message: how long a run takes, the daily cap ---------------
  var estimate = document.getElementById("send-estimate");
  var recipients = form.elements.recipients;
  var estimateTimer = null;
  var estimateLatest = 0;

  function refreshEstimate() {
    var mine = ++estimateLatest;
    var count = recipients.value.split("\n").filter(function (line) { return line.trim(); }).length;
    var query = new URLSearchParams({ recipients: count, schedule: schedule.value, timezone: timezone.value });
    fetch(estimate.getAttribute("data-estimate-url") + "?" + query, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (mine !== estimateLatest) return;
        estimate.querySelector("[data-estimate-text]").textContent = data.text;
        var problem = estimate.querySelector("[data-estimate-problem]");
        problem.textContent = data.problem || "";
        problem.hidden = !data.problem;
      })
      .catch(function () { /* offline: saving checks it */ });
  }

  if (estimate && recipients) {
    [recipients, schedule, timezone].forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(estimateTimer);
        // Only for a WhatsApp message: a webhook's form has nothing to estimate.
        if (!estimate.closest("[data-target]").hidden) estimateTimer = setTimeout(refreshEstimate, 300);
      });
    });
  }

  // --- errors next to the fields --------------------------------------------
  // Every field's error at once (`only`: just these fields); the first one is
  // scrolled to and focused, so a phone shows what stopped the action.
  function showErrors(errors, only) {
    var first = null;
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      var name = p.getAttribute("data-error-for");
      if (only && only.indexOf(name) < 0) return;
      var messages = errors[name];
      p.textContent = messages ? messages.join(" ") : "";
      p.hidden = !messages;
      p.parentNode.classList.toggle("has-error", Boolean(messages));
      var input = form.elements[name];
      if (input && input.setAttribute) {
        if (messages) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      }
      if (messages && !first) first = p.parentNode;
    });
    if (first && !only) {
      var details = first.closest("details");
      if (details) details.open = true;
      first.scrollIntoView({ block: "center" });
      var control = first.querySelector("input, select, textarea");
      if (control) control.focus({ preventScroll: true });
    }
  }

  // --- Test and Paste curl, in place ----------------------------------------
  function post(url) {
    return fetch(url, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (data) { return { status: response.status, data: data }; }); });
  }

  function renderTest(data, container) {
    var nodes = [];
    if (data.summary) nodes.push(el("strong", {}, [data.summary]));
    if (data.http_status) nodes.push(el("strong", {}, ["HTTP " + data.http_status]));
    if (data.duration) nodes.push(el("span", {}, [data.duration]));
    if (data.error) nodes.push(el("p", { "class": "error" }, [data.error]));
    if (data.sent_label) {
      nodes.push(el("p", { "class": "sent" }, [data.sent_label + " ",
        el("code", { translate: "no" }, [data.request.method + " " + data.request.url])]));
      if (data.request.body) nodes.push(el("pre", { translate: "no" }, [data.request.body]));
    }
    if (data.snippet) nodes.push(el("pre", {}, [data.snippet]));
    replace(container, [el("div", { "class": "test-result " + (data.ok ? "ok" : "bad") }, nodes)]);
  }

  function fillFromCurl(data) {
    form.elements.method.value = data.method;
    form.elements.url.value = data.url;
    form.elements.headers.value = data.headers;
    form.elements.payload_format.value = data.payload_format;
    form.elements.payload.value = data.payload;
    if (data.timeout_s) form.elements.timeout_s.value = data.timeout_s;
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    event.preventDefault();
    var action = button.getAttribute("data-action");
    button.disabled = true;
    var url = form.getAttribute(action === "test" ? "data-test-url" : "data-curl-url");
    post(url)
      .then(function (answer) {
        if (action === "test") {
          showErrors(answer.status === 422 ? answer.data.errors : {});
          if (answer.status !== 422) renderTest(answer.data, button.closest(".test-box").querySelector("[data-test-result]"));
        } else if (answer.status === 422) {
          showErrors({ curl: [answer.data.error] });
        } else {
          showErrors({});
          fillFromCurl(answer.data);
        }
      })
      .catch(function () { /* the server is unreachable: nothing to show */ })
      .finally(function () { button.disabled = false; });
  });
})();
