// stylize studio: the page's logic. Plain ES2020, no dependencies; every request is same-origin.
"use strict";

const FILMSTRIP_COUNT = 8;
const FILMSTRIP_WIDTH = 160;
const SLIDER_DEBOUNCE_MS = 60;
/** While a slider or the scrubber moves, the preview is a draft painted with the network at
 * half the frame's shorter side (at most this many pixels): at 720p a quarter of the pixels,
 * 0.09 s a step instead of 0.21 s. Letting go paints it in full. */
const DRAFT_SIDE = 360;

const state = {
  info: { previewWidth: 640, maxUploadBytes: 0, easings: ["linear", "smooth", "in", "out", "in-out"] },
  dir: "",                // folder shown in the file list, relative to the root
  media: null,            // GET /api/media of the open input
  time: 0,                // scrubber time in seconds (snapped to frames)
  styles: [],             // GET /api/styles
  styleId: null,          // selected style id
  keyframes: [],          // [{time, style, strength}], sorted by time
  preview: {
    inFlight: false,
    pending: null,        // latest settings asked for while a request was in flight
    lastKey: null,        // JSON of the last settings sent (skips identical requests)
    seq: 0,
    url: null,            // object URL shown in #preview-after
    timer: 0,
    draft: false,         // a slider or the scrubber is moving: drafts until it is let go
  },
  messageSource: null,    // which kind of request put the text in #message
  jobs: new Map(),        // id -> JOB
};

