// The studio page: preview: one request in flight, only the latest settings remembered meanwhile.

import { $, DRAFT_SIDE, state } from "./state.js";
import { clearMessage, responseError, showMessage } from "./requests.js";
import { folderRate, isPicture, requestTime } from "./input.js";
import { styleSpec } from "./styles.js";
import { brushSize, strength, styleSize } from "./look.js";
import { maskOverlay, maskSettings } from "./mask.js";

export function activeKeyframes() {
  return isPicture() ? [] : state.keyframes;
}

/** The POST /api/preview body for the current settings, or null when there is nothing to show. */
export function previewSettings() {
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
    ...maskSettings(),
    maskOverlay: maskOverlay() || undefined,
  };
}

/** The render-only settings: trim for clips, stabilization and quality for videos, a folder's rate. */
export function renderOptions() {
  const kind = state.media.kind;
  const number = (id) => { const text = $(id).value.trim(); return text === "" ? undefined : Number(text); };
  const options = {};
  if (kind === "clip") { options.start = number("#render-start"); options.duration = number("#render-duration"); }
  if (kind !== "picture") { options.stabilize = Number($("#render-stabilize").value); options.crf = number("#render-crf"); }
  if (kind === "frames") options.fps = folderRate();
  return options;
}

/** The brush side of a draft: half the side the network paints at, at most DRAFT_SIDE. */
export function draftSide() {
  const full = brushSize() || Math.min(state.media.width, state.media.height);
  const side = Math.min(DRAFT_SIDE, Math.round(full / 2));
  return side >= 64 ? side : brushSize();
}

export function copyKeyframe(k) {
  return { time: k.time, style: k.style, strength: k.strength };
}

export function schedulePreview(delay) {
  clearTimeout(state.preview.timer);
  state.preview.timer = setTimeout(requestPreview, delay);
}

export function requestPreview() {
  const settings = previewSettings();
  if (!settings) return;
  const key = JSON.stringify(settings);
  if (state.preview.inFlight) { state.preview.pending = settings; return; }
  if (key === state.preview.lastKey) return;
  sendPreview(settings, key);
}

export async function sendPreview(settings, key) {
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

export function showPreview(blob, milliseconds, draft) {
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

export function resetPreview() {
  const img = $("#preview-after");
  if (state.preview.url) URL.revokeObjectURL(state.preview.url);
  state.preview.url = null;
  state.preview.lastKey = null;
  img.removeAttribute("src");
  $("#preview-stage").classList.remove("has-after");
  $("#preview-status").textContent = "";
}

export function setCompareMode() {
  const mode = $("#compare").value;
  const stage = $("#preview-stage");
  stage.classList.toggle("split", mode === "split");
  stage.classList.toggle("side", mode !== "split");
  $(".split-control").classList.toggle("hidden", mode !== "split");
  updateSplit();
}

/** In split mode the after picture is clipped to the right of the line. */
export function updateSplit() {
  const percent = Number($("#split").value);
  const split = $("#compare").value === "split";
  $("#preview-after").style.clipPath = split ? `inset(0 0 0 ${percent}%)` : "";
  $("#split-line").style.left = `${percent}%`;
}

export function dragSplit(event) {
  if ($("#compare").value !== "split" || !(event.buttons & 1)) return;
  const rect = $(".pane-after").getBoundingClientRect();
  const percent = Math.round(((event.clientX - rect.left) / rect.width) * 100);
  $("#split").value = String(Math.min(Math.max(percent, 0), 100));
  updateSplit();
}
