"""Writes the test fixtures in Tests/StylizeKitTests/Fixtures: small input PNGs and the float
reference's outputs for them (raw little-endian float32, HWC for images).

Run by hand, not by CI, after `pip install onnx onnxruntime pillow numpy` and scripts/fetch-models:
    python3 scripts/reference/make_fixtures.py [path/to/SampleClips]
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from float_graph import Reference  # noqa: E402

root = Path(__file__).resolve().parents[2]
samples = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "SampleClips"
out = root / "Tests" / "StylizeKitTests" / "Fixtures"
out.mkdir(parents=True, exist_ok=True)


def square_crop(img: Image.Image) -> Image.Image:
    w, h = img.size
    s = min(w, h)
    return img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def save_png(img: Image.Image, name: str) -> np.ndarray:
    img.save(out / name)
    return np.asarray(Image.open(out / name).convert("RGB"), dtype=np.float32) / 255.0


ref = Reference()
style = save_png(square_crop(Image.open(samples / "starry_night.jpg").convert("RGB")).resize((256, 256), Image.BILINEAR),
                 "style_256.png")
vector = ref.style_vector(style)
vector.astype("<f4").tofile(out / "style_256.vector.f32")

cat = Image.open(samples / "chelsea.png").convert("RGB")
for name, size in (("content_96x96", (96, 96)), ("content_101x66", (101, 66))):
    content = save_png(cat.resize(size, Image.BILINEAR), name + ".png")
    ref.stylize(content, vector).astype("<f4").tofile(out / (name + ".stylized.f32"))

print("fixtures written to", out)
