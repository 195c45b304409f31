// Small progressive enhancements; the pages work without them. No inline scripts (CSP).
(function () {
  "use strict";

  function formatLocalTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var withSeconds = el.dataset.local === "seconds";
      el.textContent = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
        second: withSeconds ? "2-digit" : undefined, timeZoneName: "short"
      });
      el.title = el.getAttribute("datetime") + " (UTC)";
    });
    root.querySelectorAll("[data-local-time]").forEach(function (el) {
      var when = new Date(el.getAttribute("data-local-time"));
      if (isNaN(when)) return;
      el.textContent = when.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
    });
  }

  function syncAuthFields(root) {
    root.querySelectorAll("[data-auth-select]").forEach(function (select) {
      var form = select.form;
      var show = select.value === "basic";
      form.querySelectorAll("[data-basic-auth]").forEach(function (el) { el.hidden = !show; });
    });
  }

  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches("[data-auth-select]")) syncAuthFields(document);
    if (t.matches("[data-select-all]")) {
      t.closest("fieldset").querySelectorAll("input[type=checkbox][name]").forEach(function (box) { box.checked = t.checked; });
    }
    if (t.matches("fieldset input[type=checkbox][name]")) {
      var fs = t.closest("fieldset"), all = fs.querySelector("[data-select-all]");
      if (all) all.checked = Array.prototype.every.call(fs.querySelectorAll("input[type=checkbox][name]"), function (b) { return b.checked; });
    }
  });

  document.addEventListener("click", function (e) {
    var copy = e.target.closest("[data-copy-target]");
    if (copy) {
      var source = document.querySelector(copy.dataset.copyTarget);
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = "Copy"; }, 1500);
        });
      }
    }
    var confirmer = e.target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.dataset.confirm)) e.preventDefault();
  });

  function enhance(root) { formatLocalTimes(root); syncAuthFields(root); }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (e) { enhance(e.detail.elt); });
})();

// == Webhooks tab ==
(function () {
  "use strict";

  // Controls that only make sense with JavaScript (select-all) are hidden in the HTML.
  function revealJsOnly(root) {
    root.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
  }

  // A confirmed data-confirm button with data-confirm-field skips the no-JS confirmation page.
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-confirm][data-confirm-field]");
    if (!button || e.defaultPrevented || !button.form) return;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = button.dataset.confirmField;
    field.value = "yes";
    button.form.appendChild(field);
  });

  document.addEventListener("DOMContentLoaded", function () { revealJsOnly(document); });
  document.addEventListener("htmx:load", function (e) { revealJsOnly(e.detail.elt); });
})();
// == end Webhooks tab ==
// == Log History ==
(function () {
  "use strict";
  // The delivery modal opens when its body receives a lazily loaded panel, and empties when
  // closed so a pending panel stops polling.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "log-modal-body") {
      var dialog = e.detail.target.closest("dialog");
      if (dialog && !dialog.open) dialog.showModal();
    }
  });
  document.addEventListener("close", function (e) {
    if (e.target.matches && e.target.matches("dialog[data-log-modal]")) {
      var body = e.target.querySelector("#log-modal-body");
      if (body) body.innerHTML = "";
    }
  }, true);
  // A 409 that names its own target (a refused resend) is a message to show, not a failure.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (xhr.status === 409 && xhr.getResponseHeader("HX-Retarget")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
})();
// == end Log History ==
