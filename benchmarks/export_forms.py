"""What tracing the Engstrom (ml5) network's transposed convolutions as sub-pixel convolutions
buys on ONNX Runtime's CPU provider.

    python benchmarks/export_forms.py [--checkpoint ../shared/data/teachers/ml5/wave] [--size 640x360] [--rounds 5]

Exports the checkpoint twice -- as written (ConvTranspose + crop) and as ``export`` ships it
(``for_export()``: 2x2 convolution + pixel shuffle) -- checks the two graphs agree, then times
them in alternating rounds, one session on all cores and one single-thread session (what each
of `convert`'s workers runs). Prints JSON: ms per frame (median of rounds) and the PSNR between
the two outputs on a test card.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ms_per_frame(session, x, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        session.run(None, {"input": x})
    return (time.perf_counter() - t0) * 1000 / n


def main() -> None:
    import onnxruntime as ort

    from realtime_style.metrics import psnr
    from realtime_style.testcard import card_image
    from realtime_style_export.checkpoints import load
    from realtime_style_export.onnx_export import to_onnx

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=ROOT.parent / "shared/data/teachers/ml5/wave")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=4, help="frames per round")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    net = load(args.checkpoint).module.eval()
    graphs = {"as_written": to_onnx(net, rewrite=False), "as_exported": to_onnx(net)}
    ops = {k: sorted({n.op_type for n in g.graph.node} - {"Constant"}) for k, g in graphs.items()}
    x = card_image(h, w, seed=1)[None]
    report = {"checkpoint": str(args.checkpoint), "size": args.size, "ops": ops, "ms_per_frame": {}}
    for threads in (0, 1):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sessions = {k: ort.InferenceSession(g.SerializeToString(), so, providers=["CPUExecutionProvider"])
                    for k, g in graphs.items()}
        outs = {k: s.run(None, {"input": x})[0][0] for k, s in sessions.items()}
        report["psnr_db_between_forms"] = round(float(psnr(outs["as_exported"], outs["as_written"])), 1)
        times = {k: [] for k in sessions}
        for _ in range(args.rounds):
            for k, s in sessions.items():
                times[k].append(ms_per_frame(s, x, args.frames))
        key = "all_cores" if threads == 0 else "one_thread"
        report["ms_per_frame"][key] = {k: round(statistics.median(v), 1) for k, v in times.items()}
        report["ms_per_frame"][key]["saved"] = round(
            1 - report["ms_per_frame"][key]["as_exported"] / report["ms_per_frame"][key]["as_written"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
