"""Where ONNX Runtime's CPU provider spends a frame, per operator type.

    python benchmarks/ort_op_profile.py MODEL [--as-written] [--size 640x360] [--threads 0] [--frames 5]

MODEL is an .onnx file, a style name, or a checkpoint `export` reads (an ml5 folder, ...), which
is traced in memory as `export` ships it (``--as-written``: transposed convolutions kept, for
comparison). Runs ORT's own profiler over a few frames of a test card after two warm-ups and
prints ms per frame and share per operator type (ORT's NCHWc layout changes show as
ReorderInput/ReorderOutput).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def model_bytes(spec: str, as_written: bool) -> bytes:
    path = Path(spec)
    if path.suffix == ".onnx" and path.is_file():
        return path.read_bytes()
    if path.exists():  # a checkpoint
        from realtime_style_export.checkpoints import load
        from realtime_style_export.onnx_export import to_onnx

        return to_onnx(load(path).module.eval(), rewrite=not as_written).SerializeToString()
    from realtime_style.models import registry

    return Path(registry.resolve_style(spec)).read_bytes()


def main() -> None:
    import onnxruntime as ort

    from realtime_style.testcard import card_image

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--as-written", action="store_true")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT's default)")
    ap.add_argument("--frames", type=int, default=5)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    x = card_image(h, w, seed=1)[None]
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(model_bytes(args.model, args.as_written), so,
                                       providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(2 + args.frames):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    keep_from = runs[2]["ts"] if len(runs) > 2 else 0  # leave the warm-ups out
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["ts"] >= keep_from and e["name"].endswith("_kernel_time"):
            op = e["args"].get("op_name", "?")
            total[op] += e["dur"]
            count[op] += 1
    frames = max(len(runs) - 2, 1)
    whole = sum(total.values()) or 1
    report = {"model": args.model, "size": args.size, "threads": args.threads, "frames": frames,
              "ms_per_frame": round(sum(r["dur"] for r in runs[2:]) / 1000 / frames, 1),
              "ops": [{"op": op, "ms_per_frame": round(us / 1000 / frames, 2), "share": round(us / whole, 3),
                       "nodes": count[op] // frames} for op, us in total.most_common()]}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
