"""Writes the style fixtures beyond style_256: a 128x128 picture and the float reference's
vector for it at that side (the predictor run on another side, as --style-size does), and the
non-square style fixture: a 400x300 picture and the float reference's style vector
for it after Magenta's preparation (the centred 300x300 square, resized to 256x256 bilinearly,
as Magenta's `center_crop_resize_image` does; PIL's bilinear filter widens when shrinking),
so that the tests check StylizeKit's own crop and resize, not only the network.

Run by hand after `pip install onnx onnxruntime pillow numpy` and scripts/fetch-models:
    python3 scripts/reference/make_style_fixture.py [path/to/SampleClips]
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

# A 400x300 picture: the painting's left part, so that the centred square differs from the whole.
painting = Image.open(samples / "starry_night.jpg").convert("RGB")
w, h = painting.size
picture = painting.crop((0, 0, w * 3 // 4, h)).resize((400, 300), Image.LANCZOS)
picture.save(out / "style_400x300.png")
picture = Image.open(out / "style_400x300.png").convert("RGB")  # the exact 8-bit values as stored

side = min(picture.size)
left, top = (picture.size[0] - side) // 2, (picture.size[1] - side) // 2
square = picture.crop((left, top, left + side, top + side)).resize((256, 256), Image.BILINEAR)
vector = Reference().style_vector(np.asarray(square, dtype=np.float32) / 255.0)
vector.astype("<f4").tofile(out / "style_400x300.vector.f32")
print("wrote style_400x300.png and style_400x300.vector.f32 to", out)

# --style-size: style_256.png shrunk to 128x128 (PIL's box filter), through the predictor at 128.
small = Image.open(out / "style_256.png").convert("RGB").resize((128, 128), Image.BOX)
small.save(out / "style_128.png")
small = Image.open(out / "style_128.png").convert("RGB")
Reference().style_vector(np.asarray(small, dtype=np.float32) / 255.0).astype("<f4").tofile(out / "style_128.vector.f32")
print("wrote style_128.png and style_128.vector.f32 to", out)
