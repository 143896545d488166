// The studio page: camera -> JPEG -> WebSocket (credit-based) -> stylized JPEG -> #output.
// Protocol: realtime_style/serve/protocol.py. No libraries, no build step.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token") || "";
  const withToken = (path) => token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
  const api = (path, options = {}) => fetch(path, {
    ...options, headers: { ...(options.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });

  const video = $("original"), output = $("output"), ctx = output.getContext("2d");
  const capture = document.createElement("canvas"), captureCtx = capture.getContext("2d");
  const state = {
    ws: null, stream: null, maxCredits: 0, inFlight: 0, released: new Set(), nextId: 1, sent: new Map(), fresh: false, encoding: false,
    lastDrawn: 0, shown: 0, dropped: 0, drawTimes: [], latencies: [], serverMs: [], running: false,
    styles: [], settings: null,
  };

  function message(text, error = false) {
    $("message").textContent = text;
    $("message").classList.toggle("error", error);
  }

  function percentile(values, q) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q / 100 * sorted.length) - 1)] * 10) / 10;
  }

  function stats() {
    const now = performance.now();
    const recent = state.drawTimes.filter((t) => now - t <= 2000);
    const fps = recent.length > 1 ? (recent.length - 1) * 1000 / (recent[recent.length - 1] - recent[0]) : 0;
    return {
      frames_shown: state.shown, fps: Math.round(fps * 100) / 100,
      latency_ms: { p50: percentile(state.latencies, 50), p95: percentile(state.latencies, 95) },
      dropped: state.dropped, server_ms: { p50: percentile(state.serverMs, 50) },
      size: `${capture.width}x${capture.height}`,
    };
  }

  function showStats() {
    const s = stats();
    const ms = (v) => v === null ? "–" : `${v.toFixed(0)} ms`;
    $("stats").textContent = state.running
      ? `${s.fps.toFixed(1)} fps · latency p50 ${ms(s.latency_ms.p50)} · p95 ${ms(s.latency_ms.p95)} · ` +
        `server ${ms(s.server_ms.p50)} · dropped ${s.dropped} · ${s.frames_shown} frames · ${s.size}`
      : (s.frames_shown ? `stopped after ${s.frames_shown} frames` : "not started");
  }
  setInterval(showStats, 500);

  // -- sending: only with a credit, only a camera frame not sent yet ---------------------------------
  function resolution() {
    const [w, h] = $("resolution").value.split("x").map(Number);
    const vw = video.videoWidth || w, vh = video.videoHeight || h;
    const scale = Math.min(1, w / vw, h / vh);  // fit the camera's picture into the chosen box
    return [Math.max(16, Math.round(vw * scale / 2) * 2), Math.max(16, Math.round(vh * scale / 2) * 2)];
  }

  function maybeSend() {
    const ws = state.ws;
    if (!state.running || !ws || ws.readyState !== WebSocket.OPEN || state.inFlight >= state.maxCredits ||
        !state.fresh || state.encoding || video.readyState < 2) return;
    state.fresh = false;
    state.encoding = true;
    state.inFlight += 1;
    const [w, h] = resolution();
    if (capture.width !== w || capture.height !== h) { capture.width = w; capture.height = h; }
    captureCtx.drawImage(video, 0, 0, w, h);
    const id = state.nextId++;
    const left = performance.now();
    capture.toBlob(async (blob) => {
      state.encoding = false;
      if (!blob || state.ws !== ws || ws.readyState !== WebSocket.OPEN) { state.inFlight = Math.max(0, state.inFlight - 1); return; }
      const header = new DataView(new ArrayBuffer(4));
      header.setUint32(0, id);
      state.sent.set(id, left);
      ws.send(new Blob([header, blob]));
      maybeSend();
    }, "image/jpeg", 0.85);
  }

  function onCameraFrame() {
    state.fresh = true;
    maybeSend();
    if (state.running && video.requestVideoFrameCallback) video.requestVideoFrameCallback(onCameraFrame);
  }

  // -- receiving --------------------------------------------------------------------------------------
  function giveBack(id) {  // a frame's credit, unless the server released it early already
    if (!state.released.delete(id)) state.inFlight = Math.max(0, state.inFlight - 1);
  }

  async function onFrame(data) {
    const view = new DataView(data);
    const id = view.getUint32(0), serverMs = view.getFloat32(4);
    giveBack(id);
    maybeSend();
    const left = state.sent.get(id);
    state.sent.delete(id);
    let bitmap;
    try {
      bitmap = await createImageBitmap(new Blob([new Uint8Array(data, 8)], { type: "image/jpeg" }));
    } catch (err) { return; }
    if (id < state.lastDrawn) { bitmap.close(); return; }  // a newer one is on screen already
    state.lastDrawn = id;
    if (output.width !== bitmap.width || output.height !== bitmap.height) {
      output.width = bitmap.width; output.height = bitmap.height;
    }
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const now = performance.now();
    state.shown += 1;
    state.drawTimes.push(now);
    if (state.drawTimes.length > 240) state.drawTimes.shift();
    if (left !== undefined) {
      state.latencies.push(now - left);
      if (state.latencies.length > 600) state.latencies.shift();
    }
    state.serverMs.push(serverMs);
    if (state.serverMs.length > 600) state.serverMs.shift();
  }

  function onControl(msg) {
    if (msg.type === "hello") {
      state.maxCredits = msg.credits;
      state.inFlight = 0;
      state.settings = msg.settings;
      if (!state.controlsSet) applySettingsToControls(msg.settings);
      sendSettings();
      message(`streaming (${msg.provider}); session ${msg.session}`);
      maybeSend();
    } else if (msg.type === "dropped") {
      for (const id of msg.ids) { state.sent.delete(id); giveBack(id); }
      state.dropped += msg.ids.length;
      maybeSend();
    } else if (msg.type === "release") {  // the frame is still at the engine: the next one may leave now
      if (state.sent.has(msg.id) && !state.released.has(msg.id)) {
        state.released.add(msg.id);
        state.inFlight = Math.max(0, state.inFlight - 1);
        maybeSend();
      }
    } else if (msg.type === "settings") {
      state.settings = msg.settings;
    } else if (msg.type === "style") {
      if (msg.state === "loading") message(`loading style ${msg.name}…`);
      else if (msg.state === "ready") message(`style ${msg.name}`);
      else { message(`style ${msg.name} failed: ${msg.message}`, true); $("style").value = state.settings.style; }
    } else if (msg.type === "busy" || msg.type === "error") {
      message(msg.message, true);
    }
  }

  // -- settings ---------------------------------------------------------------------------------------
  function applySettingsToControls(s) {
    $("style").value = s.style;
    $("strength").value = s.strength;
    $("preserve").checked = s.preserve_color;
    $("smooth").checked = s.smooth > 0;
    state.controlsSet = true;
  }

  function sendSettings() {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    state.ws.send(JSON.stringify({
      type: "settings", style: $("style").value, strength: Number($("strength").value),
      preserve_color: $("preserve").checked, smooth: $("smooth").checked, mirror: $("mirror").checked,
    }));
  }
  for (const id of ["style", "strength", "preserve", "smooth", "mirror"]) $(id).addEventListener("change", sendSettings);
  $("strength").addEventListener("input", sendSettings);
  $("mirror").addEventListener("change", () => video.classList.toggle("mirror", $("mirror").checked));
  video.classList.toggle("mirror", $("mirror").checked);
  $("resolution").addEventListener("change", async () => { if (state.running) await openCamera(); });
  $("sidebyside").addEventListener("change", () => $("stage").classList.toggle("side", $("sidebyside").checked));
  $("fullscreen").addEventListener("click", () => $("stage").requestFullscreen && $("stage").requestFullscreen());
  $("snapshot").addEventListener("click", () => output.toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `studio-${new Date().toISOString().replace(/[:.]/g, "-")}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png"));

  // -- start / stop -----------------------------------------------------------------------------------
  async function openCamera() {
    const [w, h] = $("resolution").value.split("x").map(Number);
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: 30 } }, audio: false,
    });
    video.srcObject = state.stream;
    await video.play();
  }

  function connect() {
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${withToken("/ws")}`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    ws.onmessage = (event) => {
      if (typeof event.data === "string") onControl(JSON.parse(event.data));
      else onFrame(event.data);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (state.running) {
        stop();
        message(event.reason || `the connection closed (${event.code})`, event.code !== 1000);
      }
    };
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      message("this page has no camera access: open it over https, or as http://localhost (ssh -L)", true);
      return;
    }
    try {
      await openCamera();
    } catch (err) {
      message(`camera: ${err.message || err.name}`, true);
      return;
    }
    state.running = true;
    state.maxCredits = 0;
    state.inFlight = 0;
    state.released.clear();
    state.sent.clear();
    $("start").textContent = "Stop";
    $("start").classList.add("stop");
    connect();
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onCameraFrame);
    else state.timer = setInterval(() => { state.fresh = true; maybeSend(); }, 1000 / 30);
  }

  function stop() {
    state.running = false;
    clearInterval(state.timer);
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close(1000, "stopped");
    $("start").textContent = "Start";
    $("start").classList.remove("stop");
    message("stopped");
  }

  $("start").addEventListener("click", () => (state.running ? stop() : start()));

  // -- styles and video jobs --------------------------------------------------------------------------
  async function loadStyles() {
    const response = await api("/api/styles");
    if (!response.ok) { message((await response.json()).error || `styles: ${response.status}`, true); return; }
    state.styles = await response.json();
    for (const select of [$("style"), $("upload-style")]) {
      select.replaceChildren(...state.styles.map((s) => {
        const option = new Option(s.builtin ? s.name : `${s.name} (imported)`, s.name, s.default, s.default);
        option.title = s.artwork;
        return option;
      }));
    }
  }

  function renderJobs(jobs) {
    $("jobs").replaceChildren(...jobs.slice().reverse().map((j) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = `${j.filename} · ${j.style}`;
      li.append(name);
      if (j.state === "done") {
        const a = document.createElement("a");
        a.href = withToken(`/api/jobs/${j.id}/output`);
        a.textContent = `download (${(j.output_bytes / 1e6).toFixed(1)} MB, ${j.frames} frames)`;
        li.append(a);
      } else if (j.state === "failed") {
        const e = document.createElement("span");
        e.className = "failed";
        e.textContent = `failed: ${j.error}`;
        li.append(e);
      } else {
        const p = document.createElement("progress");
        p.max = 1; p.value = j.progress;
        const s = document.createElement("span");
        s.textContent = j.state === "queued" ? "queued" : `${Math.round(j.progress * 100)} %`;
        li.append(p, s);
      }
      return li;
    }));
    return jobs.some((j) => j.state === "queued" || j.state === "running");
  }

  async function pollJobs() {
    const response = await api("/api/jobs");
    if (!response.ok) return;
    const busy = renderJobs((await response.json()).jobs);
    if (busy) setTimeout(pollJobs, 1000);
  }

  $("upload").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("style", $("upload-style").value);
    form.append("smooth", $("upload-smooth").checked ? "on" : "off");
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/convert");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) $("upload-state").textContent = `uploading ${Math.round(100 * e.loaded / e.total)} %`;
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      $("upload-state").textContent = xhr.status < 300 ? "queued" : `refused: ${body.error || xhr.status}`;
      pollJobs();
    };
    xhr.onerror = () => { $("upload-state").textContent = "upload failed (connection)"; };
    xhr.send(form);
  });

  window.studio = { stats, start, stop, state };
  loadStyles().then(pollJobs);
})();
