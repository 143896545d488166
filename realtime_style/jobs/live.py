"""`live`: wire a live source, the engine, the outputs and the window into one pipeline.

    source (camera thread, newest frame) -> mailbox (one slot) -> engine (one frame in
    flight) -> [temporal stages] -> sink (virtual camera, recording, window hand-over)
    -> window on the main thread

The pipeline is the one `convert` uses, in its ``latest_only`` mode. The keys change the
``LiveControls`` and the ``StyleSwitcher`` on the main thread; each frame takes a snapshot
of them (``FrameSettings``: strength, colour, smoothing, style) as it enters the pipeline,
and the stages read only that: nothing is set on a shared engine or smoother.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import write_bytes_atomic
from realtime_style.interrupt import Interrupt
from realtime_style.io.frames import LIVE_TIME_BASE, Frame
from realtime_style.latest import Latest
from realtime_style.live.controls import HELP, LiveControls
from realtime_style.live.outputs import LiveSink, VirtualCamera
from realtime_style.live.stats import LiveCounters, ema, peak_rss_mb
from realtime_style.live.styles import StyleSwitcher
from realtime_style.live.window import Window, check_display
from realtime_style.models.registry import style_label
from realtime_style.pipeline import Pipeline, PipelineError, RunStats


@dataclasses.dataclass
class LiveConfig:
    source: str = "0"
    size: tuple[int, int] | None = None  # (width, height)
    fps: float | None = None
    loop: bool = False
    mirror: bool = False
    headless: bool = False
    max_frames: int = 0
    duration_s: float = 0.0
    stats_path: Path | None = None
    virtual_cam: bool = False
    record: Path | None = None
    overwrite: bool = False
    engine: EngineSpec = EngineSpec()  # the first style, and how every style is run
    side_by_side: bool = False
    smooth: float | None = None  # None: default_live_smoothing() for the provider that loaded


@dataclasses.dataclass(frozen=True)
class Hardware:
    """The hardware edges, replaceable in tests: camera, window toolkit (and the screen's
    size), virtual camera."""

    capture_factory: Callable | None = None
    gui: object | None = None
    virtual_camera_factory: Callable | None = None
    screen_size: Callable[[], tuple[int, int] | None] | None = None


@dataclasses.dataclass
class LiveResult:
    stats: dict
    interrupted: bool  # Ctrl-C (exit 130) rather than q / the end of the source
    recorded: int


def open_live_source(config: LiveConfig, hardware: Hardware, on_note: Callable[[str], None]):
    spec = config.source
    if spec == "synthetic":
        from realtime_style.io.live_sources import SyntheticSource

        return SyntheticSource(config.size or (640, 360), config.fps or 30.0, mirror=config.mirror)
    if spec.isdigit():
        from realtime_style.io.camera import CameraSource, open_capture

        return CameraSource(int(spec), size=config.size or (640, 360), fps=config.fps, mirror=config.mirror,
                            capture_factory=hardware.capture_factory or open_capture, on_note=on_note)
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(f"--source {spec!r}: no such file or directory (give a camera index, a video file, "
                         "a frame directory or 'synthetic')")
    from realtime_style.io.live_sources import ReplaySource
    from realtime_style.jobs.convert import open_source

    fps = Fraction(config.fps).limit_denominator(1001) if config.fps else Fraction(25)
    return ReplaySource(path, lambda p: open_source(p, audio=False, fps=fps), loop=config.loop,
                        size=config.size, mirror=config.mirror)


def run_live(config: LiveConfig, switcher: StyleSwitcher, controls: LiveControls, *,
             stages: list[tuple[str, Callable[[Frame], Frame]]] = (), hardware: Hardware = Hardware(),
             on_note: Callable[[str], None] = lambda _m: None) -> LiveResult:
    if not config.headless:
        if hardware.gui is None:
            check_display()
    if config.record is not None:
        _check_record(config.record, config.overwrite)
    counters = LiveCounters()
    stylize = live_engine_stage(switcher, counters)
    source = open_live_source(config, hardware, on_note)
    window = recorder = vcam = None
    try:
        size = (source.width, source.height)
        on_note(f"source: {source.label}, {size[0]}x{size[1]} at {source.fps:g} fps")
        switcher.engine.warmup(size[1], size[0])  # the first frame is not slow
        if config.virtual_cam:
            vcam = VirtualCamera(camera_factory=hardware.virtual_camera_factory)
            on_note(f"virtual camera: {vcam.device}, {vcam.width}x{vcam.height}")
        if config.record is not None:
            recorder = _recorder(config.record, size, source.fps)
        display: Latest[Frame] | None = None if config.headless else Latest()  # sink -> window
        sink = LiveSink(counters, display=display, recorder=recorder, virtual_cam=vcam)
        pipeline = Pipeline(source, [("engine", stylize), *stages], sink, frame_limit=config.max_frames,
                            latest_only=True, settings=lambda: controls.snapshot(switcher.current))
        if display is not None:
            import cv2

            from realtime_style.io.display import screen_size

            window = Window("realtime-style", controls, counters, switcher,
                            functools.partial(_status, switcher, pipeline.stats, counters), slot=display,
                            gui=hardware.gui or cv2, screen=(hardware.screen_size or screen_size)())
            on_note(f"keys: {HELP}")
    except BaseException:
        for thing in (vcam, recorder):
            if thing is not None:
                (thing.abort if thing is recorder else thing.close)()
        source.close()
        raise
    started = time.perf_counter()

    def idle(seconds: float) -> None:
        if config.duration_s and time.perf_counter() - started >= config.duration_s:
            pipeline.stop()
        if window is not None:
            window.pump(seconds)
        else:
            time.sleep(seconds)

    if window is not None:
        window.on_quit = pipeline.stop
    with Interrupt(on_first=pipeline.stop, on_second=recorder.remove_temporary if recorder else None) as interrupt:
        try:
            stats = pipeline.run(on_idle=idle)
        except PipelineError as exc:
            raise exc.error from None
        finally:
            if window is not None:
                window.close()
    report = _report(stats, counters, switcher, source)
    if config.stats_path is not None:
        write_bytes_atomic(config.stats_path, (json.dumps(report, indent=2) + "\n").encode())
    return LiveResult(report, interrupt.fired, recorder.frames_written if recorder else 0)


def run(config: LiveConfig, *, on_note: Callable[[str], None] = lambda _m: None,
        hardware: Hardware = Hardware()) -> LiveResult:
    """``live`` as the command runs it: the style switcher over every registered style (engines
    built alike), the smoothing default for the provider that loaded, the window controls."""
    from realtime_style.models import registry
    from realtime_style.temporal.smoother import DEFAULT_STRENGTH

    # Smoothing asked for from the start shares the CPU with the network: its threads then
    # sleep instead of spinning while they wait (measured in benchmarks/RESULTS.md, section
    # "2026-11-22 · Smoothing, third round: a finer flow started from the last one, and the cost floor (issue 6)").
    # Fixed here, so every style loaded later is built the same way.
    spec = config.engine.with_options(workers=1, one_size=True, spin=not config.smooth)
    switcher = StyleSwitcher(registry.names(), config.engine.style or registry.default_name(),
                             lambda name: open_engine(dataclasses.replace(spec, style=name), on_note))
    smooth = config.smooth
    if smooth is None:
        smooth = default_live_smoothing(switcher.engine.providers_active)
    controls = LiveControls(strength=spec.options.strength, preserve_color=spec.options.preserve_color,
                            side_by_side=config.side_by_side, smooth=smooth, smooth_on_value=smooth or DEFAULT_STRENGTH)
    return run_live(config, switcher, controls, stages=[("smooth", live_smoothing(controls))], hardware=hardware,
                    on_note=on_note)


def live_engine_stage(switcher: StyleSwitcher, counters: LiveCounters) -> Callable[[Frame], Frame]:
    """The engine stage of a live run: each frame through the engine of the style its settings
    name, at its own strength and colour (all fixed when it was captured)."""

    def stage(frame: Frame) -> Frame:
        settings = frame.settings
        engine = switcher.engine_for(settings.style)
        frame.output = engine.stylize(frame.rgb, strength=settings.strength, preserve_color=settings.preserve_color)
        counters.infer_s += engine.last_model_s
        counters.inferred += 1
        ms = engine.last_model_s * 1000.0
        counters.model_rate_ms = ema(counters.model_rate_ms, ms, 0.1)
        return frame

    return stage


def default_live_smoothing(providers_active: list[str]) -> float:
    """Live smoothing when the user did not choose: on where the network runs on a GPU (the
    smoother then works on the CPU beside it, off the critical path), off on the CPU, where it
    competes with the network for the cores and raises the capture-to-display latency; the
    ``s`` key turns it on either way. Measured in benchmarks/RESULTS.md, sections
    "2026-11-21 · Live with smoothing on the CPU (issues 5/6)" and
    "2026-11-22 · Smoothing, third round: a finer flow started from the last one, and the cost floor (issue 6)"."""
    from realtime_style.engine.providers import GPU_PROVIDERS
    from realtime_style.temporal.smoother import DEFAULT_STRENGTH

    return DEFAULT_STRENGTH if providers_active and providers_active[0] in GPU_PROVIDERS else 0.0


def live_smoothing(controls: LiveControls | None = None) -> Callable[[Frame], Frame]:
    """The temporal stage of a live run: a smoother that follows each frame's settings
    (``FrameSettings.smooth``, the ``s`` key's state when the frame was captured). The stage
    owns its smoother; nothing else changes it. ``controls``, if given, only sets the
    strength for a frame that carries no settings (a live run's frames all do)."""
    from realtime_style.temporal.smoother import Smoother

    return Smoother(controls.smooth if controls is not None else 0.0)


def _check_record(path: Path, overwrite: bool) -> None:
    from realtime_style.io.video_file import OUTPUT_SUFFIXES

    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise OutputError(f"--record {path}: write .mp4, .mkv or .mov")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")


def _recorder(path: Path, size: tuple[int, int], fps: float):
    from realtime_style.io.video_file import VideoFileSink, VideoInfo

    rate = Fraction(fps).limit_denominator(1001)
    return VideoFileSink(path, VideoInfo(size[0], size[1], rate, LIVE_TIME_BASE, 0, 0))


def _status(switcher: StyleSwitcher, stats: RunStats, counters: LiveCounters) -> dict:
    return {"style": style_label(switcher.current) + (f" (loading {switcher.loading})" if switcher.loading else ""),
            "provider": getattr(switcher.engine, "provider", "?"),
            "dropped": max(0, stats.frames_in - counters.displayed - 1),
            "message": switcher.message if not switcher.loading else ""}


def _report(stats: RunStats, counters: LiveCounters, switcher: StyleSwitcher, source) -> dict:
    engine_stage = next(s for s in stats.stages if s.name == "engine")
    lat = counters.latency
    return {
        "frames_captured": stats.frames_in,
        "frames_processed": engine_stage.frames,
        "frames_displayed": counters.displayed,
        "frames_dropped": max(0, stats.frames_in - counters.displayed),
        "dropped_before_model": stats.frames_dropped,
        "fps": round(counters.displayed / stats.wall_s, 2) if stats.wall_s > 0 else 0.0,
        "model_fps": round(counters.model_fps(), 2),
        "latency_ms": {"p50": lat.percentile(50), "p95": lat.percentile(95), "p99": lat.percentile(99)},
        "peak_rss_mb": peak_rss_mb(),
        "provider": getattr(switcher.engine, "provider", "?"),
        "cpu_threads_spin": getattr(getattr(switcher.engine, "options", None), "spin", True),
        "size": f"{source.width}x{source.height}",
        "source": source.label,
        "source_fps": round(float(source.fps), 3),
        "style": style_label(switcher.current),
        "wall_s": round(stats.wall_s, 3),
        "stages_ms_per_frame": {s.name: round(s.ms_per_frame, 2) for s in stats.stages},
    }