const $ = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------------------------------------
// Small helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;          // properties: src, value, max, draggable, ...
    else if (value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** Up to 2 decimals, no trailing zeros: 0.7, 0.35, 1. */
function formatNumber(x) {
  return String(Math.round(x * 100) / 100);
}

/** M:SS.mmm, or H:MM:SS.mmm from an hour on. */
function formatTime(seconds) {
  const ms = Math.round(Math.max(0, seconds) * 1000);
  const h = Math.floor(ms / 3600000);
  const m = Math.floor(ms / 60000) % 60;
  const s = ((ms % 60000) / 1000).toFixed(3).padStart(6, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

function formatEta(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  const s = Math.ceil(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function baseName(path) {
  return String(path || "").split("/").pop();
}

// ---------------------------------------------------------------------------------------------
// Requests and the error line

/** The one-line error of a failed response: its JSON {"error"} or the status. */
async function responseError(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText || "error"}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await responseError(response));
  return response.status === 204 ? null : response.json();
}

function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** Shows the latest error; `source` lets a later success of the same kind clear it. */
function showMessage(text, source = "other") {
  $("#message").textContent = text;
  $("#message-close").hidden = !text;
  state.messageSource = source;
}

function clearMessage(source) {
  if (state.messageSource === source) showMessage("", null);
}

// ---------------------------------------------------------------------------------------------
// Files

async function loadFiles(dir) {
  try {
    const listing = await api(`/api/files?dir=${encodeURIComponent(dir)}`);
    state.dir = listing.dir || "";
    renderFiles(listing);
    clearMessage("files");
  } catch (error) {
    showMessage(`Files: ${error.message}`, "files");
  }
}

function renderFiles(listing) {
  $("#dir-label").textContent = "/" + (listing.dir || "");
  const list = $("#file-list");
  list.replaceChildren();
  if (listing.parent !== null && listing.parent !== undefined) {
    list.append(fileEntry({ name: "..", path: listing.parent, kind: "folder" }, true));
  }
  for (const entry of listing.entries) list.append(fileEntry(entry, false));
  if (!listing.entries.length) list.append(el("p", { class: "hint", text: "No clips or pictures here." }));
  markOpenFile();
}

function fileEntry(entry, isParent) {
  const badges = { folder: "dir", clip: "clip", picture: "pic", vector: "vec" };
  const detail = entry.kind === "folder" ? "" : formatBytes(entry.bytes);
  const row = el("div", {
    class: `file-entry kind-${entry.kind}`, tabindex: 0, role: "button",
    "data-path": entry.path, "data-kind": entry.kind, title: isParent ? "Up one folder" : entry.path,
  },
  el("span", { class: "file-badge", text: isParent ? "up" : badges[entry.kind] || "file" }),
  el("span", { class: "file-name", text: entry.name }),
  el("span", { class: "file-detail", text: detail }));
  if (entry.kind === "folder" && entry.pictures > 0 && !isParent) {
    row.append(el("button", {
      class: "open-frames", type: "button", text: "open as frames",
      title: `Open the ${entry.pictures} pictures in this folder as the frames of a clip`,
      onclick: (event) => { event.stopPropagation(); openInput(entry.path); },
    }));
  }
  const activate = () => {
    if (entry.kind === "folder") loadFiles(entry.path);
    else if (entry.kind === "vector") selectStyle(entry.path);
    else openInput(entry.path);
  };
  row.addEventListener("click", activate);
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") activate(); });
  return row;
}

function markOpenFile() {
  for (const row of document.querySelectorAll(".file-entry")) {
    row.classList.toggle("current", !!state.media && row.dataset.path === state.media.path);
  }
}

// ---------------------------------------------------------------------------------------------
// The open input: media info, scrubber, filmstrip, "before" frame

function isPicture() {
  return !!state.media && state.media.kind === "picture";
}

function frameRate() {
  return (state.media && state.media.frameRate) || 30;
}

function snapToFrame(seconds) {
  const duration = state.media ? state.media.duration : 0;
  const snapped = Math.round(seconds * frameRate()) / frameRate();
  return Math.min(Math.max(snapped, 0), duration);
}

/** The time sent to the server: the start of the frame shown, so the clip's end maps to its last frame. */
function requestTime(seconds) {
  const media = state.media;
  if (!media || media.duration <= 0) return 0;
  const lastFrame = media.frames > 1 ? (media.frames - 1) / frameRate() : 0;
  return Math.min(Math.max(seconds, 0), Math.min(lastFrame, media.duration));
}

function frameURL(seconds, width) {
  const path = encodeURIComponent(state.media.path);
  return `/api/frame?path=${path}&time=${requestTime(seconds).toFixed(4)}&width=${width}&fps=${folderRate()}`;
}

/** The frame rate a frame folder is shown at, as the page asks for it. */
function folderRate() {
  const fps = Number($("#folder-fps").value);
  return fps > 0 ? fps : 30;
}

async function openInput(path) {
  let media;
  try {
    media = await api(`/api/media?path=${encodeURIComponent(path)}&fps=${folderRate()}`);
  } catch (error) {
    showMessage(`Cannot open ${path}: ${error.message}`, "media");
    return;
  }
  clearMessage("media");
  state.media = media;
  state.time = 0;
  resetPreview();
  renderMediaInfo();
  setupScrubber();
  renderFilmstrip();
  updateBefore();
  renderKeyframes();
  markOpenFile();
  updateOutputPlaceholder();
  updateControls();
  schedulePreview(0);
}

function renderMediaInfo() {
  const m = state.media;
  const rows = [
    ["File", m.path],
    ["Kind", m.kind === "frames" ? "frame sequence" : m.kind],
    ["Size", `${m.width} \u00d7 ${m.height}`],
  ];
  if (m.kind !== "picture") {
    rows.push(["Duration", `${formatTime(m.duration)} (${m.frames} frames)`]);
    rows.push(["Frame rate", `${formatNumber(m.frameRate)} fps`]);
    rows.push(["Audio", m.hasAudio ? "yes, kept" : "none"]);
  }
  const dl = el("dl");
  for (const [key, value] of rows) dl.append(el("dt", { text: key }), el("dd", { text: value, title: value }));
  $("#media-info").replaceChildren(dl);
}

function setupScrubber() {
  const scrubber = $("#scrubber");
  const m = state.media;
  scrubber.min = "0";
  scrubber.step = String(1 / frameRate());
  scrubber.max = String(m.duration || 0);
  scrubber.value = "0";
  scrubber.disabled = m.kind === "picture" || !(m.duration > 0);
  updateTimeLabel();
}

function renderFilmstrip() {
  const strip = $("#filmstrip");
  strip.replaceChildren();
  const m = state.media;
  const count = m.kind === "picture" ? 1 : FILMSTRIP_COUNT;
  for (let i = 0; i < count; i++) {
    // The centre of each eighth of the clip.
    const time = m.kind === "picture" ? 0 : snapToFrame(((i + 0.5) / count) * m.duration);
    const img = el("img", {
      src: frameURL(time, FILMSTRIP_WIDTH), alt: `Frame at ${formatTime(time)}`,
      title: formatTime(time), draggable: false, "data-time": time,
    });
    img.addEventListener("error", () => img.classList.add("broken"));
    img.addEventListener("click", () => setTime(time, true));
    strip.append(img);
  }
}

function updateBefore() {
  if (!state.media) return;
  const url = frameURL(state.time, state.info.previewWidth || 640);
  const img = $("#preview-before");
  if (img.getAttribute("src") !== url) img.src = url;
  const ratio = `${state.media.width} / ${state.media.height}`;
  for (const pane of document.querySelectorAll(".pane")) pane.style.aspectRatio = ratio;
}

function updateTimeLabel() {
  const duration = state.media ? state.media.duration : 0;
  $("#time-label").textContent = `${formatTime(state.time)} / ${formatTime(duration)}`;
  const percent = duration > 0 ? (state.time / duration) * 100 : 0;
  $("#playhead").style.left = `${percent}%`;
}

/** Moves the scrubber (and the preview) to `seconds`. */
function setTime(seconds, immediate) {
  if (!state.media) return;
  state.time = snapToFrame(seconds);
  $("#scrubber").value = String(state.time);
  updateTimeLabel();
  updateBefore();
  state.preview.draft = !immediate;
  schedulePreview(immediate ? 0 : SLIDER_DEBOUNCE_MS);
}

// ---------------------------------------------------------------------------------------------
// Styles

async function loadStyles(selectId) {
  try {
    const body = await api("/api/styles");
    state.styles = body.styles || [];
    clearMessage("styles");
  } catch (error) {
    showMessage(`Styles: ${error.message}`, "styles");
    return;
  }
  renderStyles();
  renderMixOptions();
  if (selectId) selectStyle(selectId);
}

function renderStyles() {
  const list = $("#style-list");
  const filter = $("#style-filter").value.trim().toLowerCase();
  list.replaceChildren();
  const groups = [
    ["Gallery", state.styles.filter((s) => s.kind === "gallery")],
    ["Your styles", state.styles.filter((s) => s.kind !== "gallery")],
  ];
  for (const [title, styles] of groups) {
    const shown = styles.filter((s) => !filter || `${s.id} ${s.label} ${s.detail || ""}`.toLowerCase().includes(filter));
    if (!shown.length) continue;
    list.append(el("div", { class: "style-group", text: title }));
    for (const style of shown) list.append(styleThumb(style));
  }
  if (!list.children.length) list.append(el("p", { class: "hint", text: state.styles.length ? "No style matches." : "No styles found." }));
}

function styleThumb(style) {
  const button = el("button", {
    class: `style-thumb kind-${style.kind}${style.id === state.styleId ? " selected" : ""}`,
    type: "button", "data-id": style.id,
    title: [style.label, style.detail].filter(Boolean).join(" \u2014 "),
    onclick: () => selectStyle(style.id),
  });
  const placeholder = () => el("span", { class: "thumb-placeholder", text: style.kind === "vector" ? "vector" : "?" });
  if (style.thumbnail && style.kind !== "vector") {
    const img = el("img", { src: style.thumbnail, alt: "", loading: "lazy", draggable: false });
    img.addEventListener("error", () => img.replaceWith(placeholder()));
    button.append(img);
  } else {
    button.append(placeholder());
  }
  button.append(el("span", { class: "style-label", text: style.label || style.id }));
  return button;
}

function renderMixOptions() {
  const select = $("#mix-style");
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: "No mix" }));
  for (const style of state.styles) select.append(el("option", { value: style.id, text: style.label || style.id }));
  select.value = state.styles.some((s) => s.id === current) ? current : "";
}

