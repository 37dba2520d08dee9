// The script page's microphone recorder: MediaRecorder in the browser, sent to the server as
// a file (the same route as an upload), then the page reloads to show the mastered result.
// Plain JavaScript, no library; no inline script (the page's Content-Security-Policy).
(function () {
  "use strict";

  var box = document.querySelector(".recorder[data-upload-url]");
  if (!box) { return; }
  var startButton = box.querySelector('[data-recorder="start"]');
  var stopButton = box.querySelector('[data-recorder="stop"]');
  var timeLabel = box.querySelector(".recorder-time");
  var statusLine = box.querySelector(".recorder-status");
  var maxSeconds = parseInt(box.getAttribute("data-max-seconds"), 10) || 1800;

  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    // Without a recorder (an old browser, or a page not served over HTTPS) the upload form stays.
    return;
  }
  box.hidden = false;

  var recorder = null;
  var chunks = [];
  var started = 0;
  var ticker = null;

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.className = "recorder-status small" + (isError ? " flash flash-error" : "");
    statusLine.setAttribute("role", isError ? "alert" : "status");
  }

  function clock(seconds) {
    var s = Math.floor(seconds % 60);
    return Math.floor(seconds / 60) + ":" + (s < 10 ? "0" : "") + s;
  }

  function tick() {
    var elapsed = (Date.now() - started) / 1000;
    timeLabel.textContent = clock(elapsed);
    if (elapsed >= maxSeconds) { stop(); }
  }

  function pickType() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  }

  function suffix(type) {
    if (type.indexOf("ogg") !== -1) { return "ogg"; }
    if (type.indexOf("mp4") !== -1) { return "m4a"; }
    return "webm";
  }

  function send(blob, type) {
    var form = new FormData();
    form.append("csrf_token", box.getAttribute("data-csrf"));
    form.append("source", "browser");
    form.append("file", blob, "ghi-am-tren-trinh-duyet." + suffix(type));
    say("Đang gửi và xử lý bản ghi…", false);
    fetch(box.getAttribute("data-upload-url"), {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () {
        return { message: "Máy chủ trả lời lỗi (mã " + response.status + "). Không có gì được lưu." };
      }).then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (result.ok) {
        say(result.data.message, false);
        // The page shows the mastered recording in its box once reloaded.
        window.location.hash = "recording";
        window.location.reload();
      } else {
        say(result.data.message, true);
        startButton.disabled = false;
      }
    }).catch(function () {
      say("Không gửi được bản ghi (mất kết nối tới máy chủ). Hãy thử lại.", true);
      startButton.disabled = false;
    });
  }

  function stop() {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    stopButton.disabled = true;
    window.clearInterval(ticker);
  }

  startButton.addEventListener("click", function () {
    startButton.disabled = true;
    say("Đang xin quyền dùng micrô…", false);
    // No echo cancelling, noise suppression or automatic gain: they pump and colour a voice,
    // and Loa sets the loudness itself when it masters the recording.
    var constraints = {
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    };
    navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      var type = pickType();
      recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
      chunks = [];
      recorder.addEventListener("dataavailable", function (event) {
        if (event.data && event.data.size) { chunks.push(event.data); }
      });
      recorder.addEventListener("stop", function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        var used = recorder.mimeType || type || "audio/webm";
        send(new Blob(chunks, { type: used }), used);
      });
      recorder.start(1000);
      started = Date.now();
      timeLabel.textContent = "0:00";
      ticker = window.setInterval(tick, 250);
      stopButton.disabled = false;
      say("Đang ghi âm… hãy đọc nội dung kịch bản.", false);
    }).catch(function () {
      say("Không dùng được micrô: trình duyệt chưa cho phép hoặc máy không có micrô. " +
          "Có thể ghi bằng điện thoại rồi tải tệp lên.", true);
      startButton.disabled = false;
    });
  });

  stopButton.addEventListener("click", stop);
})();
