"""Measures temporal flicker: warping error (Lai et al., ECCV 2018) of stylized frames, for the
input, for plain per-frame stylization (--no-stabilize) and for the stabilized output.

  (a) pan:    a real photo panned by a whole-pixel shift per frame (a multiple of 4): the motion
              is exact; valid pixels are those whose source is inside the frame.
  (b) static: the same photo, a still camera with sensor-like noise (sigma 2/255): motion 0.
  (c) real:   frames of a real clip; a frame-difference variant that needs no flow: mean (O_t - O_t-1)^2
              over the pixels where the input did not change (every channel within 5/255), i.e. the
              flicker the stylization adds where there is nothing to show. The unmasked mean is
              printed too, with the share of pixels the mask keeps.

  (d) flow:   warping error along dense optical flow of the input frames, for real clips
              (--real CLIP, repeatable) and a handheld clip made from the photo (a wobbling
              sub-pixel camera path with a slight roll): E = mean over t and over the pixels whose
              flow passes a forward-backward consistency check of |O_t(x) - O_t-1(x + F(x))|^2,
              F the backward flow t -> t-1 of the input. The flow is OpenCV's Farneback, so it
              stays independent of the stabilizer, which uses OpenCV's DIS; the same error along
              DIS (medium preset), the measure the stabilizer was first judged by, is printed too.

  (e) corpus: --corpus DIR runs every case of a corpus (scripts/fetch-corpus): each real clip in
              DIR/clips (any container; its first --real-frames frames from --start, --real-width wide)
              and, for each photo in DIR/photos, two cases of exact motion, 24 frames each:
              "pan-<stem>", a pan of exactly 4 px per frame (crops at most 640x360 from the middle of the
              photo), and "zoom-<stem>", a zoom-in of exactly 1% per frame about the photo's centre
              (at most 480 wide, 360 high; every frame area-averaged from the photo itself, the box
              INTER_AREA uses, at the frame's exact real-valued bounds); --exact-scale F makes both
              up to F times those sizes, where the photo allows. A split file (--split, default
              DIR/split.json; docs/corpus-split.json is the project's) {"tuning": [...], "held-back": [...],
              "starts": {name: seconds}} names cases by these names, and where a clip's frames start; the
              rest are "unassigned". One row per case: half, size, frames; the warping error ratio
              stabilized / per-frame along DIS and along Farneback (as in (d)) and, for pans, along
              the exact shift (as in (a)), and on a line of its own the same ratio in the 40 px
              at the edge where content comes into view, at the edge where it leaves and between
              them (the network paints content near the frame's edge differently, so per-frame's
              error along the shift is mostly in those strips); the lowest PSNR of a stabilized frame against its
              per-frame stylization; detail, the mean absolute Laplacian of the grey frames,
              stabilized over per-frame (below 1: the stabilizer softens); the cost in fps (frames
              over the wall seconds of the `stylize` run, model loading included) per-frame and
              stabilized and their ratio; ghost (n/a: no case has a tracked moving object yet).
              Then, separately for real clips and exact-motion cases, per half: the medians of the
              DIS and Farneback ratios, the lowest PSNR and detail, and the worst case of each.
              --cases a,b restricts the run, --json FILE writes the rows, --keep DIR keeps the
              stylized frames (DIR/<case>/per-frame, DIR/<case>/stabilized).

Also the lowest PSNR of a stabilized frame against its own per-frame stylization (no smear), and,
with --throughput CLIP, end-to-end fps of `stylize video` on CLIP with and without the stabilizer
in the same run. Frames go through `stylize video` as lossless 4:2:0 clips (FFV1; a clip is
stabilized in the encoder's YUV), or with --via frames through `stylize frames` as PNG (RGB), so
no lossy codec touches the numbers; per-frame and stabilized take the same path.

    python3 scripts/flicker.py --style SampleClips/starry_night.jpg [--photo P] [--clip C] [--throughput C]
                               [--real CLIP ...] [--real-frames 48] [--real-width 480] [--via video|frames]
    python3 scripts/flicker.py --corpus DIR [--split FILE] [--cases a,b] [--start SECONDS] [--real-frames 48]
                               [--real-width 480] [--stabilize 0.7] [--via video|frames] [--json FILE] [--keep DIR]

Needs numpy and pillow (and opencv-python-headless for the flow measure), the ffmpeg tool, and a
release build (swift build -c release).
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]


def read_frames(folder: Path) -> list:
    return [np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) / 255
            for p in sorted(folder.glob("*.png"), key=lambda p: int("".join(filter(str.isdigit, p.stem)) or 0))]


def warping_error(frames: list, shift: int) -> float:
    """Mean over valid pixels and channels of (O_t-1(x) - O_t(x - shift))^2, content moving left by
    `shift` pixels per frame (the camera pans right)."""
    errors = []
    for prev, cur in zip(frames, frames[1:]):
        if shift:
            errors.append(np.mean((prev[:, shift:] - cur[:, :-shift]) ** 2))
        else:
            errors.append(np.mean((prev - cur) ** 2))
    return float(np.mean(errors))


def masked_difference(frames: list, inputs: list) -> tuple:
    """Mean (O_t - O_t-1)^2 where the input is unchanged, the unmasked mean, and the mask's share."""
    masked, plain, kept = [], [], []
    for (p, c), (ip, ic) in zip(zip(frames, frames[1:]), zip(inputs, inputs[1:])):
        still = np.all(np.abs(ic - ip) <= 5 / 255, axis=2)
        d = np.mean((c - p) ** 2, axis=2)
        if still.any():
            masked.append(d[still].mean())
        plain.append(d.mean())
        kept.append(still.mean())
    return float(np.mean(masked)), float(np.mean(plain)), float(np.mean(kept))


