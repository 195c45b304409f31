// Small progressive enhancements; every page works without them. No inline scripts (CSP).
// One module: `enhance` prepares new content (the page, then each htmx swap), and one listener
// per browser event dispatches to the behaviours below.
(function () {
  "use strict";

  document.documentElement.classList.add("js");  // narrow screens fold the header into a menu

  // -- Times: UTC in the HTML, the viewer's local time here --------------------------------------
  var TIME_FORMATS = {
    "": { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    seconds: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" },
    clock: { hour: "2-digit", minute: "2-digit", timeZoneName: "short" }
  };

  function formatLocalTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      var format = TIME_FORMATS[el.dataset.local] || TIME_FORMATS[""];
      if (!isNaN(when)) el.textContent = when.toLocaleString(undefined, format);
    });
  }

  // -- Webhook form -------------------------------------------------------------------------------
  function syncAuthFields(root) {
    root.querySelectorAll("[data-auth-select]").forEach(function (select) {
      var show = select.value === "basic";
      select.form.querySelectorAll("[data-basic-auth]").forEach(function (el) { el.hidden = !show; });
    });
  }

  function syncSelectAll(target) {
    var fieldset = target.closest("fieldset");
    var boxes = fieldset.querySelectorAll("input[type=checkbox][name]");
    if (target.matches("[data-select-all]")) {
      boxes.forEach(function (box) { box.checked = target.checked; });
      return;
    }
    var all = fieldset.querySelector("[data-select-all]");
    if (all) all.checked = Array.prototype.every.call(boxes, function (box) { return box.checked; });
  }

  // Controls that only make sense with JavaScript (select-all) are hidden in the HTML.
  function revealJsOnly(root) {
    root.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
  }

  // -- Buttons: copy, and confirm before a destructive action -----------------------------------
  function copyText(button) {
    var source = document.querySelector(button.dataset.copyTarget);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  }

  // A confirmed button with data-confirm-field skips the no-JS confirmation page.
  function confirmAction(e, button) {
    if (!window.confirm(button.dataset.confirm)) {
      e.preventDefault();
      return;
    }
    if (button.dataset.confirmField && button.form) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = button.dataset.confirmField;
      field.value = "yes";
      button.form.appendChild(field);
    }
  }

  // -- Header menu (narrow screens) ---------------------------------------------------------------
  function setMenuOpen(button, open) {
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", String(open));
    if (menu) menu.classList.toggle("open", open);
  }

  function closeMenus(except) {
    document.querySelectorAll('[data-menu-button][aria-expanded="true"]').forEach(function (button) {
      if (button !== except) setMenuOpen(button, false);
    });
  }

  // -- Announcements: what changed by itself, read out politely without moving the focus -------
  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (!region || !text) return;
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);  // a new text is read even if equal
  }

  // A cell's words as a screen reader says them: without the decorative icons.
  function spokenText(el) {
    var copy = el.cloneNode(true);
    copy.querySelectorAll("[aria-hidden=true]").forEach(function (hidden) { hidden.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  var settledStates = {};  // delivery id -> the state its row had before a refresh

  function rememberRowState(row) {
    settledStates[row.dataset.deliveryId] = row.dataset.state;
  }

  function announceRowChange(row) {
    var before = settledStates[row.dataset.deliveryId];
    delete settledStates[row.dataset.deliveryId];
    if (!before || before === row.dataset.state) return;
    var event = row.querySelector("td.event"), response = row.querySelector("td.response");
    if (event && response) announce(spokenText(event) + ": " + spokenText(response));
  }

  function announceResults(results) {
    var fresh = results.querySelectorAll(".log-row.fresh").length;
    if (fresh) announce(fresh === 1 ? "1 new delivery in Log History." : fresh + " new deliveries in Log History.");
    else {
      var summary = results.querySelector(".log-summary");
      if (summary) announce(spokenText(summary));
    }
  }

  // -- Log History -------------------------------------------------------------------------------
  // The delivery modal opens when its body receives a lazily loaded panel, and empties when
  // closed so a pending panel stops polling.
  // Closing it gives the focus back to the Expand link that opened it (found again by id, as a
  // live refresh may have replaced the link meanwhile).
  var modalOpenerId = null;

  function openDeliveryModal(target) {
    var dialog = target.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function returnFocusFromModal() {
    var opener = modalOpenerId && document.getElementById(modalOpenerId);
    modalOpenerId = null;
    if (opener) opener.focus();
  }

  // The server names a changed delivery in the event's detail ({"id": 42}); its row and open
  // panel refresh themselves on "refresh".
  function refreshDelivery(id) {
    document.querySelectorAll('[data-delivery-id="' + String(id) + '"]').forEach(function (el) {
      if (window.htmx) window.htmx.trigger(el, "refresh");
    });
  }

  // The bulk resend's custom times are typed in local time: send the offset along, and show the
  // two time fields only when "Between two times…" is chosen.
  function syncPeriodFields(root) {
    root.querySelectorAll("form[data-tz-offset]").forEach(function (form) {
      var offset = form.querySelector("input[name=tz_offset]");
      if (offset) offset.value = String(-new Date().getTimezoneOffset());
    });
    root.querySelectorAll("[data-period-select]").forEach(function (select) {
      select.form.querySelectorAll("[data-custom-period]").forEach(function (el) {
        el.hidden = select.value !== "custom";
      });
    });
  }

  // -- Wiring -------------------------------------------------------------------------------------
  function enhance(root) {
    formatLocalTimes(root);
    syncAuthFields(root);
    syncPeriodFields(root);
    revealJsOnly(root);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (e) { enhance(e.detail.elt); });

  document.addEventListener("change", function (e) {
    var target = e.target;
    if (target.matches("[data-auth-select]")) syncAuthFields(document);
    if (target.matches("[data-period-select]")) syncPeriodFields(document);
    if (target.matches("fieldset input[type=checkbox]")) syncSelectAll(target);
  });

  document.addEventListener("click", function (e) {
    var menuButton = e.target.closest("[data-menu-button]");
    if (!e.target.closest(".site-menu")) closeMenus(menuButton);  // a click elsewhere closes it
    if (menuButton) setMenuOpen(menuButton, menuButton.getAttribute("aria-expanded") !== "true");
    var copy = e.target.closest("[data-copy-target]");
    if (copy) copyText(copy);
    var confirmer = e.target.closest("[data-confirm]");
    if (confirmer) confirmAction(e, confirmer);
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = document.querySelector('[data-menu-button][aria-expanded="true"]');
    if (open) { setMenuOpen(open, false); open.focus(); }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    if (elt.getAttribute("hx-target") === "#log-modal-body" && elt.id) modalOpenerId = elt.id;
  });

  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (target && target.matches && target.matches(".log-row")) rememberRowState(target);
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "log-modal-body") openDeliveryModal(e.detail.target);
  });

  // A removed header row took the focused button with it: give focus to the row that took its
  // place, or to Add header, rather than to nothing.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var row = e.detail.target;
    if (!row || !row.matches || !row.matches("[data-header-row]")) return;
    var next = row.nextElementSibling || row.previousElementSibling;
    var fieldset = row.closest("fieldset");
    setTimeout(function () {
      var goal = next && next.isConnected ? next.querySelector("input")
        : fieldset && fieldset.querySelector("[name=add_header]");
      if (goal) goal.focus();
    }, 0);
  });

  document.addEventListener("htmx:load", function (e) {
    var elt = e.detail.elt;
    if (!elt.matches) return;
    if (elt.matches(".log-row")) announceRowChange(elt);
    if (elt.id === "log-results") announceResults(elt);
  });

  document.addEventListener("close", function (e) {
    if (e.target.matches && e.target.matches("dialog[data-log-modal]")) {
      var body = e.target.querySelector("#log-modal-body");
      if (body) body.innerHTML = "";
      returnFocusFromModal();
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

  document.addEventListener("deliveryChanged", function (e) {
    if (e.detail && e.detail.id != null) refreshDelivery(e.detail.id);
  });
})();
