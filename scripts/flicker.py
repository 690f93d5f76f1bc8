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

Also the lowest PSNR of a stabilized frame against its own per-frame stylization (no smear), and,
with --throughput CLIP, end-to-end fps of `stylize video` on CLIP with and without the stabilizer
in the same run. Frames go through `stylize video` as lossless 4:2:0 clips (FFV1; a clip is
stabilized in the encoder's YUV), or with --via frames through `stylize frames` as PNG (RGB), so
no lossy codec touches the numbers; per-frame and stabilized take the same path.

    python3 scripts/flicker.py --style SampleClips/starry_night.jpg [--photo P] [--clip C] [--throughput C]
                               [--real CLIP ...] [--real-frames 48] [--real-width 480] [--via video|frames]

Needs numpy and pillow (and opencv-python-headless for the flow measure), the ffmpeg tool, and a
release build (swift build -c release).
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

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


def stylize(binary: str, src: Path, dst: Path, style: str, extra: list, via: str) -> None:
    """Stylizes the PNG frames in `src` into PNG frames in `dst`: through `stylize frames`, or
    through `stylize video` on a lossless 4:2:0 clip of them (FFV1), written as a lossless 4:2:0
    clip, the way a clip's frames are stabilized (in the encoder's YUV)."""
    if via == "frames":
        subprocess.run([binary, "frames", str(src), "-o", str(dst), "-s", style, "--quiet", *extra], check=True)
        return
    clip, out = src.with_name(src.name + ".mkv"), dst.with_name(dst.name + ".mkv")
    if not clip.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-framerate", "25", "-i", str(src / "f%d.png"), "-c:v", "ffv1", "-pix_fmt", "yuv420p",
                        str(clip)], check=True)
    subprocess.run([binary, "video", str(clip), "-o", str(out), "-s", style, "--codec", "ffv1", "--quiet", *extra], check=True)
    dst.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), str(dst / "f%d.png")], check=True)


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
    parser.add_argument("--flow-only", action="store_true", help="only the flow measure (d)")
    parser.add_argument("--via", choices=("video", "frames"), default="video",
                        help="stylize through `stylize video` (lossless 4:2:0 clips, the default) or `stylize frames` (PNG)")
    args = parser.parse_args()
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
            subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-frames:v", str(args.real_frames), "-vf", f"scale={args.real_width}:-2",
                            str(folder / "f%d.png")], check=True)
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
