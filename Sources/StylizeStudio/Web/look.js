// The studio page: look settings.

import { $, state } from "./state.js";
import { baseName } from "./helpers.js";
import { isPicture } from "./input.js";
import { styleSpec, stylesUsePicture } from "./styles.js";
import { activeKeyframes, schedulePreview } from "./preview.js";
import { sendLook } from "./live.js";

export function strength() { return Number($("#strength").value); }
export function styleSize() { return Number($("#style-size").value); }
export function brushSize() { const v = Number($("#brush-size").value); return v > 0 ? v : null; }

export function updateSettingLabels() {
  $("#strength-value").textContent = strength().toFixed(2);
  $("#style-size-value").textContent = `${styleSize()} px`;
  $("#brush-size-value").textContent = brushSize() ? `${brushSize()} px` : "native";
  $("#mix-ratio-value").textContent = Number($("#mix-ratio").value).toFixed(2);
  $("#style-spec").textContent = styleSpec() || "\u2014";
}

/** Any setting changed: refresh the labels and ask for a preview after `delay` ms. */
export function settingsChanged(delay, draft = false) {
  state.preview.draft = draft;
  updateSettingLabels();
  updateOutputPlaceholder();
  updateControls();
  schedulePreview(delay);
  sendLook();
}

export function updateControls() {
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

export function updateOutputPlaceholder() {
  if (!state.media) { $("#output-name").placeholder = "auto"; return; }
  const stem = baseName(state.media.path).replace(/\.[^.]*$/, "") || "render";
  // As the server names it: "transition" for keyframes, else the first style's name.
  const spec = styleSpec();
  const styleName = activeKeyframes().length ? "transition"
    : spec ? baseName(spec.split(",")[0].split(":")[0]).replace(/\.[^.]*$/, "") : "styled";
  $("#output-name").placeholder = `auto: ${stem}-${styleName}${isPicture() ? ".png" : ".mp4"}`;
}
