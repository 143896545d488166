"""Live mode against its targets: displayed FPS, capture-to-display latency, flat memory.

    python benchmarks/live_latency.py [--style wave] [--source synthetic|CLIP] [--size 640x360]
                                      [--frames 600] [--memory-frames 5000] [--slow-display-ms 60]
                                      [--smooth 0] [--threads-spin auto|on|off]

1. A headless run (the sink stands in for the display) of ``--frames`` captured frames from
   the source played as a camera; the engine's model-only FPS is measured beforehand at the
   same size. Targets: displayed FPS >= 0.85 x min(source fps, model-only FPS); p95 latency
   <= 2 model frame times + 1 source frame interval.
2. ``--memory-frames`` frames through the window path with a display that takes
   ``--slow-display-ms`` per frame (a fake toolkit: the display is the hardware edge); the
   resident memory is sampled every second and must stay flat (growth after the first
   fifth of the run < 20 MB).
Prints JSON; the figures go into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import harness

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.timing import model_fps
from realtime_style.jobs.live import Hardware, LiveConfig, live_smoothing, run_live
from realtime_style.live.controls import LiveControls
from realtime_style.live.styles import StyleSwitcher
from realtime_style.models import registry
from realtime_style.temporal.smoother import DEFAULT_STRENGTH


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class SlowDisplay:
    """A window toolkit whose every shown frame costs ``ms``."""

    def __init__(self, ms: float) -> None:
        self.ms = ms

    def namedWindow(self, *a):
        pass

    def imshow(self, title, img):
        time.sleep(self.ms / 1000)

    def waitKey(self, ms):
        return -1

    def setWindowProperty(self, *a):
        pass

    def resizeWindow(self, *a):
        pass

    def getWindowProperty(self, *a):
        return 1.0

    def destroyWindow(self, *a):
        pass


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--style", default=None)
    ap.add_argument("--source", default="synthetic")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=float, default=30.0, help="the synthetic scene's rate")
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--memory-frames", type=int, default=5000)
    ap.add_argument("--slow-display-ms", type=float, default=60.0)
    ap.add_argument("--smooth", type=float, default=0.0, help=f"live's default is off; {DEFAULT_STRENGTH} is `s`")
    ap.add_argument("--threads-spin", choices=("auto", "on", "off"), default="auto",
                    help="ONNX Runtime's CPU threads spin while waiting (auto: as `live` does, off with --smooth)")
    args = harness.parse(ap)
    if args.smoke:  # the memory run must outlast the sampler's first second
        args.style, args.size, args.frames = str(harness.tiny_model(harness.inputs(args))), "64x48", 6
        args.memory_frames, args.slow_display_ms = 45, 60.0
    w, h = harness.size(args.size)
    style = args.style or registry.default_name()
    spin = args.smooth <= 0 if args.threads_spin == "auto" else args.threads_spin == "on"  # auto: as `live` runs
    opts = InferenceOptions(provider="cpu", workers=1, spin=spin)
    factory = lambda name: StyleEngine(registry.resolve_style(name), opts)

    probe = factory(style)
    model = model_fps(probe, h, w, runs=60, warmup=3)
    config = LiveConfig(source=args.source, size=(w, h), fps=args.fps, headless=True, max_frames=args.frames)
    switcher = StyleSwitcher([style], style, factory)
    controls = LiveControls(smooth=args.smooth)  # as `live` runs (default: off)
    stats = run_live(config, switcher, controls, stages=[("smooth", live_smoothing(controls))]).stats
    source_fps = stats["source_fps"]
    fps_target = 0.85 * min(source_fps, model)
    latency_target = 2 * 1000 / model + 1000 / source_fps
    report = {
        "style": style, "size": args.size, "smooth": args.smooth, "threads_spin": spin, "source": stats["source"],
        "source_fps": source_fps,
        "model_only_fps": round(model, 2),
        "headless": {k: stats[k] for k in ("frames_captured", "frames_processed", "frames_displayed",
                                           "frames_dropped", "fps", "model_fps", "latency_ms", "peak_rss_mb")},
        "targets": {"fps_min": round(fps_target, 2), "fps_ok": stats["fps"] >= fps_target,
                    "p95_latency_max_ms": round(latency_target, 1),
                    "p95_latency_ok": stats["latency_ms"]["p95"] <= latency_target},
    }

    if args.memory_frames:
        display = SlowDisplay(args.slow_display_ms)
        samples: list[float] = []

        config = LiveConfig(source=args.source, size=(w, h), fps=args.fps, headless=False,
                            max_frames=args.memory_frames, loop=True)
        switcher = StyleSwitcher([style], style, factory)
        done = threading.Event()

        def sampler():
            while not done.wait(1.0):
                samples.append(round(rss_mb(), 1))

        t = threading.Thread(target=sampler, daemon=True)
        t.start()
        controls = LiveControls(smooth=args.smooth)
        mem_stats = run_live(config, switcher, controls, stages=[("smooth", live_smoothing(controls))],
                             hardware=Hardware(gui=display)).stats
        done.set()
        warm = samples[len(samples) // 5:] or samples
        report["slow_display"] = {
            "frames_captured": mem_stats["frames_captured"], "frames_displayed": mem_stats["frames_displayed"],
            "display_ms": args.slow_display_ms, "fps": mem_stats["fps"],
            "rss_mb_samples_per_s": samples[:: max(1, len(samples) // 20)],
            "rss_mb_after_warmup_min": min(warm), "rss_mb_max": max(samples),
            "growth_after_warmup_mb": round(max(warm) - min(warm), 1),
            "flat": max(warm) - min(warm) < 20.0,
        }
    harness.emit(report, args)


if __name__ == "__main__":
    main()
