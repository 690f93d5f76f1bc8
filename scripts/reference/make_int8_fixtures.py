"""Writes the int8 reference for `--precision int8`: onnxruntime on the shipped int8 graph
(unchanged but for symbolic spatial dims) for each content fixture, with the style fixture's
vector, as Tests/StylizeKitTests/Fixtures/content_*.int8.f32 (raw little-endian float32, HWC).
Inputs are reflect-padded at the bottom and right to a multiple of 4 and the output cropped
back, as for the float reference.

Run by hand, not by CI, after `pip install onnx onnxruntime pillow numpy` and scripts/fetch-models:
    python3 scripts/reference/make_int8_fixtures.py
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from float_graph import TRANSFORM, Reference, models_dir, quantized_session  # noqa: E402

fixtures = Path(__file__).resolve().parents[2] / "Tests" / "StylizeKitTests" / "Fixtures"
reference = Reference()
reference.transform = quantized_session(models_dir() / TRANSFORM, symbolic_spatial=True)
vector = np.fromfile(fixtures / "style_256.vector.f32", dtype="<f4")
for name in ("content_96x96", "content_101x66"):
    content = np.asarray(Image.open(fixtures / (name + ".png")).convert("RGB"), dtype=np.float32) / 255.0
    reference.stylize(content, vector).astype("<f4").tofile(fixtures / (name + ".int8.f32"))
