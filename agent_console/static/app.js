// Console behaviour that needs no framework: confirm the 110 transfer without slowing it down,
// and close the bar's menu on a click elsewhere.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !form.dataset.confirmed) {
      // One Enter on the native dialog confirms; nothing to aim the mouse at.
      if (!window.confirm(question)) { ev.preventDefault(); return; }
      form.dataset.confirmed = "1";
    }
  });
  document.addEventListener("click", function (ev) {
    // An open menu closes when the click lands anywhere else.
    document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
      if (!menu.contains(ev.target)) { menu.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") {
      document.querySelectorAll("details.nav-menu[open]").forEach(function (m) { m.removeAttribute("open"); });
    }
    // F10 is the one-key 110 transfer wherever the button is on the page.
    if (ev.key === "F10") {
      var btn = document.querySelector(".action-110 button");
      if (btn) { ev.preventDefault(); btn.click(); }
    }
  });
})();