function selectStyle(id) {
  state.styleId = id;
  for (const thumb of document.querySelectorAll(".style-thumb")) {
    thumb.classList.toggle("selected", thumb.dataset.id === id);
  }
  settingsChanged(0);
}

/** The spec of the selected style with the mix: `A:(1-r),B:r`, or null without a style. */
function styleSpec() {
  if (!state.styleId) return null;
  const mix = $("#mix-style").value;
  const ratio = Number($("#mix-ratio").value);
  if (!mix || mix === state.styleId || ratio <= 0) return state.styleId;
  if (ratio >= 1) return mix;
  return `${state.styleId}:${formatNumber(1 - ratio)},${mix}:${formatNumber(ratio)}`;
}

/** Whether a style in use is read from a picture: the style size changes nothing else. */
function stylesUsePicture() {
  const specs = [styleSpec(), ...activeKeyframes().map((k) => k.style)].filter(Boolean);
  const ids = specs.flatMap((spec) => spec.split(",").map((part) => part.replace(/:[0-9.]+$/, "")));
  return ids.some((id) => {
    const style = state.styles.find((s) => s.id === id);
    return !style || style.kind === "upload";
  });
}

// ---------------------------------------------------------------------------------------------
// Look settings

function strength() { return Number($("#strength").value); }
function styleSize() { return Number($("#style-size").value); }
function brushSize() { const v = Number($("#brush-size").value); return v > 0 ? v : null; }

function updateSettingLabels() {
  $("#strength-value").textContent = strength().toFixed(2);
  $("#style-size-value").textContent = `${styleSize()} px`;
  $("#brush-size-value").textContent = brushSize() ? `${brushSize()} px` : "native";
  $("#mix-ratio-value").textContent = Number($("#mix-ratio").value).toFixed(2);
  $("#style-spec").textContent = styleSpec() || "\u2014";
}

/** Any setting changed: refresh the labels and ask for a preview after `delay` ms. */
function settingsChanged(delay, draft = false) {
  state.preview.draft = draft;
  updateSettingLabels();
  updateOutputPlaceholder();
  updateControls();
  schedulePreview(delay);
}

function updateControls() {
  const ready = !!state.media && (!!styleSpec() || activeKeyframes().length > 0);
  $("#render").disabled = !ready;
  $("#add-keyframe").disabled = !state.media || isPicture() || !styleSpec();
  $("#mix-ratio").disabled = !$("#mix-style").value;
  const sized = stylesUsePicture();
  $("#style-size").disabled = !sized;
  $("#style-size-help").textContent = sized ? "Smaller = bigger brush features"
    : "Gallery styles and vectors are fixed: the style size changes only pictures";
  $(".keyframe-panel").classList.toggle("disabled", isPicture());
  const kind = state.media ? state.media.kind : null;
  for (const node of document.querySelectorAll(".clip-only")) node.hidden = kind !== "clip";
  for (const node of document.querySelectorAll(".frames-only")) node.hidden = kind !== "frames";
  for (const node of document.querySelectorAll(".motion-only")) node.hidden = !kind || kind === "picture";
  $("#render-stabilize-value").textContent = Number($("#render-stabilize").value).toFixed(2);
  const hint = $("#preview-hint");
  hint.textContent = !state.media ? "Open a clip or picture on the left" : ready ? "" : "Pick a style on the right";
  hint.hidden = !hint.textContent;
}

function updateOutputPlaceholder() {
  if (!state.media) { $("#output-name").placeholder = "auto"; return; }
  const stem = baseName(state.media.path).replace(/\.[^.]*$/, "") || "render";
  // As the server names it: "transition" for keyframes, else the first style's name.
  const spec = styleSpec();
  const styleName = activeKeyframes().length ? "transition"
    : spec ? baseName(spec.split(",")[0].split(":")[0]).replace(/\.[^.]*$/, "") : "styled";
  $("#output-name").placeholder = `auto: ${stem}-${styleName}${isPicture() ? ".png" : ".mp4"}`;
}

