// The studio page: what the page holds: its constants and its state.

export const FILMSTRIP_COUNT = 8;
export const FILMSTRIP_WIDTH = 160;
export const SLIDER_DEBOUNCE_MS = 60;
/** While a slider or the scrubber moves, the preview is a draft painted with the network at
 * half the frame's shorter side (at most this many pixels): at 720p a quarter of the pixels,
 * 0.09 s a step instead of 0.21 s. Letting go paints it in full. */
export const DRAFT_SIDE = 360;

export const state = {
  info: { previewWidth: 640, maxUploadBytes: 0, easings: ["linear", "smooth", "in", "out", "in-out"] },
  dir: "",                // folder shown in the file list, relative to the root
  media: null,            // GET /api/media of the open input
  time: 0,                // scrubber time in seconds (snapped to frames)
  styles: [],             // GET /api/styles
  styleId: null,          // selected style id
  keyframes: [],          // [{time, style, strength}], sorted by time
  preview: {
    inFlight: false,
    pending: null,        // latest settings asked for while a request was in flight
    lastKey: null,        // JSON of the last settings sent (skips identical requests)
    seq: 0,
    url: null,            // object URL shown in #preview-after
    timer: 0,
    draft: false,         // a slider or the scrubber is moving: drafts until it is let go
  },
  messageSource: null,    // which kind of request put the text in #message
  jobs: new Map(),        // id -> JOB
};

export const $ = (selector) => document.querySelector(selector);
