"""What each part of the smoother costs at 640x360, on one OpenCV thread.

    python benchmarks/smoothing_parts.py [--style wave] [--clip CLIP] [--frames 100] [--rounds 7]

The smoother's CPU time per frame (median of alternating rounds over the same consecutive
frames and their stylizations) in full, without the detail restoration, without the
neighbourhood clamping, and without both (a plain flow-warp-and-blend); and the DIS call alone
on the same frames at the smoother's flow size. The differences are what the parts cost.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from smoothing_cost import frames_of  # noqa: E402

from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.models import registry  # noqa: E402
from realtime_style.temporal import smoother  # noqa: E402

VARIANTS = {
    "full": {},
    "without detail restoration": {"detail_target": 0.0},
    "without clamping": {"clamp_px": 0},
    "plain warp-and-blend": {"detail_target": 0.0, "clamp_px": 0},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default=None)
    ap.add_argument("--clip", type=Path, default=None, help="a clip (default: the synthetic scene)")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    frames = frames_of(args.clip, args.frames)
    engine = StyleEngine(registry.resolve_style(args.style or registry.default_name()), InferenceOptions(provider="cpu"))
    outs = [engine.stylize(f) for f in frames]
    cv2.setNumThreads(1)
    ms: dict[str, list[float]] = {k: [] for k in [*VARIANTS, "DIS call"]}
    for _ in range(args.rounds):
        for name, kwargs in VARIANTS.items():
            sm = smoother.Smoother(smoother.DEFAULT_STRENGTH, **kwargs)
            sm.smooth(frames[0], outs[0])
            t0 = time.process_time()
            for f, o in zip(frames[1:], outs[1:]):
                sm.smooth(f, o)
            ms[name].append((time.process_time() - t0) * 1000 / (len(frames) - 1))
        sm = smoother.Smoother()
        greys = [sm._flow_grey(f) for f in frames]
        t0 = time.process_time()
        for a, b in zip(greys[1:], greys):
            sm._dis.calc(a, b, None)
        ms["DIS call"].append((time.process_time() - t0) * 1000 / (len(frames) - 1))
    med = {k: round(statistics.median(v), 2) for k, v in ms.items()}
    print(json.dumps({
        "source": str(args.clip or "synthetic scene"), "size": "x".join(map(str, frames[0].shape[1::-1])),
        "frames": len(frames), "rounds": args.rounds, "cpu_ms_per_frame_one_thread": med,
        "detail_restoration_ms": round(med["full"] - med["without detail restoration"], 2),
        "clamping_ms": round(med["full"] - med["without clamping"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
