"""`convert`: a video file or frame directory through the pipeline into a file or directory."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Callable

from realtime_style.engine import StyleEngine
from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import InputError, OutputError, StyleError
from realtime_style.interrupt import Interrupt
from realtime_style.io.frame_dir import FrameDirSink, FrameDirSource
from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.io.images import IMAGE_SUFFIXES
from realtime_style.io.video_file import OUTPUT_SUFFIXES, EncodeSettings, VideoFileSink, VideoFileSource
from realtime_style.pipeline import Pipeline, PipelineError, RunStats
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother


@dataclasses.dataclass
class ConvertResult:
    output: Path
    frames: int
    stats: RunStats
    interrupted: bool
    audio_streams: int
    provider: str = ""  # the engine's provider (cpu, cuda, tensorrt)
    bytes: int = 0  # the file written (a video output), or every frame file (a directory)
    seconds: float = 0.0  # the video's duration by its frame rate (0: unknown, or a directory)

    @property
    def kbit_s(self) -> float:
        """The whole file's bitrate (video and audio), 0 when the duration is unknown."""
        return self.bytes * 8 / self.seconds / 1000 if self.seconds else 0.0


@dataclasses.dataclass(frozen=True)
class ConvertOptions:
    input: str  # a video file or a directory of frames
    output: str  # a .mp4/.mkv/.mov file, or a directory for PNG frames
    engine: EngineSpec = EngineSpec()
    codec: str = "auto"  # auto: h264_nvenc when the network runs on a GPU and NVENC works, else libx264
    crf: int = EncodeSettings.crf
    preset: str = "superfast"
    audio: bool = True
    frame_limit: int = 0
    fps: float = 25.0  # for a frame-directory input
    overwrite: bool = False
    smooth: float = DEFAULT_STRENGTH  # temporal smoothing; 0 = exactly the per-frame output


def open_source(path: Path, *, audio: bool, fps: Fraction):
    if path.is_dir():
        return FrameDirSource(path, fps)
    return VideoFileSource(path, audio=audio)


def check_output(input_path: Path, output: Path, overwrite: bool) -> bool:
    """Validate OUTPUT before any work; returns True when it is a frame directory."""
    as_dir = output.suffix.lower() not in OUTPUT_SUFFIXES
    if output.exists() and output.resolve() == input_path.resolve():
        raise OutputError("OUTPUT is the INPUT; choose another name")
    if as_dir and output.exists() and not output.is_dir():
        raise OutputError(f"{output} exists and is not a directory")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} exists; pass --overwrite to replace it")
    if as_dir and output.suffix and not str(output).endswith(("/", os.sep)):
        raise OutputError(f"{output}: videos are written as .mp4, .mkv or .mov; for PNG frames give a directory "
                          "name without an extension (or end it with /)")
    return as_dir


def convert(
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    engine: StyleEngine,
    *,
    settings: EncodeSettings = EncodeSettings(),
    audio: bool = True,
    frame_limit: int = 0,
    overwrite: bool = False,
    fps: Fraction = Fraction(25),
    extra_stages: list[tuple[str, Callable[[Frame], Frame]]] = (),
    on_start: Callable[[int], None] | None = None,
    on_frame: Callable[[Frame], None] | None = None,
    queue_size: int = 4,
    interruptible: bool = True,
) -> ConvertResult:
    input_path, output = Path(input_path), Path(output)
    if not input_path.exists():
        raise InputError(f"{input_path} does not exist")
    if input_path.is_file() and input_path.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"{input_path} is a still image; stylize it with `realtime-style image {input_path} "
                         f"-o {input_path.stem}_styled{input_path.suffix}` (`convert` takes a video file or a "
                         "directory of frames)")
    as_dir = check_output(input_path, output, overwrite)
    source = open_source(input_path, audio=audio and not as_dir, fps=fps)
    try:
        info = source.info
        if as_dir:
            sink = FrameDirSink(output)
        else:
            sink = VideoFileSink(output, info, settings, source.audio_streams)
    except BaseException:
        source.close()
        raise

    total = min(info.frames, frame_limit) if frame_limit and info.frames else (frame_limit or info.frames)
    if on_start:
        on_start(total)
    stats, interrupted = run_pipeline(source, sink, engine, extra_stages=extra_stages, frame_limit=frame_limit,
                                      on_frame=on_frame, queue_size=queue_size, interruptible=interruptible)
    if as_dir:
        size = sum(p.stat().st_size for p in output.iterdir() if p.is_file()) if output.is_dir() else 0
        seconds = 0.0
    else:
        size = output.stat().st_size if output.exists() else 0
        seconds = stats.frames_out / float(info.fps) if info.fps else 0.0
    return ConvertResult(output, stats.frames_out, stats, interrupted, len(source.audio_streams),
                         bytes=size, seconds=seconds)