def flows(frames: list, method: str) -> list:
    """For each t >= 1: (backward flow t -> t-1, mask of pixels that pass the forward-backward check)."""
    import cv2
    grey = [cv2.cvtColor((f * 255).round().astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in frames]
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        compute = lambda a, b: dis.calc(a, b, None)
    else:
        compute = lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 5, 7, 1.5, 0)
    h, w = grey[0].shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = []
    for prev, cur in zip(grey, grey[1:]):
        back = compute(cur, prev)   # cur(x) ~ prev(x + back(x))
        fwd = compute(prev, cur)
        mx, my = gx + back[..., 0], gy + back[..., 1]
        fwd_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1e6)
        miss = np.sum((back + fwd_at) ** 2, axis=2)
        allowed = 0.01 * (np.sum(back ** 2, axis=2) + np.sum(fwd_at ** 2, axis=2)) + 0.5
        inside = (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
        out.append((mx, my, (miss < allowed) & inside))
    return out


def flow_warping_error(frames: list, motion: list) -> float:
    import cv2
    errors = []
    for (prev, cur), (mx, my, valid) in zip(zip(frames, frames[1:]), motion):
        moved = cv2.remap(prev.astype(np.float32), mx, my, cv2.INTER_LINEAR)
        d = np.sum((cur - moved) ** 2, axis=2) / 3
        errors.append(d[valid].mean())
    return float(np.mean(errors))


def handheld(photo, frames: int, folder: Path, margin: int = 24) -> None:
    """The photo seen by a hand-held camera: a smooth sub-pixel wander and a slight roll."""
    import cv2
    h, w, _ = photo.shape
    rng = np.random.default_rng(7)
    steps = rng.normal(0, 0.6, (frames, 3)).cumsum(axis=0)
    for t in range(frames):
        dx, dy, roll = 4 * np.sin(t / 5) + steps[t, 0], 3 * np.cos(t / 7) + steps[t, 1], 0.3 * np.sin(t / 9) + 0.05 * steps[t, 2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
        m[:, 2] += (dx, dy)
        moved = cv2.warpAffine((photo * 255).astype(np.float32), m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        crop = moved[margin:h - margin, margin:w - margin]
        # Even sides, which a 4:2:0 clip keeps.
        crop = crop[:crop.shape[0] // 2 * 2, :crop.shape[1] // 2 * 2]
        Image.fromarray(np.clip(crop, 0, 255).round().astype(np.uint8)).save(folder / f"f{t}.png")


def psnr(a, b) -> float:
    m = np.mean((a - b) ** 2)
    return float("inf") if m == 0 else 10 * np.log10(1 / m)


def stylize(binary: str, src: Path, dst: Path, style: str, extra: list, via: str) -> float:
    """Stylizes the PNG frames in `src` into PNG frames in `dst`: through `stylize frames`, or
    through `stylize video` on a lossless 4:2:0 clip of them (FFV1), written as a lossless 4:2:0
    clip, the way a clip's frames are stabilized (in the encoder's YUV). Returns the wall seconds
    of the `stylize` run alone (not of the ffmpeg conversions around it)."""
    if via == "frames":
        start = time.perf_counter()
        subprocess.run([binary, "frames", str(src), "-o", str(dst), "-s", style, "--quiet", *extra], check=True)
        return time.perf_counter() - start
    clip, out = src.with_name(src.name + ".mkv"), dst.with_name(dst.name + ".mkv")
    if not clip.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-framerate", "25", "-i", str(src / "f%d.png"), "-c:v", "ffv1", "-pix_fmt", "yuv420p",
                        str(clip)], check=True)
    start = time.perf_counter()
    subprocess.run([binary, "video", str(clip), "-o", str(out), "-s", style, "--codec", "ffv1", "--quiet", *extra], check=True)
    seconds = time.perf_counter() - start
    dst.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), str(dst / "f%d.png")], check=True)
    return seconds


