// Wallboard supervision: overdue orders, deadline warnings and what awaits a decision, reloaded
// whenever the socket (live.js, "live:message") says a ticket moved or a deadline passed;
// 督办 / 改派 / extension decisions with their outcome in place. Nothing inline (CSP).
(function () {
  "use strict";
  var rootNode = document.getElementById("sup-root");
  if (!rootNode) { return; }
  var T = JSON.parse(document.getElementById("sup-texts").textContent);
  var live = document.getElementById("live-root");
  var csrf = live.dataset.csrf, tz = live.dataset.tz || undefined;
  var lang = document.documentElement.lang || "zh-CN";
  var data = null, skew = 0, editing = null, stale = false, timer = null;
  var outcomes = {};  // number → {state, text, until}: kept across reloads for a while

  // The shared helpers (dom.js), bound to this page's texts and CSRF token.
  var H = window.Hotline, tr = H.texts(T), $ = H.$, el = H.el, clear = H.clear, api = H.api(csrf);

  function when(iso) {
    return new Date(iso).toLocaleString(lang, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz });
  }
  function lateBy(iso) {
    var s = Math.max(0, Math.floor((Date.now() - skew - Date.parse(iso)) / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? tr("sup.days", { d: d }) : "") + (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  function load() {
    return api("GET", "/api/v1/supervision").then(function (r) {
      if (!r.ok) { return; }
      data = r.data;
      skew = Date.now() - Date.parse(data.at);
      if (editing) { stale = true; } else { render(); }
    });
  }
  function soon() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; load(); }, 250);
  }

  function showOutcome(li, number) {
    var o = outcomes[number], node = li.querySelector(".outcome");
    if (o && o.until > Date.now()) { node.dataset.state = o.state; node.textContent = o.text; }
  }
  function setOutcome(li, number, state, text) {
    outcomes[number] = { state: state, text: text, until: Date.now() + 15000 };
    showOutcome(li, number);
  }

  function deptOptions(current) {
    return data.departments.filter(function (d) { return d.code !== current; }).map(function (d) {
      return el("option", { value: d.code, text: d.name });
    });
  }

  function finish(li, item, r, doneText) {
    editing = null;
    if (r.ok) { setOutcome(li, item.number, "done", doneText); }
    else { setOutcome(li, item.number, "failed", r.message); }
    if (stale || r.ok) { stale = false; load(); }
  }

  function openForm(li, item, kind) {
    var box = li.querySelector(".sup-form");
    clear(box);
    editing = item.number;
    var fields = [], submit;
    if (kind === "supervise") {
      var note = el("textarea", { name: "note", rows: "2", maxlength: "2000" });
      var due = el("input", { name: "due_date", type: "date" });
      fields = [el("label", {}, [tr("sup.note"), note]), el("label", {}, [tr("sup.new_due"), due])];
      submit = function () {
        var body = { note: note.value };
        if (due.value) { body.due_date = due.value; }
        return api("POST", "/api/v1/supervision/" + item.number + "/supervise", body).then(function (r) {
          finish(li, item, r, tr("sup.out.supervise"));
        });
      };
    } else if (kind === "assign") {
      var who = el("select", { name: "agent" }, data.agents.filter(function (a) { return a.username !== item.agent; }).map(function (a) {
        return el("option", { value: a.username, text: a.name === a.username ? a.name : a.name + " (" + a.username + ")" });
      }));
      fields = [el("label", {}, [tr("sup.to_agent"), who])];
      submit = function () {
        var label = who.options[who.selectedIndex] ? who.options[who.selectedIndex].text : who.value;
        return api("POST", "/api/v1/supervision/" + item.number + "/assign", { agent: who.value }).then(function (r) {
          finish(li, item, r, tr("sup.out.assign", { agent: label }));
        });
      };
    } else if (kind === "reassign") {
      var to = el("select", { name: "department" }, deptOptions(item.lead_department));
      fields = [el("label", {}, [tr("sup.to_department"), to])];
      submit = function () {
        var name = to.options[to.selectedIndex] ? to.options[to.selectedIndex].text : to.value;
        return api("POST", "/api/v1/supervision/" + item.number + "/reassign", { department: to.value }).then(function (r) {
          finish(li, item, r, tr("sup.out.reassign", { dept: name }));
        });
      };
    } else {
      var reason = el("textarea", { name: "reason", rows: "2", maxlength: "2000" });
      fields = [el("label", {}, [tr("sup.deny_reason"), reason])];
      submit = function () {
        return api("POST", "/api/v1/supervision/" + item.number + "/extension", { decision: "deny", reason: reason.value }).then(function (r) {
          finish(li, item, r, tr("sup.out.deny"));
        });
      };
    }
    var ok = el("button", { type: "submit", cls: "primary", text: tr("sup.send") });
    var cancel = el("button", { type: "button", cls: "quiet", text: tr("sup.cancel") });
    var form = el("form", { cls: "stack", "data-kind": kind }, fields.concat([el("div", { cls: "sup-buttons" }, [ok, cancel])]));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      ok.disabled = true;
      setOutcome(li, item.number, "pending", tr("sup.out.pending"));
      submit().then(function () { ok.disabled = false; });
    });
    cancel.addEventListener("click", function () {
      clear(box); box.hidden = true; editing = null;
      if (stale) { stale = false; render(); }
    });
    box.appendChild(form);
    box.hidden = false;
    var first = form.querySelector("textarea, select, input");
    if (first) { first.focus(); }
  }

  function row(item) {
    var open = item.state === "dispatched" || item.state === "handling";
    var when_ = item.kind === "overdue" || item.kind === "sign_overdue"
      ? el("span", { cls: "sup-when late mono", text: tr("sup.late_by", { t: lateBy(item.deadline) }) })
      : (item.deadline ? el("span", { cls: "sup-when mono muted", text: tr(item.kind === "pending_review" || item.kind === "returned" ? "sup.since" : "sup.due", { at: when(item.deadline) }) }) : null);
    var kindText = item.kind === "extension" ? tr("sup.kind.extension", { days: item.days }) : tr("sup.kind." + item.kind);
    var li = el("li", { cls: "sup-item kind-" + item.kind, "data-number": item.number }, [
      el("div", { cls: "sup-line" }, [
        el("a", { cls: "mono", href: "/tickets/" + item.number, text: item.number }),
        el("span", { cls: "sup-kind", text: kindText }),
        item.urgency === "urgent" ? el("span", { cls: "tag red", text: tr("urgency.urgent") }) : null,
        when_
      ]),
      el("div", { cls: "sup-sub" }, [
        el("span", { text: item.subject || item.category_name || "" }),
        item.lead_department_name ? el("span", { cls: "muted", text: " · " + item.lead_department_name }) : null,
        item.agent && !open ? el("span", { cls: "muted", text: " · " + tr("sup.agent", { agent: item.agent }) }) : null
      ]),
      el("div", { cls: "sup-actions" }),
      el("div", { cls: "sup-form", hidden: "hidden" }),
      el("p", { cls: "outcome", role: "status" })
    ]);
    var actions = li.querySelector(".sup-actions");
    if (item.kind === "extension") {
      var yes = el("button", { type: "button", cls: "primary", "data-act": "approve", text: tr("sup.approve") });
      yes.addEventListener("click", function () {
        setOutcome(li, item.number, "pending", tr("sup.out.pending"));
        api("POST", "/api/v1/supervision/" + item.number + "/extension", { decision: "approve" }).then(function (r) {
          finish(li, item, r, tr("sup.out.approve"));
        });
      });
      var no = el("button", { type: "button", "data-act": "deny", text: tr("sup.deny") });
      no.addEventListener("click", function () { openForm(li, item, "deny"); });
      actions.appendChild(yes); actions.appendChild(no);
    }
    if (item.kind === "pending_review" || item.kind === "returned") {
      var give = el("button", { type: "button", "data-act": "assign", text: tr("sup.assign") });
      give.addEventListener("click", function () { openForm(li, item, "assign"); });
      actions.appendChild(give);
    }
    if (open) {
      var sup = el("button", { type: "button", "data-act": "supervise", text: tr("sup.supervise") });
      sup.addEventListener("click", function () { openForm(li, item, "supervise"); });
      var re = el("button", { type: "button", "data-act": "reassign", text: tr("sup.reassign") });
      re.addEventListener("click", function () { openForm(li, item, "reassign"); });
      actions.appendChild(sup); actions.appendChild(re);
    }
    showOutcome(li, item.number);
    return li;
  }

  // An order that left a list because of an action here stays as a short line with its
  // outcome for a while, so the supervisor sees what became of it.
  var shown = { overdue: {}, warnings: {}, awaiting: {} };
  function ghost(number) {
    var li = el("li", { cls: "sup-item ghost", "data-number": number }, [
      el("div", { cls: "sup-line" }, [el("a", { cls: "mono", href: "/tickets/" + number, text: number })]),
      el("p", { cls: "outcome", role: "status" })
    ]);
    showOutcome(li, number);
    return li;
  }
  function fill(name, items) {
    var list = $("sup-" + name), now = {}, before = shown[name];
    clear(list);
    $("sup-n-" + name).textContent = String(items.length);
    items.forEach(function (item) { now[item.number] = true; });
    Object.keys(before).forEach(function (n) {
      var o = outcomes[n];
      if (!now[n] && o && o.until > Date.now()) { list.appendChild(ghost(n)); now[n] = "ghost"; }
    });
    if (!items.length && !list.firstChild) { list.appendChild(el("li", { cls: "empty muted", text: tr("sup.empty") })); }
    items.slice(0, 50).forEach(function (item) { list.appendChild(row(item)); });
    shown[name] = now;
  }
  function render() {
    if (!data) { return; }
    fill("overdue", data.overdue);
    fill("warnings", data.warnings);
    fill("awaiting", data.awaiting);
  }

  // One alert per order, naming every line it crossed (not signed in time, past due).
  function alertOf(m) {
    var box = $("sup-alerts"), node = box.querySelector(".sup-alert[data-number='" + m.number + "']");
    if (!node) {
      var dismiss = el("button", { type: "button", cls: "quiet", text: tr("sup.dismiss") });
      node = el("div", { cls: "sup-alert", "data-number": m.number }, [
        el("a", { cls: "mono", href: "/tickets/" + m.number, text: m.number }),
        el("span", { cls: "sup-alert-what" }),
        el("span", { cls: "muted small mono", text: when(m.at) }),
        dismiss
      ]);
      dismiss.addEventListener("click", function () { node.remove(); });
    }
    var kinds = (node.dataset.kinds ? node.dataset.kinds.split(" ") : []).filter(function (k) { return k !== m.kind; });
    kinds.unshift(m.kind);
    kinds.sort(function (a, b) { return (a === "sign_overdue" ? 0 : 1) - (b === "sign_overdue" ? 0 : 1); });
    node.dataset.kinds = kinds.join(" ");
    node.className = "sup-alert kind-" + kinds[0];
    node.querySelector(".sup-alert-what").textContent = kinds.map(function (k) { return tr("sup.alert." + k); }).join(" · ");
    box.insertBefore(node, box.firstChild);
    while (box.children.length > 5) { box.removeChild(box.lastChild); }
  }

  document.addEventListener("live:message", function (ev) {
    var m = ev.detail || {};
    if (m.type === "deadline_warning") {
      if (m.kind === "sign_overdue" || m.kind === "overdue") { alertOf(m); }
      soon();
    } else if (m.type === "ticket_changed" || m.type === "resync") { soon(); }
  });
  setInterval(function () {
    if (!data || editing) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".sup-item"), function (li) {
      var item = null, n = li.dataset.number;
      ["overdue", "warnings"].forEach(function (k) { data[k].forEach(function (i) { if (i.number === n) { item = i; } }); });
      var w = li.querySelector(".sup-when.late");
      if (item && w) { w.textContent = tr("sup.late_by", { t: lateBy(item.deadline) }); }
    });
  }, 30000);
  load();
})();
