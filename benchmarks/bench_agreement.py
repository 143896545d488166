"""Does `realtime-style bench` report the model-only speed an independent stopwatch sees?

    python benchmarks/bench_agreement.py [--style wave] [--size 640x360] [--rounds 3] [--frames 100]

Alternating rounds (so drift in the machine hits both alike): `realtime-style bench --mode
model --providers cpu --json` in a subprocess, then a plain onnxruntime loop written here
from scratch on the same .onnx file (default session options, as bench's single-stream CPU
case uses; a uint8 frame of the same size, fed back to back, wall clock over the whole loop).
Prints JSON with both medians and their relative difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def stopwatch(model: Path, width: int, height: int, frames: int, warmup: int = 10) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    for _ in range(warmup):
        session.run(None, {name: x})
    start = time.perf_counter()
    for _ in range(frames):
        session.run(None, {name: x})
    return frames / (time.perf_counter() - start)


def bench_cli(style: str, size: str, frames: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        subprocess.run([sys.executable, "-m", "realtime_style", "bench", "--style", style, "--sizes", size,
                        "--providers", "cpu", "--precisions", "fp32", "--mode", "model", "--frames", str(frames),
                        "--json", str(out)], check=True, capture_output=True)
        return json.loads(out.read_text())["results"][0]


def main() -> None:
    from realtime_style.models import registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default=None)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=100)
    args = ap.parse_args()
    style = args.style or registry.default_name()
    model = registry.resolve_style(style)
    width, height = (int(v) for v in args.size.split("x"))
    ours, theirs = [], []
    for _ in range(args.rounds):
        result = bench_cli(style, args.size, args.frames)
        ours.append(result["fps"])
        theirs.append(stopwatch(model, width, height, args.frames))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(json.dumps({
        "style": style, "model": str(model), "size": args.size, "frames_per_round": args.frames,
        "bench_fps": {"median": round(a, 2), "rounds": ours},
        "stopwatch_fps": {"median": round(b, 2), "rounds": [round(v, 2) for v in theirs]},
        "relative_difference": round(a / b - 1.0, 3),
        "providers_active": result["providers_active"],
    }, indent=2))


if __name__ == "__main__":
    main()
