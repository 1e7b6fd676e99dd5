// Knowledge-base quick answers: as the agent types the citizen's description or picks a
// category, the best published answers appear; one click puts the answer into the resolution
// and writes the article (id, version) on the ticket's timeline. The panel says where it
// reads and writes through data attributes, so the same script serves the agent workspace
// (defaults), the new-ticket form (answers to read out; no ticket yet) and a ticket's page.
(function () {
  "use strict";
  var panel = document.getElementById("kb-panel");
  if (!panel) { return; }
  var T = panel.dataset, csrf = panel.dataset.csrf;
  function all(selector) { return selector ? Array.prototype.slice.call(document.querySelectorAll(selector)) : []; }
  function wired(name, fallback) { return T[name] === undefined ? fallback : T[name]; }
  var textFields = all(wired("textFields", "#ticket-form [name=subject], #ticket-form [name=description]"));
  var categoryField = all(wired("categoryField", "#ticket-form [name=category]"))[0] || null;
  var answer = T.answer === "" ? null : all(T.answer || "#answer")[0] || null;
  var own = document.getElementById("kb-qa-q");
  var list = document.getElementById("kb-qa-list");
  var empty = document.getElementById("kb-qa-empty");
  var timer = null, seq = 0, lastKey = null, waiting = null;

  // The shared helpers (dom.js); this panel's texts come as data-t-* attributes.
  var H = window.Hotline, el = H.el, fill = H.fill, outcome = H.outcome, api = H.api(csrf);

  // The ticket the answer is for: the page's own, or the one the call has made on the workspace.
  function ticketNumber() {
    if (T.ticket) { return T.ticket; }
    var card = document.getElementById("ticket-card"), link = document.getElementById("form-number");
    var number = link ? (link.textContent || "").trim() : "";
    return card && !card.hidden && /^\d{8}-\d{6}$/.test(number) ? number : "";
  }
  // What to search for: the agent's own words in the panel first, else the ticket's text.
  function query() {
    if (own.value.trim()) { return own.value.trim(); }
    var text = textFields.map(function (f) { return f.value; }).join(" ");
    return (text + " " + (T.query || "")).trim();
  }
  function category() {
    if (own.value.trim()) { return ""; }
    return categoryField ? categoryField.value : (T.category || "");
  }

  function search() {
    var text = query().slice(0, 500), cat = category(), key = text + "\u0000" + cat;
    if (key === lastKey) { return; }
    lastKey = key;
    if (!text && !cat) { render(null); return; }
    var mine = ++seq;
    var params = new URLSearchParams({ q: text, category: cat });
    fetch("/api/v1/knowledge/quick?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : { items: [] }; }, function () { return { items: [] }; })
      .then(function (data) { if (mine === seq) { render(data.items || []); } });
  }
  function schedule() { clearTimeout(timer); timer = setTimeout(search, 250); }

  function render(items) {
    H.clear(list);
    empty.hidden = !!(items && items.length);
    empty.textContent = items === null ? T.tIdle : T.tNone;
    (items || []).forEach(function (item) { list.appendChild(card(item)); });
  }
  function card(item) {
    var state = el("span", { cls: "outcome", role: "status" });
    var use = answer ? el("button", { type: "button", cls: "small-btn primary kb-use", text: T.tUse }) : null;
    var li = el("li", { cls: item.expired ? "is-expired" : "", "data-id": String(item.id), "data-version": String(item.version) }, [
      el("div", { cls: "kb-qa-title" }, [
        el("span", { text: item.title }),
        item.expired ? el("span", { cls: "tag red kb-expired", text: T.tExpired }) : null,
        el("span", { cls: "muted small", text: fill(T.tVersion, { n: item.version }) })
      ]),
      el("div", { cls: "kb-qa-body", text: item.body }),
      el("div", { cls: "kb-qa-foot" }, [
        use,
        el("a", { cls: "small", href: "/knowledge/" + item.id + "?v=" + item.version, target: "_blank", text: T.tOpen }),
        state
      ])
    ]);
    if (use) { use.addEventListener("click", function () { take(item, li, state); }); }
    return li;
  }

  // One click: the answer goes into the resolution; the article is cited on the ticket.
  function take(item, li, state) {
    var box = answer.closest("details");
    if (box) { box.open = true; }
    answer.value = item.body;
    answer.rows = Math.max(answer.rows, 4);  // the agent reads it out: show more than one line
    answer.dataset.kbArticle = item.id + ":" + item.version;
    answer.dispatchEvent(new Event("input", { bubbles: true }));
    Array.prototype.forEach.call(list.querySelectorAll("li.used"), function (n) { n.classList.remove("used"); });
    li.classList.add("used");
    var number = ticketNumber();
    if (number) { cite(item, number, state); }
    else { waiting = { item: item, state: state }; outcome(state, "pending", T.tUsedWait); }
    var next = all(T.focus || "#resolve")[0];
    if (next) { next.focus(); }
  }
  function cite(item, number, state) {
    outcome(state, "pending", T.tPending);
    api("POST", "/api/v1/knowledge/" + item.id + "/cite", { ticket: number, version: item.version }).then(function (r) {
      if (r.ok) { outcome(state, "done", T.tUsed); return; }
      outcome(state, "failed", fill(T.tFailed, { reason: r.message }));
    });
  }

  textFields.forEach(function (f) { f.addEventListener("input", schedule); });
  if (categoryField) { categoryField.addEventListener("change", schedule); }
  own.addEventListener("input", schedule);
  // The workspace fills its form itself when a call's ticket arrives (no input event), and the
  // ticket number appears only once the call is answered: look again every second.
  setInterval(function () {
    search();
    if (waiting && ticketNumber()) { var w = waiting; waiting = null; cite(w.item, ticketNumber(), w.state); }
  }, 1000);
  search();
})();
