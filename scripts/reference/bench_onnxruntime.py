"""Times onnxruntime on the same models as `stylize bench`: the transformer per frame size
(the shipped int8 graph, as a Python script around onnxruntime would run it, and the float
graph) and the style predictor. Median of --runs after one warm-up run. Prints JSON.

    python3 scripts/reference/bench_onnxruntime.py --sizes 384x384,1280x720 --runs 5
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from float_graph import PREDICT, TRANSFORM, models_dir, quantized_session, session  # noqa: E402


def timed(run, runs):
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"medianMilliseconds": times[len(times) // 2], "minMilliseconds": times[0], "runs": runs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="384x384,1280x720")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: onnxruntime's default, all cores)")
    args = parser.parse_args()
    import onnxruntime

    models = models_dir()
    rng = np.random.default_rng(0)
    vector = rng.standard_normal((1, 1, 1, 100)).astype(np.float32)
    results = []
    for graph, make in (("int8", quantized_session), ("float", session)):
        predictor = make(models / PREDICT, symbolic_spatial=False, threads=args.threads)
        style = rng.random((1, 256, 256, 3), dtype=np.float32)
        results.append({"network": "style-vector", "graph": graph, "width": 256, "height": 256,
                        **timed(lambda: predictor.run(None, {"style_image": style}), args.runs)})
        transformer = make(models / TRANSFORM, symbolic_spatial=True, threads=args.threads)
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            content = rng.random((1, (h + 3) // 4 * 4, (w + 3) // 4 * 4, 3), dtype=np.float32)
            feeds = {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vector}
            results.append({"network": "transformer", "graph": graph, "width": w, "height": h,
                             **timed(lambda: transformer.run(None, feeds), args.runs)})
    print(json.dumps({"onnxruntime": onnxruntime.__version__, "results": results}))


if __name__ == "__main__":
    main()
