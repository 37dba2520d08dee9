// Operator console: the rundown refreshes itself every few seconds, and pickers submit on change.
// Plain JavaScript, no library: commune offices may be offline from any CDN.
(function () {
  "use strict";

  function clockNow() {
    var d = new Date();
    return [d.getHours(), d.getMinutes(), d.getSeconds()]
      .map(function (n) { return (n < 10 ? "0" : "") + n; }).join(":");
  }

  // The operator is typing a reason or has an action open: replacing the rundown would lose it.
  function busy(box) {
    var active = document.activeElement;
    var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && box.contains(active);
    return typing || box.querySelector("details[open]") !== null;
  }

  function ids(root) {
    return Array.prototype.map.call(root.querySelectorAll("[data-airing]"), function (li) {
      return li.getAttribute("data-airing");
    }).join(",");
  }

  // While the operator is busy, only rows whose status changed (and the "on air" line) are
  // swapped, and never the row they are working in.
  function patch(box, fresh) {
    var onair = box.querySelector(".po-onair");
    var freshOnair = fresh.querySelector(".po-onair");
    if (onair && freshOnair) { onair.replaceWith(freshOnair); }
    Array.prototype.forEach.call(fresh.querySelectorAll("[data-airing]"), function (li) {
      var old = box.querySelector('[data-airing="' + li.getAttribute("data-airing") + '"]');
      if (!old || old.getAttribute("data-status") === li.getAttribute("data-status")) { return; }
      if (old.contains(document.activeElement) || old.querySelector("details[open]")) { return; }
      old.replaceWith(li);
    });
  }

  function live(box) {
    var url = box.getAttribute("data-refresh-url");
    var every = (parseInt(box.getAttribute("data-refresh-s"), 10) || 5) * 1000;
    var stale = box.parentNode.querySelector(".po-stale") ||
      document.querySelector(".po-stale");
    var timer = null;

    function warn(text) {
      if (!stale) { return; }
      stale.textContent = text;
      stale.hidden = !text;
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, every);
    }

    function refresh() {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
        .then(function (response) {
          if (response.redirected || !response.ok) {
            var error = new Error("status " + response.status);
            error.expired = response.redirected || response.status === 401;
            throw error;
          }
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("template");
          holder.innerHTML = html.trim();
          var fresh = holder.content.querySelector(".po-rundown");
          if (!fresh) {
            var error = new Error("no rundown");
            error.expired = true;
            throw error;
          }
          var current = box.querySelector(".po-rundown");
          if (!current) {
            box.appendChild(fresh);
          } else if (!busy(box)) {
            current.replaceWith(fresh);
          } else if (ids(current) === ids(fresh)) {
            patch(current, fresh);
          }
          // Otherwise rows came or went while the operator works in a row: wait for them.
          warn("");
          schedule();
        })
        .catch(function (error) {
          if (error.expired) {
            warn("Phiên đăng nhập đã hết hoặc trang đã thay đổi: hãy tải lại trang để xem trạng thái mới.");
            return;
          }
          warn("Mất kết nối với máy chủ lúc " + clockNow() +
            "; trạng thái bên dưới có thể đã cũ. Đang thử lại…");
          schedule();
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { refresh(); }
    });
    schedule();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".po-live[data-refresh-url]"), live);
    // Pickers (station, day, week) show their choice at once; the "Xem" button stays for
    // browsers without JavaScript.
    Array.prototype.forEach.call(document.querySelectorAll("[data-autosubmit]"), function (el) {
      el.addEventListener("change", function () {
        if (el.value && el.form) { el.form.submit(); }
      });
    });
  });
})();