// ---------------------------------------------------------------------------------------------
// Preview: one request in flight, only the latest settings remembered meanwhile

function activeKeyframes() {
  return isPicture() ? [] : state.keyframes;
}

/** The POST /api/preview body for the current settings, or null when there is nothing to show. */
function previewSettings() {
  if (!state.media) return null;
  const keyframes = activeKeyframes();
  const style = styleSpec() || (keyframes.length ? keyframes[0].style : null);
  if (!style) return null;
  return {
    path: state.media.path,
    time: requestTime(state.time),
    style,
    strength: strength(),
    styleSize: styleSize(),
    size: state.preview.draft ? draftSide() : brushSize(),
    preserveColors: $("#preserve-colors").checked,
    precision: $("#precision").value,
    width: state.info.previewWidth || 640,
    keyframes: keyframes.length ? { ease: $("#ease").value, keyframes: keyframes.map(copyKeyframe) } : null,
    fps: state.media.kind === "frames" ? folderRate() : undefined,
  };
}

/** The render-only settings: trim for clips, stabilization and quality for videos, a folder's rate. */
function renderOptions() {
  const kind = state.media.kind;
  const number = (id) => { const text = $(id).value.trim(); return text === "" ? undefined : Number(text); };
  const options = {};
  if (kind === "clip") { options.start = number("#render-start"); options.duration = number("#render-duration"); }
  if (kind !== "picture") { options.stabilize = Number($("#render-stabilize").value); options.crf = number("#render-crf"); }
  if (kind === "frames") options.fps = folderRate();
  return options;
}

/** The brush side of a draft: half the side the network paints at, at most DRAFT_SIDE. */
function draftSide() {
  const full = brushSize() || Math.min(state.media.width, state.media.height);
  const side = Math.min(DRAFT_SIDE, Math.round(full / 2));
  return side >= 64 ? side : brushSize();
}

function copyKeyframe(k) {
  return { time: k.time, style: k.style, strength: k.strength };
}

function schedulePreview(delay) {
  clearTimeout(state.preview.timer);
  state.preview.timer = setTimeout(requestPreview, delay);
}

function requestPreview() {
  const settings = previewSettings();
  if (!settings) return;
  const key = JSON.stringify(settings);
  if (state.preview.inFlight) { state.preview.pending = settings; return; }
  if (key === state.preview.lastKey) return;
  sendPreview(settings, key);
}

async function sendPreview(settings, key) {
  state.preview.inFlight = true;
  state.preview.lastKey = key;
  $("#preview-status").textContent = "rendering\u2026";
  $("#preview-stage").setAttribute("aria-busy", "true"); // a request is in flight
  try {
    const response = await fetch("/api/preview", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: key,
    });
    if (response.status === 200) {
      const blob = await response.blob();
      // A result for an input no longer open is not shown.
      if (state.media && state.media.path === settings.path) {
        const draft = settings.size !== brushSize();
        showPreview(blob, response.headers.get("X-Preview-Milliseconds"), draft);
      }
      clearMessage("preview");
    } else if (response.status === 204) {
      state.preview.lastKey = null; // dropped by the server: the same settings may be asked again
    } else {
      const message = await responseError(response);
      state.preview.lastKey = null; // let the same settings be tried again
      $("#preview-status").textContent = message;
      showMessage(`Preview: ${message}`, "preview");
    }
  } catch (error) {
    state.preview.lastKey = null;
    $("#preview-status").textContent = error.message;
    showMessage(`Preview: ${error.message}`, "preview");
  } finally {
    state.preview.inFlight = false;
    $("#preview-stage").removeAttribute("aria-busy");
    const next = state.preview.pending;
    state.preview.pending = null;
    if (next) requestPreview();
  }
}

function showPreview(blob, milliseconds, draft) {
  const img = $("#preview-after");
  const old = state.preview.url;
  const url = URL.createObjectURL(blob);
  state.preview.url = url;
  img.src = url;
  state.preview.seq += 1;
  img.dataset.seq = String(state.preview.seq);
  $("#preview-stage").classList.add("has-after");
  $("#preview-status").textContent = milliseconds !== null ? `${milliseconds} ms${draft ? " (draft)" : ""}` : "";
  // Revoke the previous picture once the new one is decoded, so nothing flashes.
  if (old) img.decode().catch(() => {}).finally(() => URL.revokeObjectURL(old));
}

function resetPreview() {
  const img = $("#preview-after");
  if (state.preview.url) URL.revokeObjectURL(state.preview.url);
  state.preview.url = null;
  state.preview.lastKey = null;
  img.removeAttribute("src");
  $("#preview-stage").classList.remove("has-after");
  $("#preview-status").textContent = "";
}

function setCompareMode() {
  const mode = $("#compare").value;
  const stage = $("#preview-stage");
  stage.classList.toggle("split", mode === "split");
  stage.classList.toggle("side", mode !== "split");
  $(".split-control").classList.toggle("hidden", mode !== "split");
  updateSplit();
}

/** In split mode the after picture is clipped to the right of the line. */
function updateSplit() {
  const percent = Number($("#split").value);
  const split = $("#compare").value === "split";
  $("#preview-after").style.clipPath = split ? `inset(0 0 0 ${percent}%)` : "";
  $("#split-line").style.left = `${percent}%`;
}

