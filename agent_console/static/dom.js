// The small helpers every console page script builds on, defined once: catalog texts with
// {n} parameters, element building, the JSON API with the CSRF header, outcomes shown in place.
// Loaded before the page scripts (deferred, in document order) and exposed as window.Hotline;
// what differs per page (its texts, its CSRF token) is a parameter. Nothing inline (CSP).
(function () {
  "use strict";

  // "{name}" in a text replaced by each parameter's value.
  function fill(text, params) {
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  // tr(key, params) over a page's texts (the catalog part it was given); an unknown key shows as itself.
  function texts(T) {
    return function (key, params) { return fill(T[key] || key, params); };
  }

  function byId(id) { return document.getElementById(id); }

  // el("li", {cls, text, any attribute}, [children]): null/undefined/false attributes and
  // children are left out; string children become text.
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "cls") { node.className = attrs[k]; }
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { node.setAttribute(k, attrs[k]); }
    });
    (kids || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // A duration as mm:ss (minutes keep counting past the hour).
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  // An action's outcome in its status node: pending → done / failed, with the reason.
  function outcome(node, state, text) {
    if (!node) { return; }
    node.dataset.state = state;
    node.textContent = text;
  }

  // api(csrf) → call(method, path, body): JSON (or a FormData as it is) with the CSRF header.
  // It always resolves, to {ok, status, data, message, error}: error is the server's error
  // object (or null), message its words or "HTTP <status>"; a request that never reached the
  // server has status 0 and, in cause, what fetch threw.
  function api(csrf) {
    return function (method, path, body) {
      var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } };
      if (typeof FormData !== "undefined" && body instanceof FormData) { init.body = body; }
      else if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
      return fetch(path, init).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          var error = data && data.error ? data.error : null;
          var message = error ? error.message : "";
          return { ok: resp.ok, status: resp.status, data: data, message: message || ("HTTP " + resp.status), error: error };
        });
      }, function (err) {
        return { ok: false, status: 0, data: {}, message: String(err), error: { message: String(err) }, cause: err };
      });
    };
  }

  window.Hotline = { fill: fill, texts: texts, $: byId, el: el, clear: clear, clock: clock, outcome: outcome, api: api };
})();
