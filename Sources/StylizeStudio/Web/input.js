// The studio page: the open input: media info, scrubber, filmstrip, "before" frame.

import { $, FILMSTRIP_COUNT, FILMSTRIP_WIDTH, SLIDER_DEBOUNCE_MS, state } from "./state.js";
import { el, formatNumber, formatTime } from "./helpers.js";
import { api, clearMessage, showMessage } from "./requests.js";
import { markOpenFile } from "./files.js";
import { updateControls, updateOutputPlaceholder } from "./look.js";
import { resetPreview, schedulePreview } from "./preview.js";
import { renderKeyframes } from "./keyframes.js";

export function isPicture() {
  return !!state.media && state.media.kind === "picture";
}

export function frameRate() {
  return (state.media && state.media.frameRate) || 30;
}

export function snapToFrame(seconds) {
  const duration = state.media ? state.media.duration : 0;
  const snapped = Math.round(seconds * frameRate()) / frameRate();
  return Math.min(Math.max(snapped, 0), duration);
}

/** The time sent to the server: the start of the frame shown, so the clip's end maps to its last frame. */
export function requestTime(seconds) {
  const media = state.media;
  if (!media || media.duration <= 0) return 0;
  const lastFrame = media.frames > 1 ? (media.frames - 1) / frameRate() : 0;
  return Math.min(Math.max(seconds, 0), Math.min(lastFrame, media.duration));
}

export function frameURL(seconds, width) {
  const path = encodeURIComponent(state.media.path);
  return `/api/frame?path=${path}&time=${requestTime(seconds).toFixed(4)}&width=${width}&fps=${folderRate()}`;
}

/** The frame rate a frame folder is shown at, as the page asks for it. */
export function folderRate() {
  const fps = Number($("#folder-fps").value);
  return fps > 0 ? fps : 30;
}

export async function openInput(path) {
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

export function renderMediaInfo() {
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

export function setupScrubber() {
  const scrubber = $("#scrubber");
  const m = state.media;
  scrubber.min = "0";
  scrubber.step = String(1 / frameRate());
  scrubber.max = String(m.duration || 0);
  scrubber.value = "0";
  scrubber.disabled = m.kind === "picture" || !(m.duration > 0);
  updateTimeLabel();
}

export function renderFilmstrip() {
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

export function updateBefore() {
  if (!state.media) return;
  const url = frameURL(state.time, state.info.previewWidth || 640);
  const img = $("#preview-before");
  if (img.getAttribute("src") !== url) img.src = url;
  const ratio = `${state.media.width} / ${state.media.height}`;
  for (const pane of document.querySelectorAll(".pane")) pane.style.aspectRatio = ratio;
}

export function updateTimeLabel() {
  const duration = state.media ? state.media.duration : 0;
  $("#time-label").textContent = `${formatTime(state.time)} / ${formatTime(duration)}`;
  const percent = duration > 0 ? (state.time / duration) * 100 : 0;
  $("#playhead").style.left = `${percent}%`;
}

/** Moves the scrubber (and the preview) to `seconds`. */
export function setTime(seconds, immediate) {
  if (!state.media) return;
  state.time = snapToFrame(seconds);
  $("#scrubber").value = String(state.time);
  updateTimeLabel();
  updateBefore();
  state.preview.draft = !immediate;
  schedulePreview(immediate ? 0 : SLIDER_DEBOUNCE_MS);
}
