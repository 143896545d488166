"""What temporal smoothing costs at 640x360 on this machine.

    python benchmarks/smoothing_cost.py [--style wave] [--clip CLIP] [--frames 300] [--rounds 3] [--plain]

1. The smoother alone: ms per frame on consecutive frames of the clip (or the synthetic
   scene), against the engine's full per-frame time (prepare + model + restore); and its
   CPU time with OpenCV on one thread.
2. End to end: `convert` of the same frames with --smooth 0 and with the default,
   alternating rounds, median FPS; the cost is the relative increase in frame time.
   ``--plain`` adds a plain flow-warp-and-blend (the same flow, confidence and blend, without
   the clamping and the detail restoration) as a third variant: the floor of the design.
Target: <= 15 % of the frame time (reported under "target_check", not asserted). Prints JSON.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import harness

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.io.live_sources import SyntheticSource
from realtime_style.jobs.convert import convert
from realtime_style.models import registry
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother

TARGET = 0.15  # the frame time's increase with the default smoothing


def frames_of(clip: Path | None, n: int, size=(640, 360)):
    if clip is None:
        scene = SyntheticSource(size)
        return [scene.render(i) for i in range(n)]
    from realtime_style.jobs.convert import open_source

    src = open_source(clip, audio=False, fps=Fraction(25))
    out = []
    for f in src.frames():
        out.append(cv2.resize(f.rgb, size, interpolation=cv2.INTER_AREA) if f.rgb.shape[1::-1] != size else f.rgb)
        if len(out) == n:
            break
    src.close()
    return out


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--style", default=None)
    ap.add_argument("--clip", type=Path, default=None, help="a 640x360 clip (default: the synthetic scene)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plain", action="store_true",
                    help="also a plain flow-warp-and-blend (no clamping, no detail restoration): "
                         "the floor of this design")
    args = harness.parse(ap)
    if args.smoke:
        args.style, args.clip, args.frames, args.rounds = str(harness.tiny_model(harness.inputs(args))), None, 3, 1
    style = args.style or registry.default_name()
    model = registry.resolve_style(style)
    frames = frames_of(args.clip, args.frames)

    engine1 = StyleEngine(model, InferenceOptions(provider="cpu", workers=1))
    outs, engine_ms = [], []
    for f in frames[:100]:
        t0 = time.perf_counter()
        outs.append(engine1.stylize(f))
        engine_ms.append((time.perf_counter() - t0) * 1000)
    smoother = Smoother(DEFAULT_STRENGTH)
    smooth_ms = []
    for f, o in zip(frames[:100], outs):
        t0 = time.perf_counter()
        smoother.smooth(f, o)
        smooth_ms.append((time.perf_counter() - t0) * 1000)
    # CPU time on one OpenCV thread (what the stage costs a busy machine; the wall time above
    # uses OpenCV's threads and swings with the machine), median of 5 passes.
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    cpu_ms = []
    for _ in range(5):
        smoother.reset()
        smoother.smooth(frames[0], outs[0])
        t0 = time.process_time()
        for f, o in zip(frames[1:100], outs[1:]):
            smoother.smooth(f, o)
        cpu_ms.append((time.process_time() - t0) * 1000 / (len(outs) - 1))
    cv2.setNumThreads(threads)
    alone = {"engine_ms_per_frame": round(statistics.median(engine_ms), 2),
             "smoother_ms_per_frame": round(statistics.median(smooth_ms[1:]), 2),
             "smoother_cpu_ms_one_thread": round(statistics.median(cpu_ms), 2)}
    alone["ratio"] = round(alone["smoother_ms_per_frame"] / alone["engine_ms_per_frame"], 3)

    with tempfile.TemporaryDirectory(dir=args.smoke) as tmp:
        tmp = Path(tmp)
        frame_dir = tmp / "in"
        frame_dir.mkdir()
        for i, f in enumerate(frames):
            cv2.imwrite(str(frame_dir / f"f{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_PNG_COMPRESSION, 1])
        clip = tmp / "clip.mp4"
        convert(frame_dir, clip, StyleEngine(model, InferenceOptions(provider="cpu", strength=0.0)),
                fps=Fraction(30))  # strength 0: the frames themselves, encoded once
        engine = StyleEngine(model, InferenceOptions(provider="cpu", workers=0))
        variants = {"off": None, "default": {}}
        if args.plain:
            variants["plain"] = {"clamp_px": 0, "detail_target": 0.0}

        def convert_fps(key: str, kwargs: dict | None) -> float:
            stages = [] if kwargs is None else [("smooth", Smoother(DEFAULT_STRENGTH, **kwargs))]
            return convert(clip, tmp / f"{key}.mp4", engine, extra_stages=stages, overwrite=True).stats.fps

        fps = harness.alternate(args.rounds, {key: (lambda k=key, kw=kwargs: convert_fps(k, kw))
                                              for key, kwargs in variants.items()})
    off, on = statistics.median(fps["off"]), statistics.median(fps["default"])
    plain = {}
    if args.plain:
        p = statistics.median(fps["plain"])
        plain = {"plain_convert_fps": round(p, 2), "plain_frame_time_increase": round(off / p - 1.0, 3)}
    report = {
        "style": style, "size": "640x360", "frames": len(frames), "source": str(args.clip or "synthetic scene"),
        "alone": alone,
        "convert_fps": {"smooth_0": round(off, 2), f"smooth_{DEFAULT_STRENGTH:g}": round(on, 2),
                        "rounds": {k: [round(v, 2) for v in vals] for k, vals in fps.items()}},
        "frame_time_increase": round(off / on - 1.0, 3),
        **plain,
        "target": f"<= {TARGET:g}",
        "target_check": harness.target(off / on - 1.0, TARGET, at_most=True),
    }
    harness.emit(report, args)


if __name__ == "__main__":
    main()
