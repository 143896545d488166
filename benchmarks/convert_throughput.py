"""Conversion throughput against model-only speed, same model, same size.

    python benchmarks/convert_throughput.py [--size 640x360] [--frames 60] [--json PATH]

For two randomly initialised networks, a Johnson-size one (pytorch/examples TransformerNet)
and a small one (channels 16/32/64, 3 residual blocks), it measures:
- model-only FPS: ONNX Runtime on an already prepared frame (warm-up excluded, median);
- convert FPS: `convert` of a generated H.264 clip of the same size (decode, engine,
  encode in their threads), wall time from the first frame read to the file renamed.
The target (issue 3) is convert >= 90 % of model-only on this machine. Needs torch (export).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export.checkpoints import LoadedModel  # noqa: E402
from export.networks import TransformerNet  # noqa: E402
from export.onnx_export import export_model  # noqa: E402
from realtime_style.convert_job import convert  # noqa: E402
from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.engine.geometry import prepare  # noqa: E402
from realtime_style.testcard import card_image  # noqa: E402

MODELS = {
    "johnson": dict(channels=(32, 64, 128), res_blocks=5),
    "small": dict(channels=(16, 32, 64), res_blocks=3),
}


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 30) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = card_image(height + 64, width + 64)
        for i in range(frames):  # a slow pan over the test card
            img = np.ascontiguousarray(base[i % 64 : i % 64 + height, i % 64 : i % 64 + width])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def model_only_fps(engine: StyleEngine, width: int, height: int, runs: int) -> float:
    batch = prepare(card_image(height, width), engine.plan(height, width))
    for _ in range(3):
        engine.infer(batch)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.infer(batch)
        times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--models", default="johnson,small")
    ap.add_argument("--json")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip, width, height, args.frames)
        for name in args.models.split(","):
            net = TransformerNet(**MODELS[name]).eval()
            data, _ = export_model(LoadedModel(net, "johnson", {}), None, name=name)
            engine = StyleEngine(data, InferenceOptions(provider="cpu"))
            # Same number of timed frames for both measures; the model-only median first.
            model_fps = model_only_fps(engine, width, height, runs=min(args.frames, 30))
            result = convert(clip, tmp / f"{name}.mp4", engine, overwrite=True)
            convert_fps = result.frames / result.stats.wall_s
            row = {
                "model": name, "size": args.size, "frames": result.frames,
                "model_only_fps": round(model_fps, 2), "convert_fps": round(convert_fps, 2),
                "ratio": round(convert_fps / model_fps, 3),
                "stage_ms_per_frame": {s.name: round(s.ms_per_frame, 2) for s in result.stats.stages},
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    report = {"machine": platform.processor() or platform.machine(), "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
