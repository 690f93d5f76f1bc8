// The studio page: keyframes.

import { $, state } from "./state.js";
import { el, formatNumber, formatTime } from "./helpers.js";
import { clearMessage, showMessage } from "./requests.js";
import { frameRate, isPicture, setTime, snapToFrame } from "./input.js";
import { styleSpec } from "./styles.js";
import { settingsChanged, strength } from "./look.js";
import { copyKeyframe } from "./preview.js";

/** Adds (or replaces, at the same frame) a keyframe at the scrubber's time. */
export function addKeyframe() {
  const style = styleSpec();
  if (!state.media || !style) return;
  putKeyframe({ time: state.time, style, strength: strength() });
  keyframesChanged();
}

export function putKeyframe(keyframe) {
  const halfFrame = 0.5 / frameRate();
  state.keyframes = state.keyframes.filter((k) => Math.abs(k.time - keyframe.time) >= halfFrame);
  state.keyframes.push(keyframe);
  state.keyframes.sort((a, b) => a.time - b.time);
}

export function keyframesChanged() {
  renderKeyframes();
  settingsChanged(0);
}

export function renderKeyframes() {
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
export function timelineTime(clientX) {
  const rect = $("#timeline").getBoundingClientRect();
  const fraction = rect.width > 0 ? (clientX - rect.left) / rect.width : 0;
  return snapToFrame(fraction * (state.media ? state.media.duration : 0));
}

export function attachMarkerDrag(marker, index) {
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

export function exportKeyframes() {
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
export function parseKeyframeTime(value) {
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

export function parseKeyframesFile(text) {
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

export async function importKeyframes(file) {
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
