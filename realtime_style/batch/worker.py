"""One unit of batch work, done by a worker that opened its engine once: a whole file through
``convert``'s own path, or one segment through the same source, pipeline and sink classes
(decoded from its keyframe, the smoother warmed up on the frames before its cut, encoded with
the same settings, no audio: the joiner muxes the source's audio once)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from realtime_style.engine.factory import EngineSpec
from realtime_style.errors import InputError
from realtime_style.io.video_file import EncodeSettings, FrameWindow


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What every worker needs: how to open its engine and how to encode."""

    engine: EngineSpec = EngineSpec()
    codec: str = "auto"
    crf: int = EncodeSettings.crf
    preset: str = "superfast"
    smooth: float = 0.8
    audio: bool = True  # whole-file units keep the audio (segmented files get theirs from the joiner)


@dataclasses.dataclass(frozen=True)
class Unit:
    id: str  # "<input key>#<segment>" or "<input key>#whole"
    key: str  # the input's key in batch.json
    source: str  # the input file (on a Ray cluster: the name its bytes arrive under)
    target: str  # the file the result is written to (a temporary name in OUTDIR/.batch)
    segment: int | None = None  # None: the whole file, through convert's path
    window: FrameWindow | None = None
    frames: int = 0  # a segment's frame count, from demuxing
    first: int = 0  # decoding positions of the packets a segment needs (Ray ships those)
    stop: int = 0
    seek: int = 0


@dataclasses.dataclass
class UnitResult:
    unit_id: str
    frames: int
    wall_s: float
    worker: str
    codec: str = ""
    provider: str = ""


class Worker:
    """Holds one engine for the life of the process (or Ray actor) and works through units."""

    def __init__(self, spec: WorkerSpec, name: str, on_note: Callable[[str], None] | None = None) -> None:
        from realtime_style.engine.factory import open_engine
        from realtime_style.jobs.convert import check_codec, use_nvenc

        check_codec(spec.codec)
        self.spec = spec
        self.name = name
        self.engine = open_engine(spec.engine.with_options(one_size=True), on_note or (lambda _m: None))
        self.settings = EncodeSettings(codec=spec.codec, crf=spec.crf, preset=spec.preset,
                                       nvenc=use_nvenc(spec.codec, self.engine.provider))

    def run(self, unit: Unit, *, source: str | None = None, target: str | None = None,
            on_frame: Callable[[], None] | None = None) -> UnitResult:
        """Do ``unit``, reading ``source`` (default: the unit's) and writing ``target``."""
        from realtime_style.jobs.convert import convert, run_pipeline, smoothing_stages

        source, target = source or unit.source, target or unit.target
        tick = (lambda _f: on_frame()) if on_frame else None
        t0 = time.perf_counter()
        if unit.segment is None:
            result = convert(source, target, self.engine, settings=self.settings, audio=self.spec.audio,
                             overwrite=True, extra_stages=smoothing_stages(self.spec.smooth), on_frame=tick,
                             interruptible=False)
            return UnitResult(unit.id, result.frames, time.perf_counter() - t0, self.name,
                              provider=self.engine.provider)
        from realtime_style.io.video_file import VideoFileSink, VideoFileSource

        src = VideoFileSource(source, audio=False, window=unit.window)
        try:
            sink = VideoFileSink(target, src.info, self.settings)
        except BaseException:
            src.close()
            raise
        written = (lambda f: f.warmup or on_frame()) if on_frame else None
        run_pipeline(src, sink, self.engine, extra_stages=smoothing_stages(self.spec.smooth), on_frame=written,
                     interruptible=False)
        if sink.frames_written != unit.frames:
            Path(target).unlink(missing_ok=True)
            raise InputError(f"{unit.source}: segment {unit.segment + 1} decoded to {sink.frames_written} frames "
                             f"where the file has {unit.frames} packets (a damaged stream?); "
                             "rerun with --segment-seconds 0 to convert it in one piece")
        return UnitResult(unit.id, sink.frames_written, time.perf_counter() - t0, self.name, codec=sink.codec,
                          provider=self.engine.provider)
