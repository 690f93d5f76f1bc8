// The studio page: start-up.

import { $, SLIDER_DEBOUNCE_MS, state } from "./state.js";
import { el } from "./helpers.js";
import { api, showMessage } from "./requests.js";
import { loadFiles } from "./files.js";
import { openInput, setTime } from "./input.js";
import { loadStyles, renderStyles } from "./styles.js";
import { settingsChanged, updateControls, updateOutputPlaceholder, updateSettingLabels } from "./look.js";
import { dragSplit, setCompareMode, updateSplit } from "./preview.js";
import { addKeyframe, exportKeyframes, importKeyframes, renderKeyframes, timelineTime } from "./keyframes.js";
import { uploadInput, uploadStyle } from "./uploads.js";
import { clearFinishedJobs, listenToJobs, loadJobs, startRender } from "./jobs.js";
import { offerSource, sendLook, startLive, stopLive, toggleRecording, watchSource } from "./live.js";
import { wireMask } from "./mask.js";

async function loadInfo() {
  try {
    const info = await api("/api/info");
    Object.assign(state.info, info);
    $("#root-label").textContent = info.root || "";
    const range = info.styleSizeRange;
    if (Array.isArray(range) && range.length === 2) {
      $("#style-size").min = String(range[0]);
      $("#style-size").max = String(range[1]);
    }
  } catch (error) {
    showMessage(`Info: ${error.message}`, "info");
  }
  const ease = $("#ease");
  ease.replaceChildren(...state.info.easings.map((name) => el("option", { value: name, text: name })));
  ease.value = state.info.easings.includes("smooth") ? "smooth" : state.info.easings[0];
}

function bindControls() {
  // Drafts while a slider moves, the full preview once it is let go: a range input fires no
  // change when it is let go where it started, so the pointer and the keys end a draft too. The
  // brush size itself gets no drafts, which would paint at another brush size.
  const onSlider = (id) => {
    $(id).addEventListener("input", () => settingsChanged(SLIDER_DEBOUNCE_MS, id !== "#brush-size"));
    $(id).addEventListener("change", () => settingsChanged(0));
    for (const event of ["pointerup", "keyup"]) {
      $(id).addEventListener(event, () => { if (state.preview.draft) settingsChanged(0); });
    }
  };
  ["#strength", "#style-size", "#brush-size", "#mix-ratio"].forEach(onSlider);
  $("#mix-style").addEventListener("change", () => settingsChanged(0));
  $("#preserve-colors").addEventListener("change", () => settingsChanged(0));
  $("#precision").addEventListener("change", () => settingsChanged(0));
  $("#ease").addEventListener("change", () => settingsChanged(0));

  $("#scrubber").addEventListener("input", (event) => setTime(Number(event.target.value), false));
  $("#scrubber").addEventListener("change", (event) => setTime(Number(event.target.value), true));
  for (const event of ["pointerup", "keyup"]) {
    $("#scrubber").addEventListener(event, () => { if (state.preview.draft) setTime(state.time, true); });
  }
  $("#timeline").addEventListener("pointerdown", (event) => {
    if (event.target.id === "timeline" || event.target.id === "playhead") setTime(timelineTime(event.clientX), true);
  });

  $("#compare").addEventListener("change", setCompareMode);
  $("#split").addEventListener("input", updateSplit);
  $(".pane-after").addEventListener("pointermove", dragSplit);
  $(".pane-after").addEventListener("pointerdown", dragSplit);

  $("#add-keyframe").addEventListener("click", addKeyframe);
  $("#export-keyframes").addEventListener("click", exportKeyframes);
  $("#import-keyframes").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) importKeyframes(file);
    event.target.value = "";
  });

  $("#upload-input").addEventListener("change", (event) => uploadInput(event.target));
  $("#upload-style").addEventListener("change", (event) => uploadStyle(event.target));
  $("#style-filter").addEventListener("input", renderStyles);
  $("#refresh-files").addEventListener("click", () => loadFiles(state.dir));
  $("#render").addEventListener("click", startRender);
  $("#clear-jobs").addEventListener("click", clearFinishedJobs);
  $("#render-stabilize").addEventListener("input", updateControls);
  $("#render-stabilize").addEventListener("change", sendLook);
  $("#live-start").addEventListener("click", startLive);
  $("#live-watch").addEventListener("click", watchSource);
  wireMask();
  $("#live-stop").addEventListener("click", stopLive);
  $("#live-record").addEventListener("click", toggleRecording);
  $("#folder-fps").addEventListener("change", () => { if (state.media && state.media.kind === "frames") openInput(state.media.path); });
  $("#message-close").addEventListener("click", () => showMessage("", null));
}

async function start() {
  bindControls();
  setCompareMode();
  updateSettingLabels();
  renderKeyframes();
  updateControls();
  updateOutputPlaceholder();
  $("#jobs").append(el("p", { class: "hint", text: "No renders yet. Open an input, pick a style, then Render." }));
  listenToJobs();
  await loadInfo();
  await Promise.all([loadFiles(""), loadStyles(), loadJobs(), offerSource()]);
}

document.addEventListener("DOMContentLoaded", start);
