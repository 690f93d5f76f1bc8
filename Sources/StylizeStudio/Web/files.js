// The studio page: files.

import { $, state } from "./state.js";
import { el, formatBytes } from "./helpers.js";
import { api, clearMessage, showMessage } from "./requests.js";
import { openInput } from "./input.js";
import { selectStyle } from "./styles.js";

export async function loadFiles(dir) {
  try {
    const listing = await api(`/api/files?dir=${encodeURIComponent(dir)}`);
    state.dir = listing.dir || "";
    renderFiles(listing);
    clearMessage("files");
  } catch (error) {
    showMessage(`Files: ${error.message}`, "files");
  }
}

export function renderFiles(listing) {
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

export function fileEntry(entry, isParent) {
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

export function markOpenFile() {
  for (const row of document.querySelectorAll(".file-entry")) {
    row.classList.toggle("current", !!state.media && row.dataset.path === state.media.path);
  }
}