function dragSplit(event) {
  if ($("#compare").value !== "split" || !(event.buttons & 1)) return;
  const rect = $(".pane-after").getBoundingClientRect();
  const percent = Math.round(((event.clientX - rect.left) / rect.width) * 100);
  $("#split").value = String(Math.min(Math.max(percent, 0), 100));
  updateSplit();
}

// ---------------------------------------------------------------------------------------------
// Keyframes

/** Adds (or replaces, at the same frame) a keyframe at the scrubber's time. */
function addKeyframe() {
  const style = styleSpec();
  if (!state.media || !style) return;
  putKeyframe({ time: state.time, style, strength: strength() });
  keyframesChanged();
}

function putKeyframe(keyframe) {
  const halfFrame = 0.5 / frameRate();
  state.keyframes = state.keyframes.filter((k) => Math.abs(k.time - keyframe.time) >= halfFrame);
  state.keyframes.push(keyframe);
  state.keyframes.sort((a, b) => a.time - b.time);
}

function keyframesChanged() {
  renderKeyframes();
  settingsChanged(0);
}

function renderKeyframes() {
  const timeline = $("#timeline");
  for (const marker of timeline.querySelectorAll(".keyframe-marker")) marker.remove();
  const duration = state.media ? state.media.duration : 0;
  state.keyframes.forEach((k, index) => {
    const marker = el("div", {
      class: "keyframe-marker", tabindex: 0, "data-index": index,
      title: `${formatTime(k.time)} \u00b7 ${k.style} \u00b7 strength ${formatNumber(k.strength)} (drag to move)`,
    });
    marker.style.left = `${duration > 0 ? Math.min(k.time / duration, 1) * 100 : 0}%`;
    attachMarkerDrag(marker, index);
    timeline.append(marker);
  });

  const list = $("#keyframe-list");
  list.replaceChildren();
  if (!state.keyframes.length) {
    list.append(el("p", { class: "hint", text: isPicture()
      ? "Keyframes change the style over a clip; a picture has one style."
      : "No keyframes: the whole clip uses the current style. Add one to change styles over time." }));
  }
  state.keyframes.forEach((k, index) => {
    const row = el("div", { class: "keyframe-row", "data-index": index, title: "Click to jump here" },
      el("span", { class: "kf-time", text: formatTime(k.time) }),
      el("code", { class: "kf-style", text: k.style, title: k.style }),
      el("span", { class: "kf-strength", text: `strength ${formatNumber(k.strength)}` }),
      el("button", {
        class: "keyframe-delete icon-button", type: "button", title: "Delete this keyframe", text: "\u00d7",
        onclick: (event) => { event.stopPropagation(); state.keyframes.splice(index, 1); keyframesChanged(); },
      }));
    row.addEventListener("click", () => setTime(k.time, true));
    list.append(row);
  });
  if (state.keyframes.length) {
    list.append(el("p", { class: "help", text: isPicture()
      ? "Keyframes apply to clips: this picture uses the style on the right."
      : "The preview and the render follow these keyframes; the style and strength on the right are what + Keyframe adds." }));
  }
}

/** Seconds under the pointer on the timeline, clamped and snapped to a frame. */
function timelineTime(clientX) {
  const rect = $("#timeline").getBoundingClientRect();
  const fraction = rect.width > 0 ? (clientX - rect.left) / rect.width : 0;
  return snapToFrame(fraction * (state.media ? state.media.duration : 0));
}

function attachMarkerDrag(marker, index) {
  let drag = null;
  marker.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !state.media) return;
    event.preventDefault();
    event.stopPropagation();
    marker.setPointerCapture(event.pointerId);
    drag = { startX: event.clientX, moved: false, keyframe: state.keyframes[index] };
    marker.classList.add("dragging");
  });
  marker.addEventListener("pointermove", (event) => {
    if (!drag) return;
    if (Math.abs(event.clientX - drag.startX) > 2) drag.moved = true;
    if (!drag.moved) return;
    drag.keyframe.time = timelineTime(event.clientX);
    marker.style.left = `${(drag.keyframe.time / state.media.duration) * 100}%`;
    marker.title = formatTime(drag.keyframe.time);
  });
  const finish = (event) => {
    if (!drag) return;
    const { moved, keyframe } = drag;
    drag = null;
    marker.classList.remove("dragging");
    if (marker.hasPointerCapture(event.pointerId)) marker.releasePointerCapture(event.pointerId);
    if (moved) {
      // Re-insert: a keyframe dropped on another one's frame replaces it.
      state.keyframes = state.keyframes.filter((k) => k !== keyframe);
      putKeyframe(keyframe);
      keyframesChanged();
    } else {
      setTime(keyframe.time, true);
    }
  };
  marker.addEventListener("pointerup", finish);
  marker.addEventListener("pointercancel", finish);
  marker.addEventListener("keydown", (event) => {
    const keyframe = state.keyframes[index];
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      // One frame per key press; the marker keeps the focus.
      state.keyframes.splice(index, 1);
      keyframe.time = snapToFrame(keyframe.time + (event.key === "ArrowLeft" ? -1 : 1) / frameRate());
      putKeyframe(keyframe);
      keyframesChanged();
      const moved = document.querySelector(`.keyframe-marker[data-index="${state.keyframes.indexOf(keyframe)}"]`);
      if (moved) moved.focus();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      state.keyframes.splice(index, 1);
      keyframesChanged();
    }
  });
}

