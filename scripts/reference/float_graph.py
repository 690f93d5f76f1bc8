"""The float reference: the shipped int8 "QDQ" graphs with the activation rounding removed.

Every QuantizeLinear is bypassed, and every DequantizeLinear whose input is not an
initializer; the weights' DequantizeLinear nodes stay, so the float graph computes with
exactly the dequantized weights that StylizeKit uses. The transformer's two spatial
dimensions become symbolic so that it runs at any size that is a multiple of 4.
Shared by make_fixtures.py, check_fidelity.py and bench_onnxruntime.py; needs
`pip install onnx onnxruntime pillow numpy`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

PREDICT = "arbitrary_predict.onnx"
TRANSFORM = "arbitrary_transform.onnx"


def models_dir() -> Path:
    """The same search order as the stylize CLI, less --models: $STYLIZE_MODELS, then the cache."""
    if os.environ.get("STYLIZE_MODELS"):
        return Path(os.environ["STYLIZE_MODELS"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "stylize" / "models"


def float_graph(model: onnx.ModelProto, symbolic_spatial: bool) -> onnx.ModelProto:
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    alias: dict[str, str] = {}
    kept = []
    for node in graph.node:
        activation_qdq = node.op_type == "QuantizeLinear" or (
            node.op_type == "DequantizeLinear" and node.input[0] not in initializers
        )
        if activation_qdq:
            alias[node.output[0]] = node.input[0]
        else:
            kept.append(node)

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = resolve(name)
    for out in graph.output:
        source = resolve(out.name)
        if source != out.name:
            kept.append(onnx.helper.make_node("Identity", [source], [out.name]))
    del graph.node[:]
    graph.node.extend(kept)
    if symbolic_spatial:
        _make_spatial_dims_symbolic(model)
    return model


def _make_spatial_dims_symbolic(model: onnx.ModelProto) -> None:
    """Lets the first input (NHWC) take any height and width, and the first output follow it
    where it is a picture (the predictor's output is 1x1x1x100 whatever its input)."""
    for value in list(model.graph.input[:1]) + list(model.graph.output[:1]):
        dims = value.type.tensor_type.shape.dim
        if value in model.graph.output and dims[1].dim_value == 1:
            continue
        dims[1].dim_param, dims[2].dim_param = "height", "width"


def _session(model: onnx.ModelProto, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the float graph leaves the activation scales unused; no warning per scale
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def session(path: Path, symbolic_spatial: bool, threads: int = 0) -> ort.InferenceSession:
    return _session(float_graph(onnx.load(str(path)), symbolic_spatial), threads)


def quantized_session(path: Path, symbolic_spatial: bool, threads: int = 0) -> ort.InferenceSession:
    """The shipped int8 graph, unchanged but for symbolic spatial dims."""
    model = onnx.load(str(path))
    if symbolic_spatial:
        _make_spatial_dims_symbolic(model)
    return _session(model, threads)


class Reference:
    """Style predictor and transformer on onnxruntime, float graphs."""

    def __init__(self, models: Path | None = None, threads: int = 0):
        models = models or models_dir()
        self.predict = session(models / PREDICT, symbolic_spatial=True, threads=threads)
        self.transform = session(models / TRANSFORM, symbolic_spatial=True, threads=threads)

    def style_vector(self, image: np.ndarray) -> np.ndarray:
        """image: float32 NxNx3 in [0,1]; 256x256 as trained, other sides for --style-size.
        Returns 100 floats."""
        out = self.predict.run(None, {"style_image": image[None].astype(np.float32)})[0]
        return out.reshape(100)

    def stylize(self, image: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """image: float32 HxWx3 in [0,1], any size; reflect-padded at the bottom and right
        to a multiple of 4 and cropped back, as StylizeKit does."""
        h, w, _ = image.shape
        ph, pw = (-h) % 4, (-w) % 4
        padded = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        feeds = {
            "content_image": padded[None].astype(np.float32),
            "mobilenet_conv/Conv/BiasAdd": vector.reshape(1, 1, 1, 100).astype(np.float32),
        }
        return self.transform.run(None, feeds)[0][0, :h, :w, :]
