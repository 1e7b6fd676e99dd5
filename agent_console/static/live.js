// Live pages over /ws: agent workspace (screen pop, ticket form, call control), supervisor
// wallboard, 110 desk. No framework and nothing inline (CSP script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("live-root");
  if (!root) { return; }
  var T = JSON.parse(document.getElementById("live-texts").textContent);
  var page = root.dataset.page, csrf = root.dataset.csrf, me = root.dataset.user;
  var tz = root.dataset.tz || undefined;
  var lang = document.documentElement.lang || "zh-CN";

  // The shared helpers (dom.js), bound to this page's texts and CSRF token.
  var H = window.Hotline, tr = H.texts(T), $ = H.$, el = H.el, clear = H.clear, clock = H.clock;
  var outcome = H.outcome, api = H.api(csrf);

  function fmtTime(iso, withDate) {
    if (!iso) { return ""; }
    var opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: tz };
    if (withDate) { opts.month = "2-digit"; opts.day = "2-digit"; delete opts.second; }
    return new Date(iso).toLocaleString(lang, opts);
  }
  function badge(state) { return el("span", { cls: "badge s-" + state, text: tr("state." + state) }); }

  // The socket: reconnects with backoff; a 4401 close means the session ended.
  function connect(onMessage, onOpen) {
    var delay = 500, dot = $("live-dot");
    function open() {
      var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      ws.onopen = function () {
        delay = 500;
        if (dot) { dot.dataset.on = "1"; dot.textContent = tr("live.on"); }
        if (onOpen) { onOpen(); }
      };
      ws.onmessage = function (ev) {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        onMessage(msg);
      };
      ws.onclose = function (ev) {
        if (dot) { dot.dataset.on = "0"; dot.textContent = tr("live.off"); }
        if (ev.code === 4401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    open();
  }

  // ------------------------------------------------------------------ agent workspace
  function workspace() {
    var call = null, timer = null, formDirty = false, pending = {};
    var pop = $("pop"), card = $("ticket-card"), form = $("ticket-form");

    function tick() {
      if (!call) { return; }
      var since = call.answeredAt || call.offeredAt;
      $("pop-timer").textContent = clock((Date.now() - since) / 1000);
    }
    function setPopState(state) {
      pop.dataset.state = state;
      var chip = $("pop-state");
      chip.className = "chip " + state;
      chip.textContent = tr({ ringing: "ws.incoming", talking: "ws.on_call", ended: "ws.ended", abandoned: "ws.abandoned" }[state] || "ws.incoming");
      $("agent-state").dataset.state = state === "ringing" || state === "talking" ? state : $("agent-state").dataset.rest || "unknown";
      $("agent-state").textContent = tr("ws.state." + $("agent-state").dataset.state);
    }
    function renderHistory(history) {
      var list = $("pop-history"), open = 0, lastRating = null;
      clear(list);
      if (history === null) { list.appendChild(el("li", { cls: "muted", text: tr("ws.history_loading") })); return; }
      if (!history.length) { list.appendChild(el("li", { cls: "muted", text: tr("ws.history_none") })); }
      history.forEach(function (h) {
        if (["closed", "merged", "cancelled"].indexOf(h.state) < 0) { open += 1; }
        if (h.rating && !lastRating) { lastRating = h.rating; }
        list.appendChild(el("li", {}, [
          el("a", { cls: "mono", href: "/tickets/" + h.number, target: "_blank", text: h.number }),
          badge(h.state),
          el("span", { cls: "h-subject", text: h.subject || h.category_name || "" }),
          el("span", { cls: "muted small", text: fmtTime(h.created_at, true) }),
          h.rating ? el("span", { cls: "tag", text: tr("rating." + h.rating) }) : null
        ]));
      });
      var openTag = $("pop-open");
      openTag.hidden = !open;
      openTag.textContent = tr("ws.open_count", { n: open });
      $("pop-rating").textContent = lastRating ? tr("rating." + lastRating) : "—";
    }
    function showCall(msg, history) {
      call = { id: msg.call_id, caller: msg.caller, offeredAt: Date.now(), answeredAt: null, ticket: null };
      $("pop-caller").textContent = msg.caller || tr("ws.withheld");
      $("pop-dialed").textContent = msg.dialed || "12345";
      $("pop-queue").textContent = msg.queue || "—";
      $("pop-ticket").textContent = tr("ws.ticket_wait");
      $("call-outcomes").textContent = "";
      pending = {};
      setPopState("ringing");
      renderHistory(history);
      clearInterval(timer);
      timer = setInterval(tick, 1000);
      tick();
      // Mark when the pop reached the screen (bench/screen_pop and the browser test read it).
      pop.dataset.callId = msg.call_id;
      pop.dataset.shownAt = String(performance.timeOrigin + performance.now());
    }
    function loadTicket(number) {
      var link = $("form-number");
      link.textContent = number;
      link.href = "/tickets/" + number;
      var ticketLink = el("a", { cls: "mono", href: "/tickets/" + number, target: "_blank", text: number });
      clear($("pop-ticket"));
      $("pop-ticket").appendChild(document.createTextNode(tr("ws.ticket") + " "));
      $("pop-ticket").appendChild(ticketLink);
      card.hidden = false;
      return api("GET", "/api/v1/tickets/" + number).then(function (r) {
        if (!r.ok) { return; }
        var t = r.data;
        if (!formDirty) {
          form.elements.subject.value = t.subject || "";
          form.elements.category.value = t.category || "";
          form.elements.district.value = t.district || "";
          form.elements.urgency.value = t.urgency || "normal";
          form.elements.description.value = t.description || "";
        }
        showState(t.state);
      });
    }
    function showState(state) {
      var b = $("form-state");
      b.className = "badge s-" + state;
      b.textContent = tr("state." + state);
      card.dataset.state = state;
    }
    function fields() {
      var f = form.elements;
      return {
        subject: f.subject.value, category: f.category.value || null, district: f.district.value || null,
        urgency: f.urgency.value, description: f.description.value
      };
    }
    function save() {
      if (!call || !call.ticket) { return Promise.resolve({ ok: false, message: tr("ws.ticket_wait") }); }
      var node = $("save-outcome");
      outcome(node, "pending", tr("ws.pending"));
      return api("PATCH", "/api/v1/tickets/" + call.ticket, fields()).then(function (r) {
        if (r.ok) { formDirty = false; showState(r.data.state); outcome(node, "done", tr("ws.saved")); }
        else { outcome(node, "failed", tr("ws.failed") + ":" + r.message); }
        return r;
      });
    }
    function saveIfDirty() { return formDirty ? save() : Promise.resolve({ ok: true }); }
    function act(action, body, node) {
      if (!call || !call.ticket) { outcome(node, "failed", tr("ws.ticket_wait")); return; }
      outcome(node, "pending", tr("ws.pending"));
      saveIfDirty().then(function () {
        return api("POST", "/api/v1/tickets/" + call.ticket + "/actions/" + action, body);
      }).then(function (r) {
        if (r.ok) { showState(r.data.state); outcome(node, "done", tr("ws.done") + " · " + tr("state." + r.data.state)); }
        else { outcome(node, "failed", tr("ws.failed") + ":" + r.message); }
      });
    }
    function addOutcome(label) {
      var state = el("span", { cls: "outcome", "data-state": "pending", text: tr("ws.pending") });
      var li = el("li", {}, [el("b", { text: label }), state]);
      var list = $("call-outcomes");
      list.insertBefore(li, list.firstChild);
      return state;
    }
    function callControl(kind, line) {
      var label = kind === "transfer" ? (line === "110" ? tr("ws.transfer_110") : tr("ws.transfer") + " " + line)
        : kind === "three_way" ? tr("ws.three_way") + " · " + line : tr("ws.hangup");
      var node = addOutcome(label);
      var ticket = call && call.ticket;
      saveIfDirty().then(function () {
        var path = "/api/v1/calls/" + kind;
        return api("POST", path, kind === "hangup" ? undefined : { line: line, ticket: ticket || null });
      }).then(function (r) {
        if (!r.ok) { outcome(node, "failed", tr("ws.failed") + ":" + r.message); return; }
        if (kind === "hangup") { outcome(node, "done", tr("ws.done") + " · " + (r.data.message || "")); return; }
        pending[line] = node;
        if (kind === "three_way") { outcome(node, "pending", tr("ws.conference", { line: line })); }
        else { outcome(node, "pending", tr("ws.requested", { line: line })); }
        if (ticket && line === "110") { showState("with_police"); }
      });
    }
    function shiftLog(msg, text) {
      var list = $("shift");
      if (list.firstChild && list.firstChild.classList && list.firstChild.classList.contains("muted")) { clear(list); }
      var li = list.querySelector("[data-call='" + msg.call_id + "']");
      if (!li) {
        li = el("li", { "data-call": msg.call_id });
        list.insertBefore(li, list.firstChild);
      }
      clear(li);
      li.appendChild(el("span", { cls: "mono", text: (call && call.id === msg.call_id && call.caller) || li.dataset.caller || "—" }));
      if (call && call.id === msg.call_id) { li.dataset.caller = call.caller || ""; }
      li.appendChild(el("span", { cls: "muted small", text: fmtTime(msg.at) }));
      if (msg.ticket_number) { li.dataset.ticket = msg.ticket_number; }
      if (li.dataset.ticket) { li.appendChild(el("a", { cls: "mono small", href: "/tickets/" + li.dataset.ticket, text: li.dataset.ticket })); }
      li.appendChild(el("span", { cls: "small", text: text }));
    }
    function loadMissed() {
      api("GET", "/api/v1/telephony").then(function (r) {
        if (!r.ok) { return; }
        var list = $("missed");
        clear(list);
        $("missed-count").textContent = r.data.missed_calls.length ? String(r.data.missed_calls.length) : "";
        if (!r.data.missed_calls.length) { list.appendChild(el("li", { cls: "muted", text: tr("ws.missed_none") })); }
        r.data.missed_calls.forEach(function (m) {
          var state = el("span", { cls: "outcome" });
          var btn = el("button", { type: "button", cls: "small-btn", text: tr("ws.call_back") });
          btn.addEventListener("click", function () {
            outcome(state, "pending", tr("ws.calling"));
            btn.disabled = true;
            api("POST", "/api/v1/calls/callback", { number: (m.caller || "").replace(/\D/g, ""), missed_call: m.call_id }).then(function (res) {
              if (res.ok) { outcome(state, "done", tr("ws.calling") + " " + (res.data.message || "")); }
              else { btn.disabled = false; outcome(state, "failed", tr("ws.failed") + ":" + res.message); }
            });
          });
          list.appendChild(el("li", {}, [
            el("span", { cls: "mono", text: m.caller || tr("ws.withheld") }),
            el("span", { cls: "muted small", text: fmtTime(m.started_at, true) + " · " + tr("ws.due") + " " + fmtTime(m.callback_due_at, true) }),
            btn, state
          ]));
        });
        // A reload in the middle of a call brings the call back.
        var mine = r.data.live_calls.filter(function (c) { return c.agent_username === me; })[0];
        if (mine && !call) {
          showCall({ call_id: mine.call_id, caller: mine.caller, dialed: null, queue: mine.queue }, []);
          if (mine.ticket_number) { call.ticket = mine.ticket_number; call.answeredAt = Date.now(); setPopState("talking"); loadTicket(mine.ticket_number); }
        }
      });
    }

    var handlers = {
      call_offered: function (m) { if (m.agent === me) { showCall(m, m.history); shiftLog(m, tr("ws.state.ringing")); } },
      caller_history: function (m) { if (call && call.id === m.call_id) { renderHistory(m.history); } },
      call_answered: function (m) {
        if (m.agent !== me) { return; }
        if (!call || call.id !== m.call_id) { showCall(m, []); }
        call.answeredAt = Date.now();
        call.ticket = m.ticket_number;
        setPopState("talking");
        shiftLog(m, tr("ws.state.talking"));
        if (m.ticket_number) { formDirty = false; loadTicket(m.ticket_number); }
      },
      transfer_outcome: function (m) {
        if (m.agent !== me) { return; }
        var node = pending[m.line];
        if (!node) { node = addOutcome(m.line === "110" ? tr("ws.transfer_110") : tr("ws.transfer") + " " + m.line); }
        delete pending[m.line];
        if (m.ok) { outcome(node, "done", tr("ws.line_ok", { line: m.line })); }
        else { outcome(node, "failed", tr("ws.line_failed", { line: m.line, reason: m.reason })); }
      },
      call_finished: function (m) {
        if (m.agent !== me && !(call && call.id === m.call_id)) { if (m.abandoned) { loadMissed(); } return; }
        if (call && call.id === m.call_id) {
          clearInterval(timer);
          setPopState(m.abandoned ? "abandoned" : "ended");
        }
        shiftLog(m, m.abandoned ? tr("ws.abandoned") : tr("ws.ended") + " · " + clock(m.talk_seconds || 0));
        if (m.abandoned) { loadMissed(); }
      },
      resync: function () { loadMissed(); }
    };

    form.addEventListener("input", function () { formDirty = true; });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); save(); });
    $("resolve").addEventListener("click", function () { act("resolve_on_spot", { result: $("answer").value }, $("resolve-outcome")); });
    $("dispatch").addEventListener("click", function () { act("dispatch", { department: $("dispatch-to").value }, $("dispatch-outcome")); });

    var dialog = $("confirm-110");
    function ask110() { if (!dialog.open) { dialog.returnValue = ""; dialog.showModal(); } }
    dialog.addEventListener("close", function () { if (dialog.returnValue === "ok") { callControl("transfer", "110"); } });
    $("btn-110").addEventListener("click", ask110);
    $("btn-3way-110").addEventListener("click", function () { callControl("three_way", "110"); });
    if ($("btn-transfer")) {
      $("btn-transfer").addEventListener("click", function () { callControl("transfer", $("line").value); });
      $("btn-3way").addEventListener("click", function () { callControl("three_way", $("line").value); });
    }
    $("btn-hangup").addEventListener("click", function () { callControl("hangup", null); });
    document.addEventListener("keydown", function (ev) {
      // F10: one key for 110 from anywhere on the workspace; Enter in the dialog confirms.
      if (ev.key === "F10") { ev.preventDefault(); ev.stopImmediatePropagation(); ask110(); }
    }, true);

    Array.prototype.forEach.call(document.querySelectorAll("[data-queue]"), function (btn) {
      btn.addEventListener("click", function () {
        var action = btn.dataset.queue, body = { action: action };
        if (action === "pause") { body.reason = $("pause-reason").value; }
        var node = $("presence-outcome");
        outcome(node, "pending", tr("ws.pending"));
        api("POST", "/api/v1/agent/queue", body).then(function (r) {
          if (!r.ok) { outcome(node, "failed", tr("ws.failed") + ":" + r.message); return; }
          var rest = { login: "ready", unpause: "ready", pause: "paused", logout: "out" }[action];
          var chip = $("agent-state");
          chip.dataset.rest = rest;
          if (pop.dataset.state !== "ringing" && pop.dataset.state !== "talking") { chip.dataset.state = rest; chip.textContent = tr("ws.state." + rest); }
          outcome(node, "done", r.data.message || tr("ws.done"));
        });
      });
    });
    connect(function (m) {
      var h = handlers[m.type]; if (h) { h(m); }
      // The online desk (chat.js) shares this socket: every message, and each (re)connection.
      document.dispatchEvent(new CustomEvent("live:message", { detail: m }));
    }, function () { loadMissed(); document.dispatchEvent(new CustomEvent("live:open")); });
  }

  // ------------------------------------------------------------------ supervisor wallboard
  function wallboard() {
    var board = JSON.parse($("board-data").textContent), skew = 0;
    function get(obj, path) { return path.split(".").reduce(function (o, k) { return o === null || o === undefined ? o : o[k]; }, obj); }
    function waitingSeconds(b) {
      var now = Date.now() - skew, longest = 0;
      b.live_calls.forEach(function (c) { if (c.state === "waiting") { longest = Math.max(longest, (now - Date.parse(c.since)) / 1000); } });
      return longest;
    }
    function render(b) {
      board = b;
      skew = Date.now() - Date.parse(b.at);
      Array.prototype.forEach.call(document.querySelectorAll("[data-k]"), function (node) {
        var v = get(b, node.dataset.k), text;
        if (node.dataset.fmt === "pct") { text = v === null || v === undefined ? "—" : v.toFixed(1) + "%"; }
        else if (node.dataset.fmt === "clock") { text = clock(v); }
        else { text = String(v); }
        if (node.textContent !== text) {
          node.textContent = text;
          node.classList.remove("bump");
          void node.offsetWidth;
          node.classList.add("bump");
        }
      });
      $("tile-waiting").dataset.alert = b.waiting ? "1" : "0";
      $("wb-updated").textContent = fmtTime(b.at);
      var body = $("wb-calls");
      clear(body);
      if (!b.live_calls.length) { body.appendChild(el("tr", {}, [el("td", { colspan: "5", cls: "empty", text: tr("wb.no_calls") })])); }
      b.live_calls.forEach(function (c) {
        body.appendChild(el("tr", { "data-since": c.since }, [
          el("td", { cls: "mono", text: c.caller || tr("ws.withheld") }),
          el("td", { text: c.agent || "—" }),
          el("td", {}, [el("span", { cls: "chip " + (c.state === "waiting" ? "ringing" : "talking"), text: tr("wb.state." + c.state) })]),
          el("td", { cls: "mono dur", text: clock((Date.now() - skew - Date.parse(c.since)) / 1000) }),
          el("td", {}, [c.ticket_number ? el("a", { cls: "mono", href: "/tickets/" + c.ticket_number, text: c.ticket_number }) : el("span", { cls: "muted", text: "—" })])
        ]));
      });
    }
    function feed(item) {
      var list = $("wb-feed");
      if (list.firstChild && list.firstChild.classList && list.firstChild.classList.contains("muted")) { clear(list); }
      list.insertBefore(item, list.firstChild);
      while (list.children.length > 40) { list.removeChild(list.lastChild); }
    }
    setInterval(function () {
      var longest = document.querySelector("[data-k='longest_wait_seconds']");
      if (longest) { longest.textContent = clock(waitingSeconds(board)); }
      Array.prototype.forEach.call(document.querySelectorAll("#wb-calls tr[data-since]"), function (tr_) {
        tr_.querySelector(".dur").textContent = clock((Date.now() - skew - Date.parse(tr_.dataset.since)) / 1000);
      });
    }, 1000);
    render(board);
    connect(function (m) {
      // The supervision lists (supervision.js) follow the same socket.
      document.dispatchEvent(new CustomEvent("live:message", { detail: m }));
      if (m.type === "wallboard") { render(m); }
      else if (m.type === "ticket_changed") {
        feed(el("li", { cls: "feed-" + m.action }, [
          el("span", { cls: "muted small mono", text: fmtTime(m.at) }),
          el("a", { cls: "mono", href: "/tickets/" + m.number, text: m.number }),
          el("b", { text: tr("action." + m.action) }),
          m.from_state && m.from_state !== m.to_state ? badge(m.to_state) : null,
          el("span", { cls: "muted small", text: m.actor })
        ]));
      } else if (m.type === "transfer_outcome") {
        feed(el("li", { cls: m.ok ? "feed-ok" : "feed-failed" }, [
          el("span", { cls: "muted small mono", text: fmtTime(m.at) }),
          el("b", { text: m.ok ? tr("ws.line_ok", { line: m.line }) : tr("ws.line_failed", { line: m.line, reason: m.reason }) }),
          el("span", { cls: "muted small", text: m.agent || "" })
        ]));
      }
    });
  }

  // ------------------------------------------------------------------ 110 desk
  function police() {
    var orders = JSON.parse($("orders-data").textContent), box = $("orders");
    function count() {
      var n = box.querySelectorAll(".order:not([data-gone])").length;
      $("police-count").textContent = tr("police.count", { n: n });
      $("orders-empty").hidden = n > 0;
    }
    function transferEntry(t) {
      var hits = (t.timeline || []).filter(function (e) { return e.action === "transfer_110"; });
      return hits[hits.length - 1] || null;
    }
    function acknowledged(t) { return (t.timeline || []).some(function (e) { return e.action === "police_acknowledge"; }); }
    function render(t, fresh) {
      var old = box.querySelector(".order[data-number='" + t.number + "']");
      var tx = transferEntry(t), citizen = t.citizen || {};
      var state = el("span", { cls: "outcome", role: "status" });
      var note = el("textarea", { rows: "2", placeholder: tr("police.note"), "aria-label": tr("police.note") });
      function run(action, body) {
        outcome(state, "pending", tr("ws.pending"));
        api("POST", "/api/v1/tickets/" + t.number + "/actions/" + action, body).then(function (r) {
          if (!r.ok) { outcome(state, "failed", tr("ws.failed") + ":" + r.message); return; }
          if (r.data.state !== "with_police") { gone(t.number, r.data.state); } else { render(r.data, false); }
        });
      }
      var ack = el("button", { type: "button", cls: "primary", text: tr("police.ack") });
      ack.addEventListener("click", function () { run("police_acknowledge", {}); });
      var close = el("button", { type: "button", text: tr("police.close") });
      close.addEventListener("click", function () { run("police_close", {}); });
      var back = el("button", { type: "button", cls: "quiet", text: tr("police.hand_back") });
      back.addEventListener("click", function () {
        if (!note.value.trim()) { note.focus(); outcome(state, "failed", tr("police.note")); return; }
        run("police_hand_back", { reason: note.value.trim() });
      });
      var isAck = acknowledged(t);
      var node = el("article", { cls: "card order" + (fresh ? " fresh" : ""), "data-number": t.number, "data-ack": isAck ? "1" : "0" }, [
        el("header", { cls: "order-head" }, [
          el("a", { cls: "mono number", href: "/tickets/" + t.number, text: t.number }),
          t.urgency === "urgent" ? el("span", { cls: "tag red", text: tr("urgency.urgent") }) : null,
          fresh ? el("span", { cls: "chip ringing", text: tr("police.new") }) : null,
          isAck ? el("span", { cls: "chip talking", text: tr("police.acked") }) : null,
          el("span", { cls: "order-when muted small", text: tx ? tr("police.transferred") + " " + fmtTime(tx.at, true) + " · " + tr("police.by") + " " + tx.actor : "" })
        ]),
        el("h2", { text: t.subject || (t.description || "").slice(0, 40) || t.number }),
        el("dl", { cls: "order-facts" }, [
          el("div", {}, [el("dt", { text: tr("police.caller") }), el("dd", { cls: "mono", text: [citizen.name, citizen.phone].filter(Boolean).join(" · ") || "—" })]),
          el("div", {}, [el("dt", { text: tr("ws.category") }), el("dd", { text: t.category_name || "—" })]),
          el("div", {}, [el("dt", { text: tr("ws.district") }), el("dd", { text: t.district_name || "—" })])
        ]),
        el("p", { cls: "prose", text: t.description || "" }),
        el("div", { cls: "order-actions" }, [isAck ? null : ack, close, note, back, state])
      ]);
      if (old) { box.replaceChild(node, old); } else { box.insertBefore(node, box.firstChild); }
      count();
    }
    function gone(number, state) {
      var node = box.querySelector(".order[data-number='" + number + "']");
      if (!node) { return; }
      node.dataset.gone = state;
      var banner = el("p", { cls: "gone-note", text: state === "closed" ? tr("police.gone_closed") : tr("police.gone_received") });
      node.insertBefore(banner, node.firstChild);
      Array.prototype.forEach.call(node.querySelectorAll("button, textarea"), function (b) { b.disabled = true; });
      count();
      setTimeout(function () { if (node.parentNode) { node.parentNode.removeChild(node); } count(); }, 8000);
    }
    orders.slice().reverse().forEach(function (t) { render(t, false); });
    count();
    connect(function (m) {
      if (m.type === "ticket_changed") {
        if (m.to_state === "with_police") {
          // The order's context as 110 may see it (citizen masked), fetched the moment it arrives.
          api("GET", "/api/v1/tickets/" + m.number).then(function (r) {
            if (r.ok && r.data.state === "with_police") {
              render(r.data, m.action === "transfer_110");
              if (m.action === "transfer_110") { document.title = "● " + document.title.replace(/^● /, ""); }
            }
          });
        } else { gone(m.number, m.to_state); }
      } else if (m.type === "resync") { location.reload(); }
    });
    document.addEventListener("visibilitychange", function () { document.title = document.title.replace(/^● /, ""); });
  }

  ({ workspace: workspace, wallboard: wallboard, police: police })[page]();
})();