function exportKeyframes() {
  const file = { ease: $("#ease").value, keyframes: state.keyframes.map(copyKeyframe) };
  const blob = new Blob([JSON.stringify(file, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: "keyframes.json" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Seconds from a keyframes-file time: a number, "2.5", "MM:SS.mmm", "HH:MM:SS.mmm" or "#N". */
function parseKeyframeTime(value) {
  if (typeof value === "number") {
    if (!isFinite(value) || value < 0) throw new Error(`bad time ${value}`);
    return value;
  }
  if (typeof value !== "string") throw new Error(`bad time ${JSON.stringify(value)}`);
  const text = value.trim();
  if (text.startsWith("#")) {
    if (!/^#\d+$/.test(text)) throw new Error(`bad frame index "${text}" (e.g. #120)`);
    if (!state.media) throw new Error(`"${text}" is a frame index: open a clip first`);
    return Number(text.slice(1)) / frameRate();
  }
  const parts = text.split(":");
  const last = Number(parts[parts.length - 1]);
  const bad = () => new Error(`bad time "${text}": use seconds (2.5) or HH:MM:SS.mmm`);
  if (parts.length > 3 || parts[parts.length - 1] === "" || !isFinite(last) || last < 0) throw bad();
  if (parts.length > 1 && last >= 60) throw bad();
  let seconds = last;
  parts.slice(0, -1).reverse().forEach((part, i) => {
    if (!/^\d+$/.test(part)) throw bad();
    seconds += Number(part) * (i === 0 ? 60 : 3600);
  });
  return seconds;
}

function parseKeyframesFile(text) {
  let file;
  try { file = JSON.parse(text); } catch (_) { throw new Error("not JSON"); }
  if (!file || !Array.isArray(file.keyframes)) throw new Error('expected {"ease": ..., "keyframes": [...]}');
  if (!file.keyframes.length) throw new Error("no keyframes");
  if (file.ease !== undefined && file.ease !== null && !state.info.easings.includes(file.ease)) {
    throw new Error(`unknown easing "${file.ease}" (${state.info.easings.join(", ")})`);
  }
  const keyframes = file.keyframes.map((entry, i) => {
    if (!entry || typeof entry !== "object") throw new Error(`keyframe ${i + 1} is not an object`);
    if (typeof entry.style !== "string" || !entry.style.trim()) throw new Error(`keyframe ${i + 1} has no style`);
    const strength = entry.strength === undefined || entry.strength === null ? 1 : entry.strength;
    if (typeof strength !== "number" || !(strength >= 0 && strength <= 1)) {
      throw new Error(`keyframe ${i + 1}: strength must be between 0 and 1`);
    }
    let time;
    try { time = parseKeyframeTime(entry.time); } catch (error) { throw new Error(`keyframe ${i + 1}: ${error.message}`); }
    return { time, style: entry.style.trim(), strength };
  });
  return { ease: file.ease || null, keyframes };
}

async function importKeyframes(file) {
  try {
    const parsed = parseKeyframesFile(await file.text());
    state.keyframes = [];
    for (const k of parsed.keyframes) putKeyframe(k); // times kept as written (not snapped)
    if (parsed.ease) $("#ease").value = parsed.ease;
    keyframesChanged();
    clearMessage("keyframes");
  } catch (error) {
    showMessage(`${file.name}: ${error.message}`, "keyframes");
  }
}

// ---------------------------------------------------------------------------------------------
// Uploads

async function upload(file, purpose) {
  if (state.info.maxUploadBytes && file.size > state.info.maxUploadBytes) {
    throw new Error(`${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(state.info.maxUploadBytes)}`);
  }
  const url = `/api/upload?purpose=${purpose}&name=${encodeURIComponent(file.name)}`;
  const response = await fetch(url, { method: "POST", body: file });
  if (!response.ok) throw new Error(await responseError(response));
  return response.json();
}

function setUploadStatus(text) {
  for (const status of document.querySelectorAll(".upload-status")) status.textContent = text;
}

async function uploadInput(input) {
  const file = input.files[0];
  if (!file) return;
  setUploadStatus(`Uploading ${file.name}\u2026`);
  try {
    const result = await upload(file, "input");
    clearMessage("upload");
    const folder = result.path.split("/").slice(0, -1).join("/");
    await loadFiles(folder);
    await openInput(result.path);
  } catch (error) {
    showMessage(`Upload refused: ${error.message}`, "upload");
  } finally {
    setUploadStatus("");
    input.value = "";
  }
}

async function uploadStyle(input) {
  const file = input.files[0];
  if (!file) return;
  setUploadStatus(`Uploading ${file.name}\u2026`);
  try {
    const result = await upload(file, "style");
    clearMessage("upload");
    await loadStyles(result.path);
    const thumb = document.querySelector(`.style-thumb[data-id="${CSS.escape(result.path)}"]`);
    if (thumb) thumb.scrollIntoView({ block: "nearest" });
  } catch (error) {
    showMessage(`Upload refused: ${error.message}`, "upload");
  } finally {
    setUploadStatus("");
    input.value = "";
  }
}

// ---------------------------------------------------------------------------------------------
// Render jobs

async function startRender() {
  const settings = previewSettings();
  if (!settings) return;
  const keyframes = activeKeyframes();
  const body = {
    path: settings.path,
    styleSize: settings.styleSize,
    size: settings.size,
    preserveColors: settings.preserveColors,
    precision: settings.precision,
    keyframes: settings.keyframes,
  };
  if (!keyframes.length) { body.style = settings.style; body.strength = settings.strength; }
  Object.assign(body, renderOptions());
  const output = $("#output-name").value.trim();
  if (output) body.output = output;
  $("#render").disabled = true;
  try {
    upsertJob(await postJSON("/api/jobs", body));
    clearMessage("render");
  } catch (error) {
    showMessage(`Render: ${error.message}`, "render");
  } finally {
    updateControls();
  }
}

async function loadJobs() {
  try {
    const body = await api("/api/jobs");
    for (const job of (body.jobs || []).slice().reverse()) upsertJob(job);
  } catch (error) {
    showMessage(`Jobs: ${error.message}`, "jobs");
  }
}

function listenToJobs() {
  const status = $("#events-status");
  const events = new EventSource("/api/jobs/events");
  events.addEventListener("job", (event) => {
    try { upsertJob(JSON.parse(event.data)); } catch (_) { /* ignore a malformed event */ }
  });
  events.onopen = () => { status.textContent = "live"; status.className = "status live"; };
  // EventSource reconnects by itself; the server re-sends every job on connect.
  events.onerror = () => { status.textContent = "reconnecting\u2026"; status.className = "status"; };
}

const FINISHED = new Set(["done", "failed", "cancelled"]);

/**
 * Whether `incoming` is older than what is shown: GET /api/jobs, the POST reply and the stream can
 * cross, and a finished job never runs again. (Progress going back is accepted: a job restarted with
 * the server starts over, and a stale progress is corrected by the next event.)
 */
function isStale(known, incoming) {
  return !!known && FINISHED.has(known.state) && !FINISHED.has(incoming.state);
}

function upsertJob(job) {
  if (!job || job.id === undefined) return;
  if (isStale(state.jobs.get(job.id), job)) return;
  state.jobs.set(job.id, job);
  const jobs = $("#jobs");
  let node = jobs.querySelector(`.job[data-id="${job.id}"]`);
  if (!node) {
    node = createJobElement(job);
    // Newest first: before the first job with a smaller id.
    const next = [...jobs.querySelectorAll(".job")].find((other) => Number(other.dataset.id) < Number(job.id));
    jobs.insertBefore(node, next || null);
  }
  updateJobElement(node, job);
  const empty = jobs.querySelector(".hint");
  if (empty) empty.remove();
}

function createJobElement(job) {
  return el("div", { class: "job", "data-id": job.id },
    el("div", { class: "job-info" },
      el("div", { class: "job-head" },
        el("span", { class: "job-title" }),
        el("span", { class: "job-state" })),
      el("progress", { class: "job-progress", max: 1, value: 0 }),
      el("div", { class: "job-stats" }),
      el("div", { class: "job-command-row" },
        el("code", { class: "job-command" }),
        el("button", {
          class: "job-copy icon-button", type: "button", title: "Copy the command line (run it from the root)", text: "Copy",
          onclick: (event) => copyText(event.currentTarget.previousElementSibling.textContent, event.currentTarget),
        })),
      el("div", { class: "job-error" }),
      el("div", { class: "job-actions" })),
    el("div", { class: "job-player" }));
}

function updateJobElement(node, job) {
  node.dataset.state = job.state;
  node.querySelector(".job-title").textContent = `#${job.id} ${baseName(job.input)} \u2192 ${baseName(job.output)}`;
  node.querySelector(".job-title").title = `${job.input} \u2192 ${job.output}${job.created ? `\ncreated ${new Date(job.created).toLocaleString()}` : ""}`;
  const stateLabel = node.querySelector(".job-state");
  stateLabel.textContent = job.state;
  stateLabel.className = `job-state state-${job.state}`;

  const total = job.framesTotal || 0;
  const progress = node.querySelector(".job-progress");
  progress.max = Math.max(total, 1);
  progress.value = Math.min(job.framesDone || 0, progress.max);

  node.querySelector(".job-stats").textContent = jobStats(job);
  node.querySelector(".job-command").textContent = job.command || "";
  node.querySelector(".job-error").textContent = job.state === "failed" ? (job.error || "failed") : "";

  const actions = node.querySelector(".job-actions");
  const cancel = actions.querySelector(".job-cancel");
  const active = job.state === "queued" || job.state === "running";
  if (active && !cancel) {
    actions.append(el("button", { class: "job-cancel button", type: "button", text: "Cancel", onclick: () => cancelJob(job.id) }));
  } else if (!active && cancel) {
    cancel.remove();
  }
  if (job.state === "done" && !actions.querySelector(".job-download")) showJobOutput(node, job);
}

function jobStats(job) {
  const total = job.framesTotal || 0;
  const parts = [total ? `${job.framesDone || 0}/${total} frames` : `${job.framesDone || 0} frames`];
  if (job.fps) parts.push(`${job.fps.toFixed(1)} fps`);
  if (job.state === "running" && job.etaSeconds !== null && job.etaSeconds !== undefined) parts.push(`ETA ${formatEta(job.etaSeconds)}`);
  if (job.state === "queued") return "waiting for the jobs before it";
  return parts.join(" \u00b7 ");
}

function showJobOutput(node, job) {
  const url = `/api/jobs/${job.id}/output`;
  node.querySelector(".job-actions").append(el("a", {
    class: "job-download button", href: `${url}?download=1`, download: baseName(job.output), text: "Download",
    title: job.output,
  }));
  const isImage = /\.(png|jpe?g|webp)$/i.test(job.output || "");
  const player = isImage
    ? el("img", { src: url, alt: `Output of job ${job.id}` })
    : el("video", { src: url, controls: true, preload: "metadata" });
  node.querySelector(".job-player").replaceChildren(player);
}

async function clearFinishedJobs() {
  try {
    const result = await postJSON("/api/jobs/clear", {});
    for (const id of result.cleared || []) {
      state.jobs.delete(id);
      const node = $("#jobs").querySelector(`.job[data-id="${id}"]`);
      if (node) node.remove();
    }
    clearMessage("render");
  } catch (error) {
    showMessage(`Clear: ${error.message}`, "render");
  }
}

async function cancelJob(id) {
  try {
    upsertJob(await postJSON(`/api/jobs/${id}/cancel`, {}));
  } catch (error) {
    showMessage(`Cancel: ${error.message}`, "render");
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // Older or restricted browsers: copy through a selection.
    const area = el("textarea", { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.classList.add("copied");
  setTimeout(() => button.classList.remove("copied"), 900);
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function loadInfo() {
  try {
    const info = await api("/api/info");
    Object.assign(state.info, info);
    $("#root-label").textContent = info.root || "";
    const range = info.styleSizeRange;
    if (Array.isArray(range) && range.length === 2) {
      $("#style-size").min = String(range[0]);
      $("#style-size").max = String(range[1]);
    }
  } catch (error) {
    showMessage(`Info: ${error.message}`, "info");
  }
  const ease = $("#ease");
  ease.replaceChildren(...state.info.easings.map((name) => el("option", { value: name, text: name })));
  ease.value = state.info.easings.includes("smooth") ? "smooth" : state.info.easings[0];
}

function bindControls() {
  // Drafts while a slider moves, the full preview once it is let go: a range input fires no
  // change when it is let go where it started, so the pointer and the keys end a draft too. The
  // brush size itself gets no drafts, which would paint at another brush size.
  const onSlider = (id) => {
    $(id).addEventListener("input", () => settingsChanged(SLIDER_DEBOUNCE_MS, id !== "#brush-size"));
    $(id).addEventListener("change", () => settingsChanged(0));
    for (const event of ["pointerup", "keyup"]) {
      $(id).addEventListener(event, () => { if (state.preview.draft) settingsChanged(0); });
    }
  };
  ["#strength", "#style-size", "#brush-size", "#mix-ratio"].forEach(onSlider);
  $("#mix-style").addEventListener("change", () => settingsChanged(0));
  $("#preserve-colors").addEventListener("change", () => settingsChanged(0));
  $("#precision").addEventListener("change", () => settingsChanged(0));
  $("#ease").addEventListener("change", () => settingsChanged(0));

  $("#scrubber").addEventListener("input", (event) => setTime(Number(event.target.value), false));
  $("#scrubber").addEventListener("change", (event) => setTime(Number(event.target.value), true));
  for (const event of ["pointerup", "keyup"]) {
    $("#scrubber").addEventListener(event, () => { if (state.preview.draft) setTime(state.time, true); });
  }
  $("#timeline").addEventListener("pointerdown", (event) => {
    if (event.target.id === "timeline" || event.target.id === "playhead") setTime(timelineTime(event.clientX), true);
  });

  $("#compare").addEventListener("change", setCompareMode);
  $("#split").addEventListener("input", updateSplit);
  $(".pane-after").addEventListener("pointermove", dragSplit);
  $(".pane-after").addEventListener("pointerdown", dragSplit);

  $("#add-keyframe").addEventListener("click", addKeyframe);
  $("#export-keyframes").addEventListener("click", exportKeyframes);
  $("#import-keyframes").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) importKeyframes(file);
    event.target.value = "";
  });

  $("#upload-input").addEventListener("change", (event) => uploadInput(event.target));
  $("#upload-style").addEventListener("change", (event) => uploadStyle(event.target));
  $("#style-filter").addEventListener("input", renderStyles);
  $("#refresh-files").addEventListener("click", () => loadFiles(state.dir));
  $("#render").addEventListener("click", startRender);
  $("#clear-jobs").addEventListener("click", clearFinishedJobs);
  $("#render-stabilize").addEventListener("input", updateControls);
  $("#folder-fps").addEventListener("change", () => { if (state.media && state.media.kind === "frames") openInput(state.media.path); });
  $("#message-close").addEventListener("click", () => showMessage("", null));
}

async function start() {
  bindControls();
  setCompareMode();
  updateSettingLabels();
  renderKeyframes();
  updateControls();
  updateOutputPlaceholder();
  $("#jobs").append(el("p", { class: "hint", text: "No renders yet. Open an input, pick a style, then Render." }));
  listenToJobs();
  await loadInfo();
  await Promise.all([loadFiles(""), loadStyles(), loadJobs()]);
}

document.addEventListener("DOMContentLoaded", start);
