"""Conversion throughput against model-only speed, same model, same size.

    python benchmarks/convert_throughput.py [--size 640x360] [--frames 60] [--json PATH]

For randomly initialised networks (speed does not depend on the weights): a Johnson-size
one (pytorch/examples TransformerNet), a narrow Johnson (channels 16/32/64, 3 residual
blocks) and our real-time student architecture, it measures:
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
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.engine.timing import model_fps  # noqa: E402
from realtime_style.io.video_file import EncodeSettings  # noqa: E402
from realtime_style.jobs.convert import convert  # noqa: E402
from realtime_style.testcard import card_image  # noqa: E402
from realtime_style_export.checkpoints import LoadedModel  # noqa: E402
from realtime_style_export.networks import build  # noqa: E402
from realtime_style_export.onnx_export import export_model  # noqa: E402

MODELS = {  # name: (architecture, its settings)
    "johnson": ("johnson", dict(channels=(32, 64, 128), res_blocks=5)),
    "johnson-small": ("johnson", dict(channels=(16, 32, 64), res_blocks=3)),
    "student": ("student", {}),
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--preset", default=EncodeSettings().preset, help="x264 preset for convert")
    ap.add_argument("--json")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip, width, height, args.frames)
        for name in args.models.split(","):
            arch, config = MODELS[name]
            data, _ = export_model(LoadedModel(build(arch, **config).eval(), arch, {}), None, name=name)
            # model-only: one inference on all cores, as `image` and `bench` run it;
            # convert: as the command runs it (automatic workers).
            engine = StyleEngine(data, InferenceOptions(provider="cpu"))
            converter = StyleEngine(data, InferenceOptions(provider="cpu", workers=0))
            # This machine's speed drifts by 20 % from minute to minute: alternate the two
            # measures over several rounds and compare medians.
            model_runs, convert_runs, stages = [], [], None
            for _ in range(args.rounds):
                model_runs.append(model_fps(engine, height, width, runs=min(args.frames, 30)))
                result = convert(clip, tmp / f"{name}.mp4", converter, overwrite=True,
                                 settings=EncodeSettings(preset=args.preset))
                convert_runs.append(result.frames / result.stats.wall_s)
                stages = {s.name: round(s.ms_per_frame, 2) for s in result.stats.stages}
            model_median, convert_median = statistics.median(model_runs), statistics.median(convert_runs)
            row = {
                "model": name, "size": args.size, "frames": result.frames, "rounds": args.rounds,
                "x264_preset": args.preset,
                "convert_workers": converter.workers, "convert_threads_per_worker": converter.threads,
                "model_only_fps": round(model_median, 2), "convert_fps": round(convert_median, 2),
                "ratio": round(convert_median / model_median, 3),
                "model_only_runs": [round(v, 2) for v in model_runs],
                "convert_runs": [round(v, 2) for v in convert_runs],
                "stage_ms_per_frame (last round)": stages,
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    report = {"machine": platform.processor() or platform.machine(), "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
