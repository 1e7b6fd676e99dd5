// Admin console: forms post JSON to the admin API and show its answer in place.
// No framework and nothing inline (CSP script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("admin");
  if (!root) { return; }
  var csrf = root.dataset.csrf;
  var flash = document.getElementById("admin-flash");

  // The shared JSON call (dom.js), made to reject on failure: the forms chain .catch(fail).
  var call = window.Hotline.api(csrf);
  function api(method, path, body) {
    return call(method, path, body).then(function (r) {
      if (r.ok) { return r.data; }
      if (!r.status) { throw r.cause; }
      var err = r.error || {};
      var e = new Error(err.message || String(r.status));
      e.field = err.field; e.detail = err.detail;
      throw e;
    });
  }

  function say(kind, text) {
    flash.hidden = false;
    flash.className = "alert " + kind;
    flash.textContent = text;
  }

  var hints = JSON.parse(root.dataset.hints || "{}");

  function fail(form, e) {
    var box = form && form.querySelector(".form-error");
    var name = String(e.field || "").replace(/^rules\[\d+\]\./, "");
    // A field the form knows gets its hint in the console's language; else the server's words.
    var text = hints[name] || e.message + (e.detail && e.message.indexOf(e.detail) < 0 ? " (" + e.detail + ")" : "");
    if (box) { box.textContent = text; } else { say("error", text); }
    if (form && e.field) {
      var input = form.elements[name];
      if (input && input.classList) { input.classList.add("invalid"); input.focus(); }
    }
  }

  function valueOf(input) {
    var type = input.dataset.type;
    if (type === "bool") { return input.checked; }
    if (type === "boolsel") { return input.value === "true"; }
    if (type === "number") { return input.value === "" ? null : Number(input.value); }
    if (type === "list") {
      return input.value.split(/[\s,，、]+/).filter(function (w) { return w; });
    }
    if (input.multiple) {
      return Array.prototype.filter.call(input.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    }
    return input.value;
  }

  function collect(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled) { return; }
      body[input.name] = valueOf(input);
    });
    return body;
  }

  function fill(form, row) {
    Object.keys(row).forEach(function (k) {
      var input = form.elements[k];
      var v = row[k];
      if (input && input.nodeName) {
        if (input.type === "checkbox") { input.checked = !!v; }
        else if (input.multiple) {
          Array.prototype.forEach.call(input.options, function (o) { o.selected = (v || []).indexOf(o.value) >= 0; });
        } else if (input.dataset.type === "list") { input.value = (v || []).join(" "); }
        else { input.value = v === null || v === undefined ? "" : String(v); }
      }
      var shown = form.querySelector('[data-show="' + k + '"]');
      if (shown) { shown.textContent = v; }
    });
  }

  function clearErrors(form) {
    var box = form.querySelector(".form-error");
    if (box) { box.textContent = ""; }
    Array.prototype.forEach.call(form.querySelectorAll(".invalid"), function (i) { i.classList.remove("invalid"); });
  }

  function showSecret(data) {
    var card = document.getElementById("secret");
    if (!card || !data.password) { return false; }
    card.hidden = false;
    document.getElementById("secret-value").textContent =
      (data.user ? data.user.username + " · " : "") + data.password;
    card.scrollIntoView({ block: "nearest" });
    return true;
  }

  // The page's table again, without a reload that would lose a once-shown password.
  function refreshTable() {
    var table = document.querySelector("table.grid[id]");
    if (!table) { return; }
    fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#" + table.id + " tbody");
        if (fresh) { table.replaceChild(document.importNode(fresh, true), table.tBodies[0]); }
      });
  }

  // What a successful answer does: show a once-only password, else reload to show the change.
  function done(data, keepPage) {
    if (showSecret(data)) { refreshTable(); return; }
    if (data && data.recomputed && data.recomputed.length) {
      sessionStorage.setItem("admin-flash", root.dataset.recomputed.replace("{n}", data.recomputed.length));
    }
    if (!keepPage) { location.reload(); return; }
    say("ok", root.dataset.saved);
  }

  // Generic forms: data-api="METHOD /path/{key}/{field}"; data-keep stays on the page.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-api]"), function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(form);
      var parts = form.dataset.api.split(" ");
      var body = collect(form);
      var path = parts[1].replace(/\{(\w+)\}/g, function (m, k) {
        return encodeURIComponent(k === "key" ? form.dataset.key || "" : body[k] || "x");
      });
      var btn = form.querySelector("button.primary");
      if (btn) { btn.disabled = true; }
      api(parts[0], path, body).then(function (data) {
        done(data, form.hasAttribute("data-keep"));
        if (data.password) { form.reset(); }
      }).catch(function (e) { fail(form, e); }).then(function () { if (btn) { btn.disabled = false; } });
    });
  });

  // One-click actions: data-call="METHOD /path" (+ data-body, data-confirm).
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-call]");
    if (!btn) { return; }
    var question = btn.dataset.confirm;
    if (question && !window.confirm(question)) { return; }
    var parts = btn.dataset.call.split(" ");
    var body = btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined;
    btn.disabled = true;
    api(parts[0], parts[1], body).then(function (data) { done(data, false); })
      .catch(function (e) { say("error", e.message + (e.detail ? " (" + e.detail + ")" : "")); })
      .then(function () { btn.disabled = false; });
  });

  // Edit buttons fill the side form with the row and point it at that row.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-fill]");
    if (!btn) { return; }
    var form = document.querySelector(btn.dataset.fill);
    form.hidden = false;
    form.dataset.key = btn.dataset.key;
    clearErrors(form);
    fill(form, JSON.parse(btn.dataset.row));
    var first = form.querySelector("input:not([type=hidden]), select");
    if (first) { first.focus(); }
  });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-close]");
    if (btn) { btn.closest("form").hidden = true; }
  });

  // Working calendar: a click on a day puts it in the override form.
  var overrideForm = document.getElementById("override-form");
  if (overrideForm) {
    document.getElementById("calendar").addEventListener("click", function (ev) {
      var day = ev.target.closest(".cal-day");
      if (!day) { return; }
      clearErrors(overrideForm);
      overrideForm.elements.day.value = day.dataset.day;
      // Offer the opposite of what the day is now: that is what an override is for.
      overrideForm.elements.is_workday.value = day.dataset.workday === "true" ? "false" : "true";
      overrideForm.elements.reason.value = day.dataset.reason || "";
      overrideForm.elements.reason.focus();
    });
  }

  // Dispatch rules: the whole table is saved at once through the rules API.
  var ruleForm = document.getElementById("rule-form");
  var rules = null;
  function loadRules() {
    return rules ? Promise.resolve(rules) : api("GET", "/api/v1/dispatch_rules").then(function (r) { rules = r; return r; });
  }
  function saveRules(list, form) {
    var clean = list.map(function (r) {
      return { category: r.category || null, district: r.district || null, keywords: r.keywords || [],
        lead_department: r.lead_department, co_departments: r.co_departments || [],
        priority: r.priority || 0, auto_dispatch: !!r.auto_dispatch, active: r.active !== false };
    });
    return api("PUT", "/api/v1/dispatch_rules", { rules: clean }).then(function () { location.reload(); })
      .catch(function (e) { fail(form, e); });
  }
  if (ruleForm) {
    var heading = ruleForm.querySelector("h2");
    document.getElementById("rule-new").addEventListener("click", function () {
      ruleForm.hidden = false;
      ruleForm.reset();
      ruleForm.dataset.index = "-1";
      heading.textContent = heading.dataset.new;
      clearErrors(ruleForm);
      ruleForm.elements.category.focus();
    });
    document.addEventListener("click", function (ev) {
      var edit = ev.target.closest && ev.target.closest("[data-rule-edit]");
      var del = ev.target.closest && ev.target.closest("[data-rule-delete]");
      if (edit) {
        loadRules().then(function (list) {
          var i = Number(edit.dataset.ruleEdit);
          ruleForm.hidden = false;
          ruleForm.dataset.index = String(i);
          heading.textContent = heading.dataset.edit + " #" + list[i].id;
          clearErrors(ruleForm);
          fill(ruleForm, list[i]);
          ruleForm.scrollIntoView({ block: "nearest" });
          ruleForm.elements.category.focus();
        });
      } else if (del) {
        if (!window.confirm(del.dataset.confirm)) { return; }
        loadRules().then(function (list) {
          var copy = list.slice();
          copy.splice(Number(del.dataset.ruleDelete), 1);
          saveRules(copy, null);
        });
      }
    });
    ruleForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(ruleForm);
      var rule = collect(ruleForm);
      loadRules().then(function (list) {
        var copy = list.slice();
        var i = Number(ruleForm.dataset.index);
        if (i >= 0) { copy[i] = rule; } else { copy.push(rule); }
        saveRules(copy, ruleForm);
      });
    });
  }

  // The test box: which saved rule a ticket would follow.
  var testForm = document.getElementById("rule-test");
  if (testForm) {
    var out = document.getElementById("rule-test-result");
    testForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(testForm);
      api("POST", "/api/v1/admin/dispatch_rules/test", collect(testForm)).then(function (data) {
        var s = data.suggestion;
        out.hidden = false;
        out.className = "test-result " + (s ? "hit" : "miss");
        out.textContent = "";
        if (!s) { out.textContent = out.dataset.none || testForm.dataset.none; return; }
        var title = document.createElement("b");
        title.textContent = testForm.dataset.matched.replace("{id}", s.rule_id);
        var lead = document.createElement("div");
        lead.textContent = testForm.dataset.lead + " " + s.lead_name;
        out.appendChild(title);
        out.appendChild(lead);
        if (s.co_names.length) {
          var co = document.createElement("div");
          co.textContent = testForm.dataset.co + " " + s.co_names.join("、");
          out.appendChild(co);
        }
        if (s.auto_dispatch) {
          var auto = document.createElement("div");
          auto.className = "tag red";
          auto.textContent = testForm.dataset.auto;
          out.appendChild(auto);
        }
        Array.prototype.forEach.call(document.querySelectorAll("#rules tr.matched"), function (tr) { tr.classList.remove("matched"); });
        Array.prototype.forEach.call(document.querySelectorAll("#rules tbody tr"), function (tr) {
          var idCell = tr.querySelector("td");
          if (idCell && idCell.textContent.trim() === String(s.rule_id)) { tr.classList.add("matched"); }
        });
      }).catch(function (e) { fail(testForm, e); });
    });
  }

  var note = sessionStorage.getItem("admin-flash");
  if (note) { sessionStorage.removeItem("admin-flash"); say("ok", note); }
})();
