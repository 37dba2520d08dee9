// Live character count and reading-time estimate in the script editor.
(function () {
  "use strict";
  function formatDuration(seconds) {
    if (seconds >= 60) {
      return Math.floor(seconds / 60) + " phút " + (seconds % 60) + " giây";
    }
    return seconds + " giây";
  }
  function formatNumber(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var body = document.getElementById("body");
    var counter = document.getElementById("body-counter");
    if (!body || !counter) { return; }
    var max = parseInt(body.getAttribute("data-max"), 10);
    var spm = parseInt(counter.getAttribute("data-spm"), 10);
    function update() {
      // Count code points of the trimmed NFC text, as the server does.
      var text = body.value.normalize("NFC").trim();
      var syllables = (text.match(/[\p{L}\p{N}_]+/gu) || []).length;
      var chars = Array.from(text).length;
      document.getElementById("char-count").textContent = formatNumber(chars);
      document.getElementById("syllable-count").textContent = formatNumber(syllables);
      document.getElementById("reading-time").textContent =
        formatDuration(Math.round(syllables * 60 / spm));
      counter.classList.toggle("over", chars > max);
    }
    body.addEventListener("input", update);
    update();
  });
})();

// Render progress on the script page: poll each running render, reload when it finishes.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll(".render-progress[data-status-url]");
    Array.prototype.forEach.call(boxes, function (box) {
      var url = box.getAttribute("data-status-url");
      var bar = box.querySelector("progress");
      var label = box.querySelector(".render-status");
      function poll() {
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            if (bar) { bar.value = data.progress || 0; }
            if (label) { label.textContent = data.status_label; }
            if (data.status === "done" || data.status === "failed") {
              window.location.reload();
            } else {
              window.setTimeout(poll, 1000);
            }
          })
          .catch(function () { window.setTimeout(poll, 3000); });
      }
      window.setTimeout(poll, 1000);
    });
  });
})();
