// The studio page: the mask: where the style goes, and what fills the rest.

import { $ } from "./state.js";
import { settingsChanged } from "./look.js";

/** The mask's part of a preview or render body: nothing without a mask. */
export function maskSettings() {
  const mask = $("#mask").value.trim();
  if (!mask) return {};
  const settings = { mask, maskInvert: $("#mask-invert").checked, maskFeather: Number($("#mask-feather").value) };
  const outside = $("#mask-outside").value;
  if (outside) {
    settings.outside = outside;
    settings.outsideStrength = Number($("#mask-outside-strength").value);
  }
  return settings;
}

/** Whether the preview tints what the mask leaves out. */
export function maskOverlay() {
  return !!$("#mask").value.trim() && $("#mask-overlay").checked;
}

export function updateMaskLabels() {
  const has = !!$("#mask").value.trim();
  for (const id of ["#mask-invert", "#mask-feather", "#mask-outside", "#mask-overlay"]) $(id).disabled = !has;
  $("#mask-outside-strength").disabled = !has || !$("#mask-outside").value;
  $("#mask-feather-value").textContent = `${$("#mask-feather").value} px`;
  $("#mask-outside-strength-value").textContent = Number($("#mask-outside-strength").value).toFixed(2);
}

let picking = false;

function setPicking(on) {
  picking = on;
  $("#mask-pick").setAttribute("aria-pressed", String(on));
  $("#preview-stage").classList.toggle("picking", on);
}

/** The colour under a click on the source frame becomes the key. */
function pickColour(event) {
  if (!picking) return;
  const image = event.currentTarget;
  if (!image.naturalWidth) return;
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const box = image.getBoundingClientRect();
  const x = Math.min(image.naturalWidth - 1, Math.max(0, Math.floor((event.clientX - box.left) * image.naturalWidth / box.width)));
  const y = Math.min(image.naturalHeight - 1, Math.max(0, Math.floor((event.clientY - box.top) * image.naturalHeight / box.height)));
  const [r, g, b] = context.getImageData(x, y, 1, 1).data;
  const hex = (v) => v.toString(16).padStart(2, "0").toUpperCase();
  $("#mask").value = `key:#${hex(r)}${hex(g)}${hex(b)}`;
  setPicking(false);
  updateMaskLabels();
  settingsChanged(0);
}

export function wireMask() {
  const changed = () => { updateMaskLabels(); settingsChanged(0); };
  $("#mask").addEventListener("change", changed);
  for (const id of ["#mask-invert", "#mask-outside", "#mask-overlay", "#mask-feather", "#mask-outside-strength"]) {
    $(id).addEventListener("change", changed);
  }
  for (const id of ["#mask-feather", "#mask-outside-strength"]) $(id).addEventListener("input", updateMaskLabels);
  $("#mask-pick").addEventListener("click", () => setPicking(!picking));
  $("#preview-before").addEventListener("click", pickColour);
  updateMaskLabels();
}