def run_pipeline(source, sink, engine: StyleEngine, *,
                 extra_stages: list[tuple[str, Callable[[Frame], Frame]]] = (), frame_limit: int = 0,
                 on_frame: Callable[[Frame], None] | None = None, queue_size: int = 4,
                 interruptible: bool = True) -> tuple[RunStats, bool]:
    """A source through the engine (and ``extra_stages``) into a sink: the one stylization loop
    of ``convert`` and of a batch segment. Returns the run's stats and whether a first Ctrl-C
    stopped it (``interruptible``: this thread takes Ctrl-C; a batch worker leaves it to its
    driver)."""
    # Every frame of a file is stylized alike: the options' strength and colour (a smoothing
    # stage keeps its own strength).
    fixed = FrameSettings(strength=engine.options.strength, preserve_color=engine.options.preserve_color)

    def stylize(frame: Frame) -> Frame:
        s = frame.settings
        frame.output = engine.stylize(frame.rgb, strength=s.strength, preserve_color=s.preserve_color)
        return frame

    pipeline = Pipeline(source, [("engine", stylize, engine.workers), *extra_stages], sink,
                        queue_size=max(queue_size, 2 * engine.workers),
                        frame_limit=frame_limit, on_frame=on_frame, settings=lambda: fixed)
    guard = Interrupt(on_first=pipeline.stop, on_second=sink.remove_temporary) if interruptible else \
        contextlib.nullcontext()
    with guard:
        try:
            stats = pipeline.run()
        except PipelineError as exc:
            if isinstance(exc.error, StyleError):
                raise type(exc.error)(f"{exc.error}; nothing was written") from exc.error
            raise exc.error from None
    return stats, bool(interruptible and guard.fired)


def _ignore(*_args) -> None:
    pass


def run(options: ConvertOptions, *, on_note: Callable[[str], None] = _ignore,
        on_start: Callable[[int], None] | None = None,
        on_frame: Callable[[Frame], None] | None = None) -> ConvertResult:
    """``convert`` as the command runs it: the engine (one frame size), the encoder choice,
    the smoothing stage, then the pipeline. Notes arrive through ``on_note`` as they happen."""
    check_codec(options.codec)
    engine = open_engine(options.engine.with_options(one_size=True), on_note)
    settings = EncodeSettings(codec=options.codec, crf=options.crf, preset=options.preset,
                              nvenc=use_nvenc(options.codec, engine.provider, on_note))
    result = convert(options.input, options.output, engine, settings=settings, audio=options.audio,
                     frame_limit=options.frame_limit, overwrite=options.overwrite,
                     fps=Fraction(options.fps).limit_denominator(1001), on_start=on_start, on_frame=on_frame,
                     extra_stages=smoothing_stages(options.smooth))
    return dataclasses.replace(result, provider=engine.provider)


def check_codec(codec: str) -> None:
    """An NVENC encoder asked for by name must work here: say so before any work (it used to
    fail after 0 frames with "Operation not permitted")."""
    if "nvenc" not in codec:
        return
    from realtime_style.io.codecs import nvenc_usable

    ok, why = nvenc_usable()
    if not ok:
        raise OutputError(f"--codec {codec}: NVENC cannot encode on this machine ({why}); use --codec libx264, "
                          "or --codec auto (NVENC where it works)")


def use_nvenc(codec: str, provider: str, on_note: Callable[[str], None] = _ignore) -> bool:
    """For ``--codec auto``: NVENC when the network runs on a GPU and NVENC encodes a test frame."""
    from realtime_style.machine import gpu_present

    if codec != "auto" or provider == "cpu" or not gpu_present():
        return False
    from realtime_style.io.codecs import nvenc_usable

    ok, why = nvenc_usable()
    if not ok:
        on_note(f"encoding with libx264: NVENC is not usable ({why})")
    return ok


def smoothing_stages(strength: float) -> list[tuple[str, Callable[[Frame], Frame]]]:
    """The temporal stage after the engine, or none at strength 0 (exactly the per-frame output)."""
    if strength <= 0:
        return []
    return [("smooth", Smoother(strength))]
