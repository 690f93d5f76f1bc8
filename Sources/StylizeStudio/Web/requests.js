// The studio page: requests and the error line.

import { $, state } from "./state.js";

/** The one-line error of a failed response: its JSON {"error"} or the status. */
export async function responseError(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText || "error"}`;
}

export async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await responseError(response));
  return response.status === 204 ? null : response.json();
}

export function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** Shows the latest error; `source` lets a later success of the same kind clear it. */
export function showMessage(text, source = "other") {
  $("#message").textContent = text;
  $("#message-close").hidden = !text;
  state.messageSource = source;
}

export function clearMessage(source) {
  if (state.messageSource === source) showMessage("", null);
}
