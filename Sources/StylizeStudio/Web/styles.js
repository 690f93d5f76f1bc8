// The studio page: styles.

import { $, state } from "./state.js";
import { el, formatNumber } from "./helpers.js";
import { api, clearMessage, showMessage } from "./requests.js";
import { settingsChanged } from "./look.js";
import { activeKeyframes } from "./preview.js";

export async function loadStyles(selectId) {
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
  fillStyleOptions($("#mask-outside"), "The original");
  if (selectId) selectStyle(selectId);
}

export function renderStyles() {
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

export function styleThumb(style) {
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

export function renderMixOptions() {
  fillStyleOptions($("#mix-style"), "No mix");
}

/** `select`'s options: `none` (value "") and every style of the list, keeping the choice made. */
export function fillStyleOptions(select, none) {
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: none }));
  for (const style of state.styles) select.append(el("option", { value: style.id, text: style.label || style.id }));
  select.value = state.styles.some((s) => s.id === current) ? current : "";
}

export function selectStyle(id) {
  state.styleId = id;
  for (const thumb of document.querySelectorAll(".style-thumb")) {
    thumb.classList.toggle("selected", thumb.dataset.id === id);
  }
  settingsChanged(0);
}

/** The spec of the selected style with the mix: `A:(1-r),B:r`, or null without a style. */
export function styleSpec() {
  if (!state.styleId) return null;
  const mix = $("#mix-style").value;
  const ratio = Number($("#mix-ratio").value);
  if (!mix || mix === state.styleId || ratio <= 0) return state.styleId;
  if (ratio >= 1) return mix;
  return `${state.styleId}:${formatNumber(1 - ratio)},${mix}:${formatNumber(ratio)}`;
}

/** Whether a style in use is read from a picture: the style size changes nothing else. */
export function stylesUsePicture() {
  const specs = [styleSpec(), ...activeKeyframes().map((k) => k.style)].filter(Boolean);
  const ids = specs.flatMap((spec) => spec.split(",").map((part) => part.replace(/:[0-9.]+$/, "")));
  return ids.some((id) => {
    const style = state.styles.find((s) => s.id === id);
    return !style || style.kind === "upload";
  });
}
