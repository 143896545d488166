"""Model-only speed of a style model: ONNX Runtime inference on a prepared frame.

    python benchmarks/model_fps.py --style wave --size 640x360 --frames 20 [--provider cpu]

Warm-up runs are excluded; prints the median FPS and latency percentiles as JSON.
(`realtime-style bench` will supersede this with the full matrix.)
"""

from __future__ import annotations

import harness
import numpy as np

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.timing import model_latencies
from realtime_style.models import registry


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--style", default=None, help="a style name or an .onnx file (required)")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--provider", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = harness.parse(ap)
    if args.smoke:
        args.style, args.size, args.frames, args.warmup = str(harness.tiny_model(harness.inputs(args))), "64x48", 2, 1
    elif args.style is None:
        ap.error("the following arguments are required: --style")
    w, h = harness.size(args.size)
    opts = InferenceOptions(provider=args.provider, threads=args.threads)
    engine = StyleEngine(registry.resolve_style(args.style), opts)
    ms = np.array(model_latencies(engine, h, w, runs=args.frames, warmup=args.warmup)) * 1000
    harness.emit({
        "style": args.style, "size": args.size, "provider": engine.provider, "frames": args.frames,
        "fps": round(1000 / float(np.median(ms)), 2),
        "latency_ms": harness.percentiles(ms),
        "cpu": harness.machine(),
    }, args, indent=None)


if __name__ == "__main__":
    main()
