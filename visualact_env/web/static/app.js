// visualact serve: small progressive enhancements; every form works without this file.
(function () {
  "use strict";

  // Keys 0-4 choose the APL, P / R the kind, while focus is on that row's buttons.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || target.type !== "radio") return;
    var group = target.closest("fieldset.choice");
    if (!group) return;
    var value = null;
    if (group.dataset.keys === "apl" && /^[0-4]$/.test(event.key)) value = event.key;
    if (group.dataset.keys === "kind") {
      var k = event.key.toLowerCase();
      if (k === "p") value = "proactive";
      if (k === "r") value = "reactive";
    }
    if (value === null) return;
    var radio = group.querySelector('input[type=radio][value="' + value + '"]');
    if (radio) {
      radio.checked = true;
      radio.focus();
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      event.preventDefault();
    }
  });

  // "Add another action" without a round trip: clone the last row with fresh names.
  function addRow(form) {
    var rows = form.querySelector("[data-rows]");
    var count = form.querySelector('input[name="rows"]');
    if (!rows || !count) return false;
    var last = rows.querySelector("fieldset.proposal:last-of-type");
    if (!last) return false;
    var n = parseInt(count.value, 10);
    if (n >= 32) return true;
    var copy = last.cloneNode(true);
    copy.dataset.row = String(n);
    copy.querySelector("legend").textContent = "Action " + (n + 1);
    copy.querySelectorAll(".error").forEach(function (e) { e.remove(); });
    copy.querySelectorAll("[aria-invalid]").forEach(function (e) {
      e.removeAttribute("aria-invalid");
      e.removeAttribute("aria-describedby");
    });
    copy.querySelectorAll("input").forEach(function (input) {
      var m = /^(text|apl|pro)-\d+$/.exec(input.name);
      if (!m) return;
      input.name = m[1] + "-" + n;
      if (input.type === "text") { input.value = ""; input.id = "text-" + n; }
      else input.checked = false;
    });
    var label = copy.querySelector("label[for]");
    if (label) label.setAttribute("for", "text-" + n);
    rows.appendChild(copy);
    count.value = String(n + 1);
    copy.querySelector('input[type="text"]').focus();
    return true;
  }

  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (addRow(button.form)) event.preventDefault();
    });
  });

  // Visible time on a study clip (the server measures wall time itself as well).
  var field = document.querySelector("[data-client-ms]");
  if (field) {
    var active = 0;
    var since = document.visibilityState === "visible" ? performance.now() : null;
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") since = performance.now();
      else if (since !== null) { active += performance.now() - since; since = null; }
    });
    field.form.addEventListener("submit", function () {
      var total = active + (since !== null ? performance.now() - since : 0);
      field.value = String(Math.round(total));
    });
  }
})();
