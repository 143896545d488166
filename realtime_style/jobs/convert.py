"""`convert`: a video file or frame directory through the pipeline into a file or directory."""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Callable

from realtime_style.engine import StyleEngine
from realtime_style.errors import InputError, OutputError, StyleError
from realtime_style.interrupt import Interrupt
from realtime_style.io.frame_dir import FrameDirSink, FrameDirSource
from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.io.video_file import OUTPUT_SUFFIXES, EncodeSettings, VideoFileSink, VideoFileSource
from realtime_style.pipeline import Pipeline, PipelineError, RunStats


@dataclasses.dataclass
class ConvertResult:
    output: Path
    frames: int
    stats: RunStats
    interrupted: bool
    audio_streams: int


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
) -> ConvertResult:
    input_path, output = Path(input_path), Path(output)
    if not input_path.exists():
        raise InputError(f"{input_path} does not exist")
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

    # Every frame of a file is stylized alike: the options' strength and colour (a smoothing
    # stage keeps its own strength).
    fixed = FrameSettings(strength=engine.options.strength, preserve_color=engine.options.preserve_color)

    def stylize(frame: Frame) -> Frame:
        s = frame.settings
        frame.output = engine.stylize(frame.rgb, strength=s.strength, preserve_color=s.preserve_color)
        return frame

    total = min(info.frames, frame_limit) if frame_limit and info.frames else (frame_limit or info.frames)
    pipeline = Pipeline(source, [("engine", stylize, engine.workers), *extra_stages], sink,
                        queue_size=max(queue_size, 2 * engine.workers),
                        frame_limit=frame_limit, on_frame=on_frame, settings=lambda: fixed)
    if on_start:
        on_start(total)
    with Interrupt(on_first=pipeline.stop, on_second=sink.remove_temporary) as interrupt:
        try:
            stats = pipeline.run()
        except PipelineError as exc:
            if isinstance(exc.error, StyleError):
                raise type(exc.error)(f"{exc.error}; nothing was written") from exc.error
            raise exc.error
    return ConvertResult(output, stats.frames_out, stats, interrupt.fired, len(source.audio_streams))
