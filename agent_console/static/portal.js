// Department portal: live deadline countdowns, and each action sent to /api/v1/portal with its
// outcome shown in place (pending → done / failed with the server's reason). Nothing inline.
(function () {
  "use strict";
  var root = document.getElementById("portal-root");
  if (!root) { return; }
  var T = JSON.parse(document.getElementById("portal-texts").textContent);
  var csrf = root.dataset.csrf;
  // Count against the server's clock, not the phone's (which may be off by minutes).
  var skew = Date.now() - Date.parse(root.dataset.now);

  // The shared helpers (dom.js), bound to this page's texts and CSRF token.
  var H = window.Hotline, tr = H.texts(T), api = H.api(csrf);

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), rest = pad(h) + ":" + pad(m) + ":" + pad(s % 60);
    return d ? tr("portal.cd.days", { d: d, hms: rest }) : rest;
  }

  var clocks = Array.prototype.slice.call(document.querySelectorAll(".countdown[data-deadline]"));
  function tick() {
    var now = Date.now() - skew;
    clocks.forEach(function (node) {
      var left = Date.parse(node.dataset.deadline) - now, out = node.querySelector(".cd-left");
      var late = left <= 0, soon = !late && left < 4 * 3600 * 1000;
      out.textContent = late ? tr("portal.cd.overdue", { t: span(left) }) : tr("portal.cd.left", { t: span(left) });
      node.dataset.state = late ? "late" : (soon ? "soon" : "ok");
    });
  }
  tick();
  setInterval(tick, 1000);

  function outcome(card, state, text) { H.outcome(card.querySelector(".outcome"), state, text); }

  // A named field gets the catalog's plain words; anything else the server's message.
  function failure(r, kind) {
    if (r.status === 413) { return tr("portal.out.too_large"); }
    var e = r.error || {};
    if (e.code === "invalid_field" && e.field) {
      var key = kind === "unmask" ? "portal.err.unmask" : "portal.err." + e.field;
      if (T[key]) {
        var which = e.field === "files" && e.detail && e.detail.indexOf(":") > 0 ? e.detail.split(":")[0] : "";
        return T[key] + (which ? " · " + which : "");
      }
    }
    return e.message || ("HTTP " + r.status);
  }

  function mark(form, field) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (n) { n.removeAttribute("aria-invalid"); });
    var input = field ? form.querySelector("[name=" + field + "]") : null;
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }

  // Where the order lives after the action: the tab that now holds it.
  var NEXT = { sign: "handling", "return": "returned", result: "done", pass_on: "sign" };

  function act(card, kind, form, button) {
    var number = card.dataset.number, body;
    if (kind === "result") { body = new FormData(form); }
    else if (form) {
      body = {};
      Array.prototype.forEach.call(form.elements, function (n) { if (n.name) { body[n.name] = n.value; } });
      if (kind === "extension") { body.days = parseInt(body.days, 10) || body.days; }
    } else { body = {}; }
    if (button) { button.disabled = true; }
    outcome(card, "pending", tr("portal.out.pending"));
    api("POST", "/api/v1/portal/orders/" + encodeURIComponent(number) + "/" + kind, body).then(function (r) {
      if (button) { button.disabled = false; }
      if (!r.ok) {
        outcome(card, "failed", failure(r, kind));
        if (form) { mark(form, r.error && r.error.field); }
        return;
      }
      if (form) { mark(form, null); }
      if (kind === "unmask") {
        var c = r.data.citizen || {}, box = card.querySelector("[data-citizen]");
        box.querySelector("[data-field=name]").textContent = c.name || "—";
        box.querySelector("[data-field=phone]").textContent = c.phone || c.email || "";
        var tag = box.querySelector(".tag"); if (tag) { tag.remove(); }
        var det = box.querySelector("details"); if (det) { det.remove(); }
        outcome(card, "done", tr("portal.out.unmasked"));
        return;
      }
      outcome(card, "done", tr("portal.out." + kind));
      card.dataset.done = kind;
      setTimeout(function () {
        var tab = NEXT[kind] || root.dataset.tab;
        location.href = "/portal?tab=" + tab + "#o-" + number;
      }, 900);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".p-order"), function (card) {
    Array.prototype.forEach.call(card.querySelectorAll("button[data-act]"), function (btn) {
      btn.addEventListener("click", function () { act(card, btn.dataset.act, null, btn); });
    });
    Array.prototype.forEach.call(card.querySelectorAll("form[data-act]"), function (form) {
      form.addEventListener("input", function () {
        var node = card.querySelector(".outcome");
        if (node.dataset.state === "failed") { node.textContent = ""; delete node.dataset.state; }
      });
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        act(card, form.dataset.act, form, form.querySelector("button"));
      });
    });
  });

  // Live: new orders for this unit, 督办 and deadline warnings arrive over the socket; the
  // inbox is not redrawn under the handler's thumb, a notice offers the fresh list instead.
  var fresh = {}, news = document.getElementById("portal-news"), dot = document.getElementById("portal-live");
  function notice(key, text, href) {
    var item = news.querySelector("[data-key='" + key + "']");
    if (!item) {
      item = document.createElement("a");
      item.className = "portal-news-item";
      item.dataset.key = key;
      news.insertBefore(item, news.firstChild);
    }
    item.href = href;
    item.textContent = text + " · " + tr("portal.news.show");
    news.hidden = false;
  }
  var ARRIVE = { dispatch: 1, approve: 1, redispatch: 1, reject_return: 1, pass_on: 1 };
  function onMessage(m) {
    if (m.type === "ticket_changed" && m.to_state === "dispatched" && ARRIVE[m.action] && !document.getElementById("o-" + m.number)) {
      fresh[m.number] = true;
      var n = Object.keys(fresh).length, count = document.querySelector(".portal-tabs a[data-tab=sign] .count");
      notice("new", tr("portal.news.new", { n: n }), "/portal?tab=sign");
      if (count) { count.textContent = String(parseInt(count.dataset.base || count.textContent, 10) + n); count.classList.add("hot"); }
    } else if (m.type === "ticket_changed" && m.action === "supervise") {
      notice("sup-" + m.number, tr("portal.news.supervise", { number: m.number }), "/tickets/" + m.number);
    } else if (m.type === "deadline_warning" && T["portal.news." + m.kind]) {
      notice(m.kind + "-" + m.number, tr("portal.news." + m.kind, { number: m.number }), "/tickets/" + m.number);
    }
  }
  (function () {
    var signCount = document.querySelector(".portal-tabs a[data-tab=sign] .count");
    if (signCount) { signCount.dataset.base = signCount.textContent; }
  })();
  function connect() {
    var delay = 1000;
    function open() {
      var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      ws.onopen = function () { delay = 1000; dot.dataset.on = "1"; dot.textContent = tr("live.on"); };
      ws.onmessage = function (ev) { try { onMessage(JSON.parse(ev.data)); } catch (e) { /* not for us */ } };
      ws.onclose = function (ev) {
        dot.dataset.on = "0"; dot.textContent = tr("live.off");
        if (ev.code === 4401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    open();
  }
  if (dot && news) { connect(); }

  // The chosen files by name (the browser's own file button speaks its own language).
  Array.prototype.forEach.call(document.querySelectorAll(".file-pick input[type=file]"), function (input) {
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      input.parentNode.querySelector(".file-names").textContent = names.length ? names.join("、") : tr("portal.no_files");
    });
  });

  // Arriving from an action: show the order where it now is.
  if (location.hash.indexOf("#o-") === 0) {
    var target = document.getElementById(location.hash.slice(1));
    if (target) { target.classList.add("arrived"); }
  }
})();
