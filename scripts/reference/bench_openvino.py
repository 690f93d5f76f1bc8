"""Times OpenVINO on the transformer, as a user who wraps `pip install openvino` in a Python
script would run it: the float graph (activation Quantize/Dequantize removed, as for the
reference) compiled with INFERENCE_PRECISION_HINT bf16 and f32, and the shipped int8 graph
unchanged, each reshaped to [1,H,W,3] with PERFORMANCE_HINT=LATENCY. Median of --runs after
one warm-up run. Prints JSON in the shape of bench_onnxruntime.py's.

    python3 scripts/reference/bench_openvino.py --sizes 1280x720,640x360,384x384 --runs 7
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_onnxruntime import timed  # noqa: E402
from float_graph import TRANSFORM, float_graph, models_dir  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="384x384,1280x720")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import onnx
    import openvino as ov

    core = ov.Core()
    path = models_dir() / TRANSFORM
    graphs = {"float": float_graph(onnx.load(str(path)), symbolic_spatial=True), "int8": onnx.load(str(path))}
    cases = [("bf16", "float", "bf16"), ("f32", "float", "f32"), ("int8", "int8", None)]
    rng = np.random.default_rng(0)
    vector = rng.standard_normal((1, 1, 1, 100)).astype(np.float32)
    results = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        h4, w4 = (h + 3) // 4 * 4, (w + 3) // 4 * 4
        content = rng.random((1, h4, w4, 3), dtype=np.float32)
        for mode, graph, precision in cases:
            model = core.read_model(graphs[graph].SerializeToString(), b"")
            model.reshape({"content_image": [1, h4, w4, 3], "mobilenet_conv/Conv/BiasAdd": [1, 1, 1, 100]})
            config = {"PERFORMANCE_HINT": "LATENCY"}
            if precision:
                config["INFERENCE_PRECISION_HINT"] = precision
            try:
                compiled = core.compile_model(model, "CPU", config)
            except RuntimeError as error:  # bf16 on a CPU without bf16 support
                results.append({"network": "transformer", "mode": mode, "width": w, "height": h, "error": str(error).splitlines()[0]})
                continue
            request = compiled.create_infer_request()
            feeds = {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vector}
            executed = compiled.get_property("INFERENCE_PRECISION_HINT")
            results.append({"network": "transformer", "mode": mode, "width": w, "height": h, "executionPrecision": str(executed),
                            **timed(lambda: request.infer(feeds), args.runs)})
    print(json.dumps({"openvino": ov.__version__ if hasattr(ov, "__version__") else ov.get_version(), "results": results}))


if __name__ == "__main__":
    main()
