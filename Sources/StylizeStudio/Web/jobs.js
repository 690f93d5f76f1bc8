// The studio page: render jobs.

import { $, state } from "./state.js";
import { baseName, el, formatEta } from "./helpers.js";
import { api, clearMessage, postJSON, showMessage } from "./requests.js";
import { styleSize, updateControls } from "./look.js";
import { activeKeyframes, previewSettings, renderOptions } from "./preview.js";
import { maskSettings } from "./mask.js";

export async function startRender() {
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
  Object.assign(body, renderOptions(), maskSettings());
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

export async function loadJobs() {
  try {
    const body = await api("/api/jobs");
    for (const job of (body.jobs || []).slice().reverse()) upsertJob(job);
  } catch (error) {
    showMessage(`Jobs: ${error.message}`, "jobs");
  }
}

export function listenToJobs() {
  const status = $("#events-status");
  const events = new EventSource("/api/jobs/events");
  events.addEventListener("job", (event) => {
    try { upsertJob(JSON.parse(event.data)); } catch (_) { /* ignore a malformed event */ }
  });
  events.onopen = () => { status.textContent = "live"; status.className = "status live"; };
  // EventSource reconnects by itself; the server re-sends every job on connect.
  events.onerror = () => { status.textContent = "reconnecting\u2026"; status.className = "status"; };
}

export const FINISHED = new Set(["done", "failed", "cancelled"]);

/**
 * Whether `incoming` is older than what is shown: GET /api/jobs, the POST reply and the stream can
 * cross, and a finished job never runs again. (Progress going back is accepted: a job restarted with
 * the server starts over, and a stale progress is corrected by the next event.)
 */
export function isStale(known, incoming) {
  return !!known && FINISHED.has(known.state) && !FINISHED.has(incoming.state);
}

export function upsertJob(job) {
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

export function createJobElement(job) {
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

export function updateJobElement(node, job) {
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

export function jobStats(job) {
  const total = job.framesTotal || 0;
  const parts = [total ? `${job.framesDone || 0}/${total} frames` : `${job.framesDone || 0} frames`];
  if (job.fps) parts.push(`${job.fps.toFixed(1)} fps`);
  if (job.state === "running" && job.etaSeconds !== null && job.etaSeconds !== undefined) parts.push(`ETA ${formatEta(job.etaSeconds)}`);
  if (job.state === "queued") return "waiting for the jobs before it";
  return parts.join(" \u00b7 ");
}

export function showJobOutput(node, job) {
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

export async function clearFinishedJobs() {
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

export async function cancelJob(id) {
  try {
    upsertJob(await postJSON(`/api/jobs/${id}/cancel`, {}));
  } catch (error) {
    showMessage(`Cancel: ${error.message}`, "render");
  }
}

export async function copyText(text, button) {
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