def extract_clip(clip, folder: Path, frames: int, width: int, start: float = 0) -> None:
    """The first `frames` frames of `clip` from `start` seconds, scaled to `width` wide (even height), as PNG."""
    seek = ["-ss", str(start)] if start else []
    subprocess.run(["ffmpeg", "-v", "error", *seek, "-i", str(clip), "-frames:v", str(frames), "-vf", f"scale={width}:-2",
                    str(folder / "f%d.png")], check=True)


def pan_frames(photo, folder: Path, shift: int = 4, frames: int = 24, scale: float = 1) -> None:
    """A pan of exactly `shift` px per frame across the middle of the photo (uint8 RGB): whole-pixel
    crops, at most 640 wide (even) and 360 high (even, the centre rows), each times `scale`."""
    h, w, _ = photo.shape
    width = int(min(640 * scale, w - shift * (frames - 1))) // 2 * 2
    height = int(min(360 * scale, h)) // 2 * 2
    if width < 64 or height < 64:
        raise ValueError(f"{w}x{h} is too small for a pan of {frames} frames at {shift} px")
    x0, y0 = (w - width - shift * (frames - 1)) // 2, (h - height) // 2
    for t in range(frames):
        x = x0 + t * shift
        Image.fromarray(photo[y0:y0 + height, x:x + width]).save(folder / f"f{t}.png")


def cumulative(a):
    """The cumulative sum of `a` along its first axis from a leading 0: cumulative(a)[k] = a[:k].sum(0)."""
    return np.concatenate([np.zeros_like(a[:1]), np.cumsum(a, axis=0)])


def box_means(total, start: float, step: float, n_out: int):
    """Means of `a` (total = cumulative(a)) along its first axis over [start + j*step, start + (j+1)*step)
    for j < n_out, each pixel weighted by the length it covers: the box of INTER_AREA, at real-valued
    bounds. The integral of `a` up to x is `total` interpolated linearly, so a box is a difference of two."""
    x = np.clip(start + step * np.arange(n_out + 1), 0, len(total) - 1)
    i = np.minimum(x.astype(int), len(total) - 2)
    f = (x - i).reshape(-1, *[1] * (total.ndim - 1))
    integral = total[i] + f * (total[i + 1] - total[i])
    return (integral[1:] - integral[:-1]) / step


def zoom_frames(photo, folder: Path, zoom: float = 1.01, frames: int = 24, scale: float = 1) -> None:
    """A zoom-in of exactly `zoom` per frame about the photo's (uint8 RGB) centre: frame t is the photo
    scaled by zoom^t about its centre, area-averaged from the photo itself at the frame's exact bounds
    (a centre crop of output size * photo px per output px / zoom^t). The first frame spans the
    photo's width; the output is at most 480 wide and 360 high (each times `scale`; even sides) and
    no wider than the last frame's crop, so every frame is a reduction."""
    h, w, _ = photo.shape
    out_w = int(min(480 * scale, w / zoom ** (frames - 1))) // 2 * 2
    out_h = int(min(360 * scale, out_w * h / w)) // 2 * 2
    if out_w < 64 or out_h < 64:
        raise ValueError(f"{w}x{h} is too small for a zoom of {frames} frames")
    down = cumulative(photo.astype(np.float64))
    for t in range(frames):
        step = w / out_w / zoom ** t   # photo px per output px
        rows = box_means(down, h / 2 - out_h * step / 2, step, out_h)
        frame = box_means(cumulative(rows.transpose(1, 0, 2)), w / 2 - out_w * step / 2, step, out_w).transpose(1, 0, 2)
        Image.fromarray(np.clip(frame, 0, 255).round().astype(np.uint8)).save(folder / f"f{t}.png")


