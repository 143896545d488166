"""Model-only speed of a style model: ONNX Runtime inference on a prepared frame.

    python benchmarks/model_fps.py --style wave --size 640x360 --frames 20 [--provider cpu]

Warm-up runs are excluded; prints the median FPS and latency percentiles as JSON.
(`realtime-style bench` will supersede this with the full matrix.)
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.timing import model_latencies
from realtime_style.models import registry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", required=True)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--provider", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    engine = StyleEngine(registry.resolve_style(args.style), InferenceOptions(provider=args.provider, threads=args.threads))
    ms = np.array(model_latencies(engine, h, w, runs=args.frames, warmup=args.warmup)) * 1000
    print(json.dumps({
        "style": args.style, "size": args.size, "provider": engine.provider, "frames": args.frames,
        "fps": round(1000 / float(np.median(ms)), 2),
        "latency_ms": {q: round(float(np.percentile(ms, p)), 1) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))},
        "cpu": platform.processor() or platform.machine(),
    }))


if __name__ == "__main__":
    main()
