"""Writes the test fixtures in Tests/StylizeKitTests/Fixtures: small input PNGs and the float
reference's outputs for them (raw little-endian float32, HWC for images).

Run by hand, not by CI, after `pip install onnx onnxruntime pillow numpy` and scripts/fetch-models:
    python3 scripts/reference/make_fixtures.py [path/to/SampleClips]
"""
import struct
import sys
import zlib
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
# The reference's inputs are the PNG files as written and read back: exact 8-bit values, which
# StylizeKit decodes to the same numbers.
style = save_png(square_crop(Image.open(samples / "starry_night.jpg").convert("RGB")).resize((256, 256), Image.BILINEAR),
                 "style_256.png")
vector = ref.style_vector(style)
vector.astype("<f4").tofile(out / "style_256.vector.f32")

cat = Image.open(samples / "chelsea.png").convert("RGB")
for name, size in (("content_96x96", (96, 96)), ("content_101x66", (101, 66))):
    content = save_png(cat.resize(size, Image.BILINEAR), name + ".png")
    ref.stylize(content, vector).astype("<f4").tofile(out / (name + ".stylized.f32"))

# Tiny pictures in the formats and layouts the decoder must handle, with known values.
grey = np.array([[0, 64, 128, 255], [10, 20, 30, 40], [255, 254, 1, 2]], dtype=np.uint8)
with open(out / "grey_4x3.pgm", "wb") as f:  # binary PGM, 8-bit grey
    f.write(b"P5\n4 3\n255\n" + grey.tobytes())
deep = (np.arange(5 * 3 * 3, dtype=np.uint32).reshape(3, 5, 3) * 1409 + 17).astype(np.uint16)
# A 16-bit RGB PNG, written chunk by chunk: PIL cannot write 16-bit RGB.
raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in deep)
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
(out / "rgb16_5x3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 3, 16, 2, 0, 0, 0))
                                   + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
deep.astype("<u2").tofile(out / "rgb16_5x3.u16")
rgba = np.zeros((2, 2, 4), dtype=np.uint8)
rgba[0, 0] = (255, 0, 0, 255)   # opaque red
rgba[0, 1] = (0, 0, 255, 0)     # fully transparent blue: white
rgba[1, 0] = (0, 0, 0, 128)     # half-transparent black: mid grey
rgba[1, 1] = (0, 255, 0, 255)   # opaque green
Image.fromarray(rgba, "RGBA").save(out / "rgba_2x2.png")

# A CMYK JPEG, as print workflows write them, and the RGB picture it was made from.
cmyk_source = cat.resize((64, 43), Image.BILINEAR)
cmyk_source.save(out / "cmyk_source.png")
cmyk_source.convert("CMYK").save(out / "cmyk.jpg", quality=95)

print("fixtures written to", out)
