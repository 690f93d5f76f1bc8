// The studio page: uploads.

import { state } from "./state.js";
import { formatBytes } from "./helpers.js";
import { api, clearMessage, responseError, showMessage } from "./requests.js";
import { loadFiles } from "./files.js";
import { openInput } from "./input.js";
import { loadStyles } from "./styles.js";

export async function upload(file, purpose) {
  if (state.info.maxUploadBytes && file.size > state.info.maxUploadBytes) {
    throw new Error(`${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(state.info.maxUploadBytes)}`);
  }
  const url = `/api/upload?purpose=${purpose}&name=${encodeURIComponent(file.name)}`;
  const response = await fetch(url, { method: "POST", body: file });
  if (!response.ok) throw new Error(await responseError(response));
  return response.json();
}

export function setUploadStatus(text) {
  for (const status of document.querySelectorAll(".upload-status")) status.textContent = text;
}

export async function uploadInput(input) {
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

export async function uploadStyle(input) {
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
