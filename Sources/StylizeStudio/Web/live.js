// The studio page: Live. The browser's camera goes to the server over a WebSocket, a frame at a
// time (the next one only once the last has come back, so the newest wins and nothing queues),
// and the stylized frames come back beside it. A studio started with a live source of its own
// (`stylize live INPUT` without an output) offers Watch source instead: the page then asks for
// that source's newest frame, and gets it back stylized and as it came. The look is the page's:
// style, strength, style size, stabilization and precision, sent again whenever one changes.
// Record keeps the stylized frames as a WebM clip and uploads it under the root.

import { $ } from "./state.js";
import { showMessage, clearMessage } from "./requests.js";
import { styleSpec } from "./styles.js";
import { strength, styleSize } from "./look.js";
import { upload } from "./uploads.js";
import { loadFiles } from "./files.js";

/** The widest frame sent: larger cameras are scaled down in the page. */
const MAX_WIDTH = 640;

const live = {
  stream: null, socket: null, sentAt: 0, awaitingFrame: false, frames: [], recorder: null, chunks: [],
  capture: document.createElement("canvas"),
  // Watching the studio's own source rather than this browser's camera; its name and style.
  watching: false, source: null, sourceStyle: null,
};

export function liveRunning() {
  return live.socket !== null;
}

/** Offers Watch source when the studio was started with a live source of its own. */
export async function offerSource() {
  const response = await fetch("/api/live/source");
  if (!response.ok) return;
  const { source, style } = await response.json();
  Object.assign(live, { source, sourceStyle: style || null });
  const button = $("#live-watch");
  button.title = `Stylize ${source}, a source on the server, in the look set on this page`;
  button.hidden = false;
}

export async function startLive() {
  if (live.socket) return;
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: false });
  } catch (error) {
    showMessage(`Camera: ${error.message}`, "live");
    return;
  }
  clearMessage("live");
  const video = $("#live-camera");
  video.srcObject = live.stream;
  await video.play();
  openSocket();
}

/** Watches the studio's own source: its frames come from the server, stylized and as they came. */
export function watchSource() {
  if (live.socket || !live.source) return;
  clearMessage("live");
  live.watching = true;
  $("#live-camera").hidden = true;
  $("#live-source").hidden = false;
  $("#live-input-caption").textContent = live.source;
  openSocket();
}

function openSocket() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { sendLook(); sendFrame(); };
  socket.onmessage = (event) => (typeof event.data === "string" ? answer(event.data) : show(event.data));
  socket.onclose = () => stopLive();
  live.socket = socket;
  updateButtons();
}

export function stopLive() {
  if (live.recorder) stopRecording();
  if (live.socket) { live.socket.onclose = null; live.socket.close(); }
  if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
  Object.assign(live, { stream: null, socket: null, frames: [], watching: false });
  $("#live-camera").hidden = false;
  $("#live-source").hidden = true;
  $("#live-input-caption").textContent = "Camera";
  $("#live-readout").textContent = "";
  updateButtons();
}

/** Sends the page's look; the server fades the new style in on the next frames. */
export function sendLook() {
  if (!live.socket || live.socket.readyState !== WebSocket.OPEN) return;
  const style = styleSpec() || (live.watching ? live.sourceStyle : null);
  if (!style) { $("#live-readout").textContent = "pick a style"; return; }
  live.socket.send(JSON.stringify({
    style, strength: strength(), styleSize: styleSize(),
    stabilize: Number($("#render-stabilize").value), precision: $("#precision").value,
  }));
}

function answer(text) {
  const reply = JSON.parse(text);
  if (!reply.error) { clearMessage("live"); return; }
  showMessage(`Live: ${reply.error}`, "live");
  // A frame the server could not take: try the next one a little later.
  if (live.awaitingFrame) { live.awaitingFrame = false; setTimeout(sendFrame, 500); }
}

/** The camera's current frame: width and height as 32-bit little-endian numbers, then RGBA rows.
 * Watching the studio's source, a frame of width and height 0 asks for that source's newest. */
function sendFrame() {
  const video = $("#live-camera");
  if (!live.socket || live.socket.readyState !== WebSocket.OPEN) return;
  if (live.watching) {
    live.sentAt = performance.now();
    live.awaitingFrame = true;
    live.socket.send(new ArrayBuffer(8));
    return;
  }
  if (!video.videoWidth) { requestAnimationFrame(sendFrame); return; }
  const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
  const width = Math.round(video.videoWidth * scale / 2) * 2, height = Math.round(video.videoHeight * scale / 2) * 2;
  const canvas = live.capture;
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height).data;
  const message = new Uint8Array(8 + pixels.length);
  const header = new DataView(message.buffer);
  header.setUint32(0, width, true);
  header.setUint32(4, height, true);
  message.set(pixels, 8);
  live.sentAt = performance.now();
  live.awaitingFrame = true;
  live.socket.send(message.buffer);
}

/** Draws a stylized frame, updates the readout, and sends the next camera frame. */
function show(buffer) {
  const header = new DataView(buffer);
  const width = header.getUint32(0, true), height = header.getUint32(4, true), serverMs = header.getUint32(8, true);
  live.awaitingFrame = false;
  if (width === 0) { setTimeout(sendFrame, 250); return; }  // no style set yet
  const output = $("#live-output");
  if (output.width !== width || output.height !== height) Object.assign(output, { width, height });
  output.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(buffer, 12, width * height * 4), width, height), 0, 0);
  if (live.watching) {
    // The source's frame, as it came, follows the stylized one.
    const source = $("#live-source");
    if (source.width !== width || source.height !== height) Object.assign(source, { width, height });
    source.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(buffer, 12 + width * height * 4, width * height * 4), width, height), 0, 0);
  }
  output.dataset.frames = String(Number(output.dataset.frames || 0) + 1);
  const now = performance.now();
  live.frames = live.frames.filter((t) => now - t < 1000).concat(now);
  $("#live-readout").textContent = `${live.frames.length} fps, ${Math.round(now - live.sentAt)} ms round trip (${serverMs} ms on the server)`;
  requestAnimationFrame(sendFrame);
}

export function toggleRecording() {
  if (live.recorder) { stopRecording(); return; }
  if (!live.socket) return;
  const recorder = new MediaRecorder($("#live-output").captureStream(30), { mimeType: "video/webm" });
  live.chunks = [];
  recorder.ondataavailable = (event) => { if (event.data.size) live.chunks.push(event.data); };
  recorder.onstop = () => keepRecording(new Blob(live.chunks, { type: "video/webm" }));
  recorder.start(500);
  live.recorder = recorder;
  updateButtons();
}

function stopRecording() {
  live.recorder.stop();
  live.recorder = null;
  updateButtons();
}

/** Uploads a recording into stylize-studio/uploads, where it can be opened like any clip. */
async function keepRecording(blob) {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const status = $("#live-record-status");
  status.textContent = "saving\u2026";
  try {
    const stored = await upload(new File([blob], `live-${stamp}.webm`, { type: "video/webm" }), "input");
    status.textContent = `saved ${stored.path}`;
    status.dataset.path = stored.path;
    await loadFiles(stored.path.split("/").slice(0, -1).join("/"));
  } catch (error) {
    status.textContent = "";
    showMessage(`Recording: ${error.message}`, "live");
  }
}

function updateButtons() {
  const running = live.socket !== null;
  $("#live-start").hidden = running;
  $("#live-watch").hidden = running || !live.source;
  $("#live-stop").hidden = !running;
  $("#live-record").disabled = !running;
  $("#live-record").textContent = live.recorder ? "Stop recording" : "Record";
}