def detail(frames: list) -> float:
    """Mean over frames of the mean absolute Laplacian of the grey frame."""
    import cv2
    return float(np.mean([np.abs(cv2.Laplacian(cv2.cvtColor(f.astype(np.float32), cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean()
                          for f in frames]))


PHOTO_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
NOT_CLIPS = {".part", ".tmp", ".ytdl", ".json", ".txt", ".md"}   # downloads in progress, notes
HALVES = ("tuning", "held-back", "unassigned")


def corpus_cases(folder: Path) -> dict:
    """{case name: (kind, source)}: "real" for each clip in folder/clips, "pan" and "zoom" for each
    photo in folder/photos."""
    cases = {}
    def add(name, kind, source):
        if name in cases:
            sys.exit(f"two cases are named {name}: {cases[name][1]} and {source}")
        cases[name] = (kind, source)
    for clip in sorted((folder / "clips").glob("*")):
        if clip.is_file() and not clip.name.startswith(".") and clip.suffix.lower() not in NOT_CLIPS:
            add(clip.stem, "real", clip)
    for photo in sorted((folder / "photos").glob("*")):
        if photo.is_file() and photo.suffix.lower() in PHOTO_SUFFIXES:
            add("pan-" + photo.stem, "pan", photo)
            add("zoom-" + photo.stem, "zoom", photo)
    return cases


def read_split(path) -> dict:
    """{case name: half} from a JSON file {"tuning": [...], "held-back": [...]}."""
    if path is None:
        return {}
    halves = json.loads(Path(path).read_text())
    split = {}
    for half in HALVES[:2]:
        for name in halves.get(half, []):
            if split.get(name, half) != half:
                sys.exit(f"{path}: {name} is in both halves")
            split[name] = half
    return split


def corpus_inputs(folder: Path, kind: str, source: Path, args, start: float) -> None:
    """The input frames of one case, as PNG in `folder` (a clip's from `start` seconds)."""
    folder.mkdir()
    if kind == "real":
        extract_clip(source, folder, args.real_frames, args.real_width, start)
    else:
        photo = np.asarray(ImageOps.exif_transpose(Image.open(source)).convert("RGB"))
        (pan_frames if kind == "pan" else zoom_frames)(photo, folder, scale=args.exact_scale)
    if len(list(folder.glob("*.png"))) < 2:
        raise ValueError("fewer than 2 frames")


# The strips at a pan's left and right edges looked at on their own (pixels). The network paints
# content near the frame's edge differently (its padding reaches about this far), so content that
# has just come into view is repainted a little differently frame after frame as it moves in.
EDGE_STRIP = 40


def shift_columns(frames: list, shift: int) -> np.ndarray:
    """Per column of the overlap (as in `warping_error`, content moving left): the mean over rows,
    channels and frame pairs of (O_t-1(x + shift) - O_t(x))^2."""
    return np.mean([np.mean((prev[:, shift:] - cur[:, :-shift]) ** 2, axis=(0, 2)) for prev, cur in zip(frames, frames[1:])], axis=0)


def shift_strips(plain: list, steady: list, shift: int) -> dict:
    """The ratio along the exact shift in the EDGE_STRIP columns where content comes into view
    (right), where it leaves (left) and between them, and the share of per-frame's error in the two
    strips; None when the frame is too narrow for strips."""
    e, s = shift_columns(plain, shift), shift_columns(steady, shift)
    n = len(e)
    if n < 4 * EDGE_STRIP:
        return None
    ratio = lambda part: float(s[part].mean() / e[part].mean())
    return {"entering": ratio(slice(n - EDGE_STRIP, n)), "leaving": ratio(slice(0, EDGE_STRIP)),
            "between": ratio(slice(EDGE_STRIP, n - EDGE_STRIP)),
            "strips_share": float((e[:EDGE_STRIP].sum() + e[n - EDGE_STRIP:].sum()) / e.sum())}


def corpus_case(args, case: Path, name: str, kind: str) -> dict:
    """Stylizes the input frames in case/input per-frame and stabilized, and measures them: one row."""
    folder, plain, steady = case / "input", case / "per-frame", case / "stabilized"
    sec_plain = stylize(args.stylize, folder, plain, args.style, ["--no-stabilize"], args.via)
    sec_steady = stylize(args.stylize, folder, steady, args.style, ["--stabilize", args.stabilize], args.via)
    if args.keep:
        for src in (plain, steady):
            shutil.copytree(src, Path(args.keep) / name / src.name, dirs_exist_ok=True)
    frames_in, frames_plain, frames_steady = read_frames(folder), read_frames(plain), read_frames(steady)
    n = len(frames_in)
    row = {"case": name, "kind": kind, "width": frames_in[0].shape[1], "height": frames_in[0].shape[0], "frames": n}
    for method in ("dis", "farneback"):
        motion = flows(frames_in, method)
        e_in, e_plain, e_steady = (flow_warping_error(f, motion) for f in (frames_in, frames_plain, frames_steady))
        del motion
        row[method] = {"input": e_in, "per-frame": e_plain, "stabilized": e_steady, "ratio": e_steady / e_plain}
    if kind == "pan":
        e_in, e_plain, e_steady = (warping_error(f, 4) for f in (frames_in, frames_plain, frames_steady))
        row["shift"] = {"input": e_in, "per-frame": e_plain, "stabilized": e_steady, "ratio": e_steady / e_plain}
        row["shift_strips"] = shift_strips(frames_plain, frames_steady, 4)
    row["min_psnr"] = min(psnr(a, b) for a, b in zip(frames_plain, frames_steady))
    row["detail"] = {"input": detail(frames_in), "per-frame": detail(frames_plain), "stabilized": detail(frames_steady)}
    row["detail"]["ratio"] = row["detail"]["stabilized"] / row["detail"]["per-frame"]
    row["fps"] = {"per-frame": n / sec_plain, "stabilized": n / sec_steady, "ratio": sec_plain / sec_steady}
    row["seconds"] = {"per-frame": sec_plain, "stabilized": sec_steady}
    row["ghost"] = None
    return row


def corpus_line(row: dict, width: int) -> str:
    shift = f"{row['shift']['ratio']:.3f}" if "shift" in row else "-"
    fps = row["fps"]
    size = f"{row['width']}x{row['height']}"
    return (f"{row['case']:<{width}} {row['half']:<10} {size:<9}{row['frames']:>5} {row['dis']['ratio']:>7.3f}"
            f"{row['farneback']['ratio']:>10.3f}{shift:>7} {row['min_psnr']:>9.2f}{row['detail']['ratio']:>8.3f}"
            f"{fps['per-frame']:>9.2f}{fps['stabilized']:>8.2f}{fps['ratio']:>7.2f}  n/a")


def corpus_summary(rows: list) -> list:
    """Per group (real clips, exact motion) and half: medians and the worst case of each measure."""
    out = []
    for group, kinds in (("real", {"real"}), ("exact", {"pan", "zoom"})):
        for half in HALVES:
            chosen = [r for r in rows if r["kind"] in kinds and r["half"] == half]
            if not chosen:
                continue
            dis, farneback = [r["dis"]["ratio"] for r in chosen], [r["farneback"]["ratio"] for r in chosen]
            low, det = [r["min_psnr"] for r in chosen], [r["detail"]["ratio"] for r in chosen]
            out.append({"group": group, "half": half, "cases": len(chosen),
                        "median": {"dis": float(np.median(dis)), "farneback": float(np.median(farneback)),
                                   "min_psnr": float(np.median(low)), "detail": float(np.median(det))},
                        "worst": {"dis": (max(dis), chosen[int(np.argmax(dis))]["case"]),
                                  "min_psnr": (min(low), chosen[int(np.argmin(low))]["case"]),
                                  "detail": (min(det), chosen[int(np.argmin(det))]["case"])}})
    return out


def finite(value):
    """`value` with infinite and NaN floats as None, for strict JSON."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def run_corpus(args) -> None:
    """The corpus mode (e): every case, one row each as it finishes, then the summary per half."""
    folder = Path(args.corpus)
    cases = corpus_cases(folder)
    if args.cases:
        wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in cases]
        if unknown:
            sys.exit(f"no such case: {', '.join(unknown)} (cases: {', '.join(cases)})")
        cases = {name: cases[name] for name in wanted}
    if not cases:
        sys.exit(f"no clips or photos in {folder}/clips, {folder}/photos")
    split_file = args.split or (folder / "split.json" if (folder / "split.json").exists() else None)
    split = read_split(split_file)
    # Where each clip's frames start, when the split file says ("starts": {name: seconds}), else --start.
    starts = json.loads(Path(split_file).read_text()).get("starts", {}) if split_file else {}
    all_names = corpus_cases(folder)
    stray = [name for name in split if name not in all_names]
    halves = {name: split.get(name, "unassigned") for name in cases}
    print(f"corpus {folder}: {len(cases)} cases, split {split_file or '(none)'}")
    for half in HALVES:
        names = [name for name, h in halves.items() if h == half]
        if names:
            print(f"  {half}: {', '.join(names)}")
    if stray:
        print(f"  the split names cases not in the corpus: {', '.join(stray)}")
    print(f"style {Path(args.style).name}, stabilize {args.stabilize}, through `stylize {args.via}`; real clips: "
          f"{args.real_frames} frames from {args.start:g} s, {args.real_width} wide; pan 4 px/frame, zoom 1%/frame, 24 frames"
          + (f", {args.exact_scale:g} times the usual size" if args.exact_scale != 1 else ""))
    if starts:
        print("  starting elsewhere (the split file's starts): " + ", ".join(f"{name} at {at:g} s" for name, at in sorted(starts.items())))
    print("ratios: warping error stabilized / per-frame; min PSNR: stabilized vs per-frame (dB); detail: mean |Laplacian| "
          "stabilized / per-frame; fps: frames / wall seconds of the stylize run")
    width = max(len("case"), *(len(name) for name in cases))
    print(f"{'case':<{width}} {'half':<10} {'size':<9}{'n':>5} {'DIS':>7}{'Farneback':>10}{'shift':>7} {'min PSNR':>9}{'detail':>8}"
          f"{'fps off':>9}{'fps on':>8}{'on/off':>7}  ghost", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, source) in cases.items():
            case = Path(tmp) / name
            case.mkdir()
            try:
                corpus_inputs(case / "input", kind, source, args, starts.get(name, args.start))
            except (subprocess.CalledProcessError, ValueError, OSError) as error:
                print(f"{name:<{width}} {halves[name]:<10} skipped, no input frames: {error}", flush=True)
                continue
            row = corpus_case(args, case, name, kind)
            row["source"], row["half"] = source.name, halves[name]
            rows.append(row)
            print(corpus_line(row, width), flush=True)
            if row.get("shift_strips"):
                strips = row["shift_strips"]
                print(f"{'':<{width}}   along the shift: {EDGE_STRIP} px where content comes in {strips['entering']:.3f}, where it "
                      f"leaves {strips['leaving']:.3f}, between them {strips['between']:.3f}; the strips hold "
                      f"{strips['strips_share']:.0%} of per-frame's error", flush=True)
            shutil.rmtree(case)
    summary = corpus_summary(rows)
    if summary:
        print("medians per half (DIS ratio, Farneback ratio, min PSNR, detail) and the worst case "
              "(highest DIS ratio, lowest PSNR, lowest detail)")
    for s in summary:
        m, w = s["median"], s["worst"]
        print(f"{s['group']:<6}{s['half']:<11}{s['cases']:>3} cases  median DIS {m['dis']:.3f}  Farneback {m['farneback']:.3f}  "
              f"min PSNR {m['min_psnr']:.2f} dB  detail {m['detail']:.3f}   worst DIS {w['dis'][0]:.3f} ({w['dis'][1]})  "
              f"PSNR {w['min_psnr'][0]:.2f} dB ({w['min_psnr'][1]})  detail {w['detail'][0]:.3f} ({w['detail'][1]})")
    if args.json:
        settings = {"corpus": str(folder), "split": str(split_file) if split_file else None, "style": args.style,
                    "stabilize": args.stabilize, "via": args.via, "real_frames": args.real_frames, "real_width": args.real_width,
                    "exact_scale": args.exact_scale, "start": args.start}
        Path(args.json).write_text(json.dumps(finite({"settings": settings, "rows": rows, "summary": summary}), indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--style", default=str(ROOT / "SampleClips/starry_night.jpg"))
    parser.add_argument("--photo", default=str(ROOT / "SampleClips/chelsea.png"), help="photo for the pan and static cases")
    parser.add_argument("--clip", default=str(ROOT / "SampleClips/bigbuckbunny.mp4"), help="real clip for case (c)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--shift", type=int, default=4)
    parser.add_argument("--stabilize", default="0.7")
    parser.add_argument("--throughput", help="a clip to time `stylize video` on, with and without the stabilizer")
    parser.add_argument("--stylize", default=str(ROOT / ".build/release/stylize"))
    parser.add_argument("--real", action="append", default=[], help="a real clip for the flow measure (d); repeatable")
    parser.add_argument("--real-frames", type=int, default=48)
    parser.add_argument("--real-width", type=int, default=480)
    parser.add_argument("--exact-scale", type=float, default=1,
                        help="with --corpus: pans and zooms at most this times 640x360 and 480x360 (photos allowing)")
    parser.add_argument("--flow-only", action="store_true", help="only the flow measure (d)")
    parser.add_argument("--via", choices=("video", "frames"), default="video",
                        help="stylize through `stylize video` (lossless 4:2:0 clips, the default) or `stylize frames` (PNG)")
    parser.add_argument("--start", type=float, default=0, help="seconds into each real clip (--real, --corpus) to start at")
    parser.add_argument("--corpus", help="a corpus folder with clips/ and photos/: the corpus mode (e) alone")
    parser.add_argument("--split", help="with --corpus: JSON {\"tuning\": [...], \"held-back\": [...]} of case names "
                                        "(default: DIR/split.json if present)")
    parser.add_argument("--cases", help="with --corpus: only these cases, comma-separated")
    parser.add_argument("--json", help="with --corpus: write the rows and the summary as JSON to this file")
    parser.add_argument("--keep", help="with --corpus: keep the stylized frames in DIR/<case>/per-frame and /stabilized")
    args = parser.parse_args()
    if args.corpus:
        run_corpus(args)
        return
    rng = np.random.default_rng(1)
    photo = np.asarray(Image.open(args.photo).convert("RGB"), dtype=np.float64) / 255
    h, w, _ = photo.shape
    width = w - args.shift * (args.frames - 1)
    width -= width % 2
    if width < 64:
        sys.exit("the photo is too narrow for that many frames and that shift")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = {}
        flow_rows = []
        flow_cases = {}
        hand = tmp / "handheld"; hand.mkdir()
        handheld(photo, args.real_frames, hand)
        flow_cases["handheld (made)"] = hand
        for clip in args.real:
            folder = tmp / ("real-" + Path(clip).stem); folder.mkdir()
            extract_clip(clip, folder, args.real_frames, args.real_width, args.start)
            flow_cases[Path(clip).name] = folder
        for name, folder in flow_cases.items():
            plain, steady = tmp / (folder.name + "-plain"), tmp / (folder.name + "-steady")
            stylize(args.stylize, folder, plain, args.style, ["--no-stabilize"], args.via)
            stylize(args.stylize, folder, steady, args.style, ["--stabilize", args.stabilize], args.via)
            frames_in, frames_plain, frames_steady = read_frames(folder), read_frames(plain), read_frames(steady)
            row = [name, frames_in[0].shape[1], frames_in[0].shape[0]]
            for method in ("farneback", "dis"):
                motion = flows(frames_in, method)
                e_in, e_plain, e_steady = (flow_warping_error(f, motion) for f in (frames_in, frames_plain, frames_steady))
                row += [e_in, e_plain, e_steady, e_steady / e_plain]
            row.append(min(psnr(a, b) for a, b in zip(frames_plain, frames_steady)))
            flow_rows.append(row)
        if args.flow_only:
            cases = {}
        pan = tmp / "pan"; pan.mkdir()
        for t in range(args.frames):
            x = t * args.shift
            Image.fromarray((photo[:, x:x + width] * 255).round().astype(np.uint8)).save(pan / f"f{t}.png")
        cases["a pan"] = (pan, args.shift)
        still = tmp / "static"; still.mkdir()
        for t in range(args.frames):
            noisy = np.clip(photo[:, :width] + rng.normal(0, 2 / 255, photo[:, :width].shape), 0, 1)
            Image.fromarray((noisy * 255).round().astype(np.uint8)).save(still / f"f{t}.png")
        cases["b static+noise"] = (still, 0)
        real = tmp / "real"; real.mkdir()
        subprocess.run(["ffmpeg", "-v", "error", "-i", args.clip, "-frames:v", str(args.frames), "-vf", "scale=480:-2",
                        str(real / "f%d.png")], check=True)
        cases["c real (frame diff)"] = (real, None)
        notes = []
        if args.flow_only:
            cases = {}
        for name, (folder, shift) in cases.items():
            plain, steady = tmp / (folder.name + "-plain"), tmp / (folder.name + "-steady")
            stylize(args.stylize, folder, plain, args.style, ["--no-stabilize"], args.via)
            stylize(args.stylize, folder, steady, args.style, ["--stabilize", args.stabilize], args.via)
            frames_in, frames_plain, frames_steady = read_frames(folder), read_frames(plain), read_frames(steady)
            if shift is None:
                (e_in, u_in, kept), (e_plain, u_plain, _), (e_steady, u_steady, _) = (
                    masked_difference(f, frames_in) for f in (frames_in, frames_plain, frames_steady))
                notes.append(f"(c) unmasked frame difference: input {u_in:.6f}, per-frame {u_plain:.6f}, stabilized {u_steady:.6f}; "
                             f"the mask keeps {100 * kept:.0f}% of the pixels")
            else:
                e_in, e_plain, e_steady = (warping_error(f, shift) for f in (frames_in, frames_plain, frames_steady))
            worst = min(psnr(a, b) for a, b in zip(frames_plain, frames_steady))
            rows.append((name, e_in, e_plain, e_steady, e_steady / e_plain, worst))
    print(f"style {Path(args.style).name}, {args.frames} frames, stabilize {args.stabilize}, through `stylize {args.via}`")
    print(f"{'case':<22}{'input':>11}{'per-frame':>11}{'stabilized':>12}{'ratio':>8}{'min PSNR vs per-frame':>24}")
    for name, e_in, e_plain, e_steady, ratio, worst in rows:
        print(f"{name:<22}{e_in:>11.6f}{e_plain:>11.6f}{e_steady:>12.6f}{ratio:>8.3f}{worst:>21.2f} dB")
    for note in notes:
        print(note)
    if flow_rows:
        print(f"(d) warping error along optical flow, {args.real_frames} frames, stabilize {args.stabilize}: "
              "input / per-frame / stabilized / ratio, along Farneback (independent) and along DIS (medium)")
        for name, w, h, fi, fp, fs, fr, di, dp, ds, dr, worst in flow_rows:
            print(f"{name:<24}{w}x{h}  Farneback {fi:.5f} {fp:.5f} {fs:.5f} ratio {fr:.3f}   DIS {di:.5f} {dp:.5f} {ds:.5f} ratio {dr:.3f}"
                  f"   min PSNR vs per-frame {worst:.2f} dB")
    if args.throughput:
        fps = {}
        for label, extra in (("off", ["--no-stabilize"]), ("on", ["--stabilize", args.stabilize])):
            out = subprocess.run([args.stylize, "video", args.throughput, "-s", args.style, "-o", str(Path(tempfile.gettempdir()) / f"flicker-{label}.mkv"),
                                  "--overwrite", "--json", "--quiet", *extra], check=True, capture_output=True, text=True)
            fps[label] = json.loads(out.stdout)["fps"]
        print(f"end-to-end fps on {Path(args.throughput).name}: stabilizer off {fps['off']:.2f}, on {fps['on']:.2f} "
              f"({100 * fps['on'] / fps['off']:.0f}%)")


if __name__ == "__main__":
    main()
