"""What temporal smoothing costs at 640x360 on this machine.

    python benchmarks/smoothing_cost.py [--style wave] [--clip CLIP] [--frames 300] [--rounds 3] [--plain] [--parts]
                                        [--hd-passes 5]

1. The smoother alone: ms per frame on consecutive frames of the clip (or the synthetic
   scene), against the engine's full per-frame time (prepare + model + restore); and its
   CPU time with OpenCV on one thread, at 640x360 and at 1280x720 (the synthetic scene; on a
   GPU the smoother runs beside the network on a core of its own: target >= 30 FPS there, aim 60).
2. End to end: `convert` of the same frames with --smooth 0 and with the default,
   alternating rounds, median FPS; the cost is the relative increase in frame time.
   ``--plain`` adds a plain flow-warp-and-blend (the same flow, confidence and blend, without
   the clamping and the detail restoration) as a third variant: the floor of the design.
   ``--parts``: the smoother alone on one thread, built up part by part (``PARTS``), at both sizes.
Targets: <= 25 % longer frame time in `convert` (issue 16; issue 6's 15 % retired), >= 30 FPS
alone at 1280x720 on one thread (reported under "target_check", not asserted). Prints JSON.
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

TARGET = 0.25  # the frame time's increase with the default smoothing
HD_FPS_TARGET, HD_FPS_AIM, HD_FRAMES = 30.0, 60.0, 40  # the smoother alone at 1280x720, one thread


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


# What each part of the smoother costs (``--parts``): cumulative variants, each adding one part,
# so a part's cost is the difference of two measured rows.
PARTS = [
    ("flow, trust, warp and blend", {"clamp_px": 0, "detail_target": 0.0}),
    ("+ neighbourhood clamp", {"detail_target": 0.0}),
    ("+ detail restoration", {"texture_budget": 0.0}),
    ("+ texture budget (the default)", {}),
]


def one_thread_ms(frames: list, outs: list, passes: int = 5, **kwargs) -> float:
    """The smoother's CPU time per frame with OpenCV on one thread (what the stage costs a busy
    machine, or a core of its own; wall time swings with the machine), the fastest of ``passes``
    (the least disturbed by other work). ``kwargs`` go to the Smoother."""
    return min(one_thread_passes(frames, outs, passes, **kwargs))


def one_thread_passes(frames: list, outs: list, passes: int, **kwargs) -> list[float]:
    """``one_thread_ms`` of each of ``passes`` passes over the frames, in order."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    smoother, cpu_ms = Smoother(DEFAULT_STRENGTH, **kwargs), []
    try:
        for _ in range(passes):
            smoother.reset()
            smoother.smooth(frames[0], outs[0])
            t0 = time.process_time()
            for f, o in zip(frames[1:], outs[1:]):
                smoother.smooth(f, o)
            cpu_ms.append((time.process_time() - t0) * 1000 / (len(outs) - 1))
    finally:
        cv2.setNumThreads(threads)
    return cpu_ms


def parts(frames: list, outs: list, passes: int) -> list[dict]:
    """``PARTS`` measured in turn, each row with its cost over the row before."""
    rows, before = [], 0.0
    for name, kwargs in PARTS:
        ms = one_thread_ms(frames, outs, passes, **kwargs)
        rows.append({"part": name, "cpu_ms_one_thread": round(ms, 2), "adds_ms": round(ms - before, 2)})
        before = ms
    return rows


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--style", default=None)
    ap.add_argument("--clip", type=Path, default=None, help="a 640x360 clip (default: the synthetic scene)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hd-passes", type=int, default=5,
                    help="passes over the 1280x720 frames (the fastest is the figure; spread over a minute or "
                         "more, they show how far this machine's other work moves it)")
    ap.add_argument("--parts", action="store_true",
                    help="also what each part of the smoother costs on one thread, at 640x360 and 1280x720")
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
    hd = SyntheticSource((1280, 720)) if not args.smoke else SyntheticSource((128, 72))
    hd_frames = [hd.render(i) for i in range(HD_FRAMES if not args.smoke else 3)]
    hd_outs = [engine1.stylize(f) for f in hd_frames]
    alone = {"engine_ms_per_frame": round(statistics.median(engine_ms), 2),
             "smoother_ms_per_frame": round(statistics.median(smooth_ms[1:]), 2),
             "smoother_cpu_ms_one_thread": round(one_thread_ms(frames[:100], outs), 2)}
    alone["ratio"] = round(alone["smoother_ms_per_frame"] / alone["engine_ms_per_frame"], 3)
    hd_passes = one_thread_passes(hd_frames, hd_outs, args.hd_passes if not args.smoke else 2)
    hd_ms, hd_median = min(hd_passes), statistics.median(hd_passes)
    alone_hd = {"size": "1280x720" if not args.smoke else "128x72", "source": "synthetic scene",
                "smoother_cpu_ms_one_thread": round(hd_ms, 2), "fps_one_thread": round(1000 / hd_ms, 1),
                "aim_fps": HD_FPS_AIM,
                # the same code from pass to pass: what the machine's other tenants move
                "passes_ms": {"fastest": round(hd_ms, 2), "median": round(hd_median, 2),
                              "slowest": round(max(hd_passes), 2), "n": len(hd_passes),
                              "fps_median": round(1000 / hd_median, 1),
                              "share_at_or_over_target": round(
                                  sum(1000 / ms >= HD_FPS_TARGET for ms in hd_passes) / len(hd_passes), 2)}}
    if args.parts or args.smoke:
        passes = 5 if not args.smoke else 1
        alone["parts"] = parts(frames[:100], outs, passes)
        alone_hd["parts"] = parts(hd_frames, hd_outs, passes)

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
        "alone_1280x720": alone_hd,
        "convert_fps": {"smooth_0": round(off, 2), f"smooth_{DEFAULT_STRENGTH:g}": round(on, 2),
                        "rounds": {k: [round(v, 2) for v in vals] for k, vals in fps.items()}},
        "frame_time_increase": round(off / on - 1.0, 3),
        **plain,
        "target": f"<= {TARGET:g}",
        "target_check": harness.target(off / on - 1.0, TARGET, at_most=True),
        "target_check_1280x720_fps": harness.target(1000 / hd_ms, HD_FPS_TARGET),
    }
    harness.emit(report, args)


if __name__ == "__main__":
    main()
