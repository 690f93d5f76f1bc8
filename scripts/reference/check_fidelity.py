"""Checks `stylize vector` and `stylize image` against the float reference on any pictures.

For each style picture: the reference vector (PIL decode, centre square, PIL bilinear resize
to 256x256, onnxruntime float graph) against `stylize vector` (FFmpeg decode and swscale
resize): cosine. For each content picture (PNG, so both sides see the same pixels) and each
precision: `stylize image -s VECTOR.json` against the reference transformer run with the same
vector file: PSNR in dB; int8 against onnxruntime on the shipped int8 graph, with its PSNR from
the float reference beside it. Prints a table; exits non-zero when a bound is missed
(cosine >= 0.99; PSNR >= 40 dB f32, >= 33 dB bf16, >= 35 dB int8).

    python3 scripts/reference/check_fidelity.py --styles a.jpg,b.png --contents photo.png
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from float_graph import TRANSFORM, Reference, models_dir, quantized_session  # noqa: E402

BOUNDS = {"cosine": 0.99, "f32": 40.0, "bf16": 33.0, "int8": 35.0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--styles", required=True, help="comma-separated style pictures")
    parser.add_argument("--contents", required=True, help="comma-separated content pictures (PNG)")
    parser.add_argument("--stylize", default=str(Path(__file__).resolve().parents[2] / ".build/release/stylize"))
    parser.add_argument("--precisions", default="f32,bf16")
    args = parser.parse_args()
    ref = Reference()
    int8 = None
    if "int8" in args.precisions.split(","):
        int8 = Reference()
        int8.transform = quantized_session(models_dir() / TRANSFORM, symbolic_spatial=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        vectors = {}
        for style in args.styles.split(","):
            img = Image.open(style).convert("RGB")
            w, h = img.size
            s = min(w, h)
            square = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((256, 256), Image.BILINEAR)
            expected = ref.style_vector(np.asarray(square, dtype=np.float32) / 255)
            out = Path(tmp) / (Path(style).stem + ".json")
            subprocess.run([args.stylize, "vector", style, "-o", str(out)], check=True)
            ours = np.array(json.loads(out.read_text())["vector"], dtype=np.float64)
            cosine = float(ours @ expected / np.linalg.norm(ours) / np.linalg.norm(expected))
            ok = cosine >= BOUNDS["cosine"]
            failed |= not ok
            print(f"vector  {Path(style).name:<28} {w}x{h:<6} cosine {cosine:.6f} {'ok' if ok else 'BELOW ' + str(BOUNDS['cosine'])}")
            vectors[style] = out
        for content in args.contents.split(","):
            pixels = np.asarray(Image.open(content).convert("RGB"), dtype=np.float32) / 255
            h, w, _ = pixels.shape
            for style, vector_file in vectors.items():
                vector = np.array(json.loads(vector_file.read_text())["vector"], dtype=np.float32)
                expected = ref.stylize(pixels, vector).astype(np.float64)
                for precision in args.precisions.split(","):
                    out = Path(tmp) / f"out-{precision}.png"
                    subprocess.run([args.stylize, "image", content, "-s", str(vector_file), "-o", str(out),
                                    "--precision", precision, "--overwrite"], check=True)
                    ours = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64) / 255
                    psnr = 10 * np.log10(1 / np.mean((ours - expected) ** 2))
                    extra = ""
                    if precision == "int8":
                        # Both sides as 8-bit pictures, as stylize wrote its own.
                        graph = np.clip(np.rint(int8.stylize(pixels, vector) * 255), 0, 255) / 255
                        extra = f" (float reference {psnr:6.2f} dB; onnxruntime int8 from it " \
                                f"{10 * np.log10(1 / np.mean((graph - expected) ** 2)):6.2f} dB)"
                        psnr = 10 * np.log10(1 / np.mean((ours - graph) ** 2))
                    ok = psnr >= BOUNDS[precision]
                    failed |= not ok
                    print(f"image   {Path(content).name:<20} {w}x{h:<8} style {Path(style).name:<20} {precision:<5} "
                          f"PSNR {psnr:6.2f} dB {'ok' if ok else 'BELOW ' + str(BOUNDS[precision])}{extra}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
