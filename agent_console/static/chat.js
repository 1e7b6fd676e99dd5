// Online contacts in the agent workspace: incoming offers (accept within the time), a panel
// per taken conversation (WeChat/Telegram chat or a letter), replies through the outbox shown
// pending → sent / failed in place. Live news comes over live.js's socket ("live:message").
(function () {
  "use strict";
  var root = document.getElementById("online-desk");
  if (!root) { return; }
  var T = JSON.parse(document.getElementById("live-texts").textContent);
  var csrf = root.dataset.csrf, tz = root.dataset.tz || undefined, me = root.dataset.user;
  var lang = document.documentElement.lang || "zh-CN";
  var convs = {}, order = [], active = null, offers = {}, queue = [], queueTotal = 0, offerSeconds = 30;
  var unread = {}, reloadSoon = null;
  var statusOf = {};  // outbox id → the latest reply_status (it can beat the POST's answer)

  // The shared helpers (dom.js), bound to this page's texts and CSRF token.
  var H = window.Hotline, tr = H.texts(T), $ = H.$, el = H.el, clear = H.clear, clock = H.clock;
  var api = H.api(csrf);

  function fmtTime(iso, withDate) {
    if (!iso) { return ""; }
    var opts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz };
    if (withDate) { opts.year = "numeric"; opts.month = "2-digit"; opts.day = "2-digit"; }
    return new Date(iso).toLocaleString(lang, opts);
  }
  function size(bytes) {
    if (!bytes) { return ""; }
    return bytes < 1024 ? bytes + " B" : bytes < 1048576 ? (bytes / 1024).toFixed(0) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
  }
  function newKey() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function channelTag(channel) { return el("span", { cls: "tag od-ch od-ch-" + channel, text: tr("channel." + channel) }); }

  // ------------------------------------------------------------------ state from the server
  function load() {
    return api("GET", "/api/v1/online").then(function (r) {
      if (!r.ok) { return; }
      offerSeconds = r.data.offer_seconds || offerSeconds;
      queue = r.data.queue;
      var keep = {};
      r.data.mine.forEach(function (c) {
        // The answer may be older than what the socket already told: keep the newer.
        var local = convs[c.ticket_id], ids = {};
        c.messages.forEach(function (m) { ids[m.id] = true; settled(m); });
        if (local) { local.messages.forEach(function (m) { if (!ids[m.id]) { c.messages.push(m); } }); }
        c.messages.sort(function (a, b) { return a.at < b.at ? -1 : a.at > b.at ? 1 : 0; });
        convs[c.ticket_id] = c;
        keep[c.ticket_id] = true;
      });
      order = r.data.mine.map(function (c) { return c.ticket_id; });
      Object.keys(convs).forEach(function (id) { if (!keep[id]) { delete convs[id]; } });
      // Offers made to me before this page loaded are in the queue with my name.
      queue.forEach(function (q) { if (q.offered_to_me && !offers[q.ticket_id]) { addOffer(q); } });
      if (active === null || !convs[active]) { active = order.length ? order[0] : null; }
      showLoad(r.data.presence);
      showFigures(r.data.figures);
      renderQueue();
      renderTabs();
      renderPanel();
    });
  }
  function reloadLater() {
    if (reloadSoon) { return; }
    reloadSoon = setTimeout(function () { reloadSoon = null; load(); }, 250);
  }
  function showLoad(p) {
    var chip = $("od-load");
    chip.dataset.state = p.state === "chatting" ? "talking" : p.state === "ready" ? "ready" : p.state === "paused" ? "paused" : "out";
    chip.textContent = tr("chat.load", { n: p.chats, max: p.max_chats });
    if (p.state === "after_call") { chip.dataset.state = "paused"; chip.textContent = tr("chat.state.after_call") + " · " + chip.textContent; }
    // The workspace's presence chip after a reload: in the queue, paused or out, as the
    // center knows it (a ringing or live call keeps the chip to itself).
    var rest = { ready: "ready", chatting: "ready", paused: "paused", logged_out: "out" }[p.state];
    var state = $("agent-state"), pop = $("pop");
    if (rest && state && !(pop && (pop.dataset.state === "ringing" || pop.dataset.state === "talking"))) {
      state.dataset.rest = rest;
      state.dataset.state = rest;
      state.textContent = tr("ws.state." + rest);
    }
  }
  function showFigures(f) {
    queueTotal = f.waiting || 0;
    var fig = $("od-figure");
    fig.dataset.waiting = String(f.waiting);
    fig.textContent = f.waiting ? tr("chat.waiting_n", { n: f.waiting }) + " · " + tr("chat.longest", { t: clock(f.longest_wait_seconds) }) : "";
  }

  // ------------------------------------------------------------------ the queue
  function renderQueue() {
    var list = $("od-queue");
    clear(list);
    // The list shows the longest waiting; the count is everyone waiting.
    var total = Math.max(queue.length, queueTotal);
    $("od-queue-count").textContent = String(total);
    $("od-queue-count").dataset.n = String(total);
    if (!queue.length) { list.appendChild(el("li", { cls: "muted small", text: tr("chat.queue_empty") })); return; }
    queue.forEach(function (q) {
      // Open what nobody is offered (a letter from the list) or what is offered to me.
      var open = q.offered && !q.offered_to_me ? null : el("button", { type: "button", cls: "od-open", "data-open": q.ticket_id, text: tr("chat.open") });
      if (open) { open.addEventListener("click", function () { accept(q.ticket_id, open); }); }
      list.appendChild(el("li", { cls: "od-q od-q-" + q.kind, "data-ticket": q.ticket_id }, [
        el("div", { cls: "od-q-top" }, [
          channelTag(q.channel),
          el("b", { text: q.subject || q.citizen || tr("chat.kind." + q.kind) }),
          el("span", { cls: "od-wait mono small", "data-since": q.since, text: clock((Date.now() - Date.parse(q.since)) / 1000) })
        ]),
        el("p", { cls: "od-q-preview small", text: q.preview }),
        el("div", { cls: "od-q-foot" }, [el("span", { cls: "muted small", text: q.citizen }), open])
      ]));
    });
    if (total > queue.length) {
      list.appendChild(el("li", { cls: "muted small od-q-more", text: tr("chat.queue_more", { n: total - queue.length }) }));
    }
  }

  // ------------------------------------------------------------------ offers
  function addOffer(o) {
    removeOffer(o.ticket_id);
    var started = Date.now(), total = (o.offer_seconds || offerSeconds) * 1000;
    var bar = el("span", { cls: "od-offer-bar" });
    var accept_ = el("button", { type: "button", cls: "primary", "data-accept": o.ticket_id }, [tr("chat.accept"), " ", el("kbd", { text: "F8" })]);
    var decline_ = el("button", { type: "button", cls: "quiet", "data-decline": o.ticket_id, text: tr("chat.decline") });
    var left = el("span", { cls: "od-offer-left mono" });
    var node = el("div", { cls: "od-offer od-offer-" + o.kind, "data-ticket": o.ticket_id, role: "alert" }, [
      el("div", { cls: "od-offer-main" }, [
        el("div", { cls: "od-offer-title" }, [
          el("span", { cls: "od-offer-kind", text: tr(o.kind === "letter" ? "chat.offer_letter" : "chat.offer") }),
          channelTag(o.channel),
          el("b", { text: o.citizen || "" }),
          o.number ? el("span", { cls: "mono small muted", text: o.number }) : null
        ]),
        // A chat's subject is its first words; a letter's is what the writer gave it.
        el("p", { cls: "od-offer-preview", text: o.subject && o.preview.indexOf(o.subject) !== 0 ? o.subject + " — " + o.preview : o.preview }),
        el("span", { cls: "muted small", text: tr("chat.offer_hint", { s: Math.round(total / 1000) }) })
      ]),
      el("div", { cls: "od-offer-actions" }, [left, accept_, decline_]),
      el("span", { cls: "od-offer-track" }, [bar])
    ]);
    accept_.addEventListener("click", function () { accept(o.ticket_id, accept_); });
    decline_.addEventListener("click", function () {
      decline_.disabled = true;
      api("POST", "/api/v1/online/" + o.ticket_id + "/decline").then(function () { removeOffer(o.ticket_id); });
    });
    offers[o.ticket_id] = { node: node, started: started, total: total, bar: bar, left: left, button: accept_ };
    $("od-offers").appendChild(node);
    // Another window in front: the tab's title says something waits.
    if (document.hidden) { document.title = "● " + document.title.replace(/^● /, ""); }
    tickOffers();
  }
  function removeOffer(id, note) {
    var o = offers[id];
    if (!o) { return; }
    delete offers[id];
    if (note) {
      o.node.classList.add("gone");
      clear(o.node);
      o.node.appendChild(el("span", { cls: "muted small", text: note }));
      setTimeout(function () { if (o.node.parentNode) { o.node.parentNode.removeChild(o.node); } }, 4000);
    } else if (o.node.parentNode) { o.node.parentNode.removeChild(o.node); }
  }
  function tickOffers() {
    Object.keys(offers).forEach(function (id) {
      var o = offers[id], spent = Date.now() - o.started, rest = Math.max(0, o.total - spent);
      o.bar.style.width = (100 * rest / o.total).toFixed(1) + "%";
      o.left.textContent = Math.ceil(rest / 1000) + "s";
      o.node.dataset.urgent = rest < 10000 ? "1" : "0";
    });
  }
  function accept(id, button) {
    if (button) { button.disabled = true; }
    var out = $("od-outcome");
    return api("POST", "/api/v1/online/" + id + "/accept").then(function (r) {
      if (!r.ok) {
        if (button) { button.disabled = false; }
        removeOffer(id, r.message);
        out.dataset.state = "failed"; out.textContent = r.message;
        reloadLater();
        return;
      }
      removeOffer(id);
      convs[r.data.ticket_id] = r.data;
      if (order.indexOf(r.data.ticket_id) < 0) { order.push(r.data.ticket_id); }
      active = r.data.ticket_id;
      out.dataset.state = ""; out.textContent = "";
      renderTabs();
      renderPanel();
      reloadLater();
      $("od-text").focus();
    });
  }

  // ------------------------------------------------------------------ conversations
  function renderTabs() {
    var tabs = $("od-tabs");
    clear(tabs);
    tabs.hidden = !order.length;
    order.forEach(function (id) {
      var c = convs[id];
      if (!c) { return; }
      var tab = el("button", { type: "button", cls: "od-tab", "data-ticket": id, "aria-current": id === active ? "true" : null }, [
        channelTag(c.channel),
        el("span", { cls: "od-tab-name", text: c.citizen || c.number }),
        unread[id] ? el("span", { cls: "od-unread", text: String(unread[id]), title: tr("chat.new_message") }) : null
      ]);
      tab.addEventListener("click", function () { active = id; delete unread[id]; renderTabs(); renderPanel(); });
      tabs.appendChild(tab);
    });
  }
  function attachmentNode(a, recognized) {
    var label = tr("chat." + (a.kind === "file" ? "file" : a.kind));
    var kids = [el("span", { cls: "od-att-icon od-att-" + a.kind, "aria-hidden": "true" }), el("span", { cls: "od-att-label", text: label })];
    if (a.kind === "voice" && recognized) { kids.push(el("span", { cls: "muted small", text: tr("chat.recognition") })); }
    if (a.kind === "file" || a.kind === "video") { kids.push(el("span", { cls: "mono small muted", text: a.name + (a.size ? " · " + size(a.size) : "") })); }
    return el("span", { cls: "od-att", "data-kind": a.kind }, kids);
  }
  function messageNode(m, c) {
    if (m.from === "agent") {
      var status = el("span", { cls: "od-status", "data-status": m.status, text: tr("chat.status." + m.status) });
      if (m.error && m.status !== "sent") { status.title = m.error; }
      return el("li", { cls: "od-msg od-agent", "data-outbox": m.outbox_id }, [
        el("div", { cls: "od-bubble" }, [el("p", { text: m.text })]),
        el("div", { cls: "od-meta" }, [el("span", { text: (m.agent || tr("chat.you")) + " · " + fmtTime(m.at) }), status])
      ]);
    }
    var kids = [], media = m.attachments || [];
    // "[图片]", "[语音]": what a message without words says; the media chip says it better.
    var placeholder = /^\[[^\]]+\]$/.test(m.text);
    media.forEach(function (a) { kids.push(attachmentNode(a, !placeholder && a.kind === "voice")); });
    if (m.location) {
      var where = m.location.address || "";
      var coords = m.location.latitude !== null && m.location.latitude !== undefined ? m.location.latitude.toFixed(5) + ", " + m.location.longitude.toFixed(5) : "";
      kids.push(el("span", { cls: "od-att od-loc", "data-kind": "location" }, [
        el("span", { cls: "od-att-icon od-att-location", "aria-hidden": "true" }),
        el("span", { cls: "od-att-label", text: tr("chat.location") }),
        el("span", { text: where }),
        coords ? el("span", { cls: "mono small muted", text: coords }) : null
      ]));
    } else if (!placeholder || !media.length) {
      kids.push(el("p", { text: m.text }));
    }
    return el("li", { cls: "od-msg od-citizen" }, [
      el("div", { cls: "od-bubble" }, kids),
      el("div", { cls: "od-meta" }, [el("span", { text: (c.citizen || tr("chat.citizen")) + " · " + fmtTime(m.at) })])
    ]);
  }
  function letterNode(c) {
    var letters = c.messages.filter(function (m) { return m.from === "citizen"; });
    var box = el("div", {});
    letters.forEach(function (m, i) {
      var files = m.attachments || [];
      box.appendChild(el("article", { cls: "od-letter-page" + (i ? " follow-up" : "") }, [
        el("dl", { cls: "od-letter-head" }, [
          el("div", {}, [el("dt", { text: tr("chat.letter_subject") }), el("dd", { text: c.subject || "—" })]),
          el("div", {}, [el("dt", { text: tr("chat.letter_from") }), el("dd", { text: c.citizen || "—" })]),
          el("div", {}, [el("dt", { text: tr("chat.letter_received") }), el("dd", { text: fmtTime(m.at, true) })])
        ]),
        el("div", { cls: "od-letter-files" }, [
          el("h4", { text: files.length ? tr("chat.attachments", { n: files.length }) : tr("chat.no_attachments") }),
          files.length ? el("ul", {}, files.map(function (a) {
            return el("li", {}, [el("span", { cls: "od-att-icon od-att-" + a.kind, "aria-hidden": "true" }), el("span", { text: a.name }), el("span", { cls: "muted small mono", text: a.content_type + (a.size ? " · " + size(a.size) : "") })]);
          })) : null
        ]),
        el("div", { cls: "od-letter-text", text: m.text })
      ]));
    });
    return box;
  }
  function renderPanel() {
    var c = active !== null ? convs[active] : null;
    var panel = $("od-panel");
    root.dataset.active = order.length ? "1" : "0";  // the idle call card folds away (CSS)
    $("od-empty").hidden = !!c;
    $("od-conv").hidden = !c;
    panel.dataset.kind = c ? c.kind : "none";
    if (!c) { return; }
    delete unread[c.ticket_id];
    $("od-channel").textContent = tr("channel." + c.channel);
    $("od-channel").className = "tag od-ch od-ch-" + c.channel;
    $("od-citizen").textContent = c.citizen || tr("chat.citizen");
    $("od-ticket").textContent = c.number;
    $("od-ticket").href = "/tickets/" + c.number;
    var first = c.messages.length ? c.messages[0].text : "";
    $("od-subject").textContent = c.kind === "letter" || first.indexOf(c.subject) === 0 ? "" : c.subject;
    $("od-end").textContent = tr(c.kind === "letter" ? "chat.close_letter" : "chat.end");
    $("od-text").placeholder = tr(c.kind === "letter" ? "chat.letter_placeholder" : "chat.reply_placeholder");
    $("od-text").rows = c.kind === "letter" ? 5 : 2;
    $("od-send").textContent = tr(c.kind === "letter" ? "chat.send_letter" : "chat.send");
    var letter = $("od-letter"), list = $("od-messages");
    clear(letter); clear(list);
    letter.hidden = c.kind !== "letter";
    if (c.kind === "letter") {
      letter.appendChild(letterNode(c));
      var answers = c.messages.filter(function (m) { return m.from === "agent"; });
      if (answers.length) { list.appendChild(el("li", { cls: "od-answers-title", text: tr("chat.answers") })); }
      answers.forEach(function (m) { list.appendChild(messageNode(m, c)); });
    } else {
      c.messages.forEach(function (m) { list.appendChild(messageNode(m, c)); });
    }
    list.scrollTop = list.scrollHeight;
  }
  function later(x, m) {
    if (x.at !== m.at) { return x.at > m.at; }
    if (x.id[0] !== m.id[0]) { return x.id[0] > m.id[0]; }
    return Number(x.id.slice(1)) > Number(m.id.slice(1));
  }

  function addMessage(id, m) {
    var c = convs[id];
    if (!c) { return; }
    if (c.messages.some(function (x) { return x.id === m.id; })) { return; }
    settled(m);
    // News of messages committed together comes in any order: each takes its place by
    // time, then as stored (the server's order, online_desk.message_order).
    var at = c.messages.findIndex(function (x) { return later(x, m); });
    if (at < 0) { c.messages.push(m); } else { c.messages.splice(at, 0, m); }
    if (id === active) { renderPanel(); } else { unread[id] = (unread[id] || 0) + 1; renderTabs(); }
  }

  // ------------------------------------------------------------------ replying, ending
  var pendingKey = null;
  $("od-composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var c = convs[active], box = $("od-text"), out = $("od-outcome"), text = box.value.trim();
    if (!c || !text) { box.focus(); return; }
    pendingKey = pendingKey || newKey();  // a retried send after a lost answer stores it once
    $("od-send").disabled = true;
    out.dataset.state = "pending"; out.textContent = tr("chat.status.pending");
    api("POST", "/api/v1/online/" + c.ticket_id + "/reply", { text: text, key: pendingKey }).then(function (r) {
      $("od-send").disabled = false;
      if (!r.ok) { out.dataset.state = "failed"; out.textContent = r.message; return; }
      pendingKey = null;
      box.value = "";
      out.dataset.state = ""; out.textContent = "";
      addMessage(c.ticket_id, r.data);
      box.focus();
    });
  });
  $("od-text").addEventListener("input", function () { pendingKey = null; });
  $("od-text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $("od-send").click(); }
  });
  $("od-end").addEventListener("click", function () {
    var c = convs[active];
    if (!c) { return; }
    $("od-end").disabled = true;
    api("POST", "/api/v1/online/" + c.ticket_id + "/end").then(function (r) {
      $("od-end").disabled = false;
      if (!r.ok) { $("od-outcome").dataset.state = "failed"; $("od-outcome").textContent = r.message; return; }
      delete convs[c.ticket_id];
      order = order.filter(function (x) { return x !== c.ticket_id; });
      active = order.length ? order[0] : null;
      renderTabs(); renderPanel(); reloadLater();
    });
  });
  // A reply's status as the socket told it, unless the message already knows its end.
  function settled(m) {
    var known = m.outbox_id !== undefined ? statusOf[m.outbox_id] : null;
    if (known && (m.status === "pending" || m.status === "retrying")) { m.status = known.status; m.error = known.error; }
  }
  function replyStatus(m) {
    statusOf[m.id] = m;
    Object.keys(convs).forEach(function (id) {
      convs[id].messages.forEach(function (x) {
        if (x.outbox_id === m.id) { x.status = m.status; x.error = m.error; }
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-outbox='" + m.id + "'] .od-status"), function (node) {
      node.dataset.status = m.status;
      node.textContent = tr("chat.status." + m.status);
      node.title = m.error || "";
    });
  }

  // ------------------------------------------------------------------ live news
  var handlers = {
    chat_offer: function (m) { addOffer(m); reloadLater(); },
    chat_offer_gone: function (m) { removeOffer(m.ticket_id, tr(m.reason === "timeout" ? "chat.offer_gone.timeout" : "chat.offer_gone.other")); reloadLater(); },
    chat_message: function (m) { addMessage(m.ticket_id, m.message); },
    reply_status: replyStatus,
    presence: function (m) { showLoad(m); },
    online_queue: function (m) {
      queue = m.queue.map(function (q) { q.offered_to_me = q.offered_to === me; return q; });
      showFigures(m.figures);
      renderQueue();
    },
    // A call moves the agent's presence (on a call, after-call work): what may be offered.
    call_answered: function () { reloadLater(); },
    call_finished: function () { reloadLater(); },
    resync: function () { load(); }
  };
  document.addEventListener("live:message", function (ev) { var h = handlers[ev.detail.type]; if (h) { h(ev.detail); } });
  document.addEventListener("live:open", function () { load(); });
  // Presence changes in the workspace (sign in, pause) change what may be offered.
  Array.prototype.forEach.call(document.querySelectorAll("[data-queue]"), function (btn) {
    btn.addEventListener("click", function () { setTimeout(load, 400); });
  });
  // F8 takes the oldest offer, from anywhere on the workspace.
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "F8") { return; }
    var first = Object.keys(offers).map(Number).sort(function (a, b) { return offers[a].started - offers[b].started; })[0];
    if (first !== undefined) { ev.preventDefault(); accept(first, offers[first].button); }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { document.title = document.title.replace(/^● /, ""); }
  });
  setInterval(function () {
    tickOffers();
    Array.prototype.forEach.call(document.querySelectorAll(".od-wait[data-since]"), function (node) {
      node.textContent = clock((Date.now() - Date.parse(node.dataset.since)) / 1000);
    });
  }, 1000);
  load();
})();
