"""Video files with PyAV: decode with audio kept aside, encode H.264 with timestamps kept.

The source yields upright RGB frames (a display-matrix rotation is applied to the pixels,
so the output carries none: rotation is handled once) with their original pts, and hands
the audio packets it met along with the next video frame. The sink encodes the stylized
frames at the same pts and time base (variable frame rate survives), remuxes the audio
packets untouched, and writes to a temporary file that is renamed only on success.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import PendingFile
from realtime_style.io.frames import Frame

OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")
_BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709: sRGB content's primaries and transfer


@dataclasses.dataclass(frozen=True)
class FrameWindow:
    """A part of a file to decode (a batch segment), in the video stream's pts units.

    Decoding starts at the keyframe at or before ``seek_pts``; frames before ``warm_pts`` are
    decoded and dropped, frames from ``warm_pts`` up to ``start_pts`` come out marked as warm-up
    (for the smoother; the sink does not write them), and decoding stops at the first frame at
    or after ``end_pts`` (None: the end of the file). The decoder hands frames out in
    presentation order, so every frame before ``end_pts`` has come out by then.
    """

    seek_pts: int
    warm_pts: int
    start_pts: int
    end_pts: int | None = None


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    width: int  # upright, after rotation
    height: int
    fps: Fraction  # average frame rate (the encoder's hint; timestamps carry the truth)
    time_base: Fraction
    frames: int  # the container's count, or an estimate from the duration; 0 if unknown
    rotation: int  # degrees counter-clockwise applied to the decoded pixels


def _open_input(path: Path):
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory; frame directories need image files inside")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    try:
        return av.open(str(path), "r")
    except av.error.FFmpegError as exc:
        raise InputError(f"{path} is not a readable video ({_why(exc)})") from exc


class VideoFileSource:
    def __init__(self, path: str | os.PathLike, *, audio: bool = True, window: FrameWindow | None = None) -> None:
        if window is not None and audio:
            raise ValueError("a window of a file is decoded without its audio (the joiner muxes it once)")
        self.path = Path(path)
        self.window = window
        self._container = _open_input(self.path)
        try:
            if not self._container.streams.video:
                raise InputError(f"{self.path} has no video stream")
            self._video = self._container.streams.video[0]
            self._video.thread_type = "AUTO"
            self._audio = list(self._container.streams.audio) if audio else []
            self.info = self._probe()
        except BaseException:
            self._container.close()
            raise
        self._pending: list = []
        self._generator: Iterator[Frame] | None = None
        self.frames_decoded = 0

    @property
    def audio_streams(self) -> list:
        return self._audio

    def _probe(self) -> VideoInfo:
        v = self._video
        ctx = v.codec_context
        if not ctx.width or not ctx.height:
            raise InputError(f"{self.path}: the video stream has no picture size (undecodable stream)")
        rotation = self._first_frame_rotation()
        fps = v.average_rate or v.guessed_rate or Fraction(25)
        frames = int(v.frames or 0)
        if not frames and v.duration and v.time_base:
            frames = int(round(float(v.duration * v.time_base * fps)))
        w, h = ctx.width, ctx.height
        if rotation in (90, 270):
            w, h = h, w
        return VideoInfo(w, h, Fraction(fps), v.time_base or Fraction(1, 90000), frames, rotation)

    def _first_frame_rotation(self) -> int:
        """Decode the first frame in a container of its own: it proves the stream decodes
        and tells the rotation. Every PyAV generator is closed before its container: one
        left suspended is finalized later, in any thread, on freed FFmpeg state."""
        container = av.open(str(self.path), "r")
        frames = container.decode(video=0)
        try:
            frame = next(frames, None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.path}: the video stream cannot be decoded ({_why(exc)})") from exc
        finally:
            frames.close()
            container.close()
        if frame is None:
            raise InputError(f"{self.path}: the video stream has no decodable frames")
        return int(round(getattr(frame, "rotation", 0) or 0)) % 360

    def frames(self) -> Iterator[Frame]:
        """One pass over the file. ``close`` closes this generator before the container."""
        self._generator = self._frames()
        return self._generator

    def _frames(self) -> Iterator[Frame]:
        streams = [self._video, *self._audio]
        audio_ids = {s.index for s in self._audio}
        window = self.window
        try:
            if window is not None:
                self._container.seek(window.seek_pts, stream=self._video, backward=True, any_frame=False)
            for packet in self._container.demux(streams):
                if packet.stream.index in audio_ids:
                    if packet.dts is not None:  # the demuxer's final flush packet is not data
                        self._pending.append(packet)
                    continue
                for vf in packet.decode():  # the video flush packet drains the decoder
                    if window is None:
                        yield self._to_frame(vf)
                        continue
                    if vf.pts is None or vf.pts < window.warm_pts:
                        continue  # decoded from an earlier keyframe only to reach the window
                    if window.end_pts is not None and vf.pts >= window.end_pts:
                        return  # the next segment's first frame: every frame of this one is out
                    frame = self._to_frame(vf)
                    frame.warmup = vf.pts < window.start_pts
                    yield frame
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{self.path}: decoding failed after {self.frames_decoded} good frames ({_why(exc)})"
            ) from exc

    def _to_frame(self, vf) -> Frame:
        rgb = vf.to_ndarray(format="rgb24")
        if self.info.rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self.info.rotation // 90))
        attachments, self._pending = self._pending, []
        frame = Frame(self.frames_decoded, rgb, pts=vf.pts, time_base=vf.time_base or self._video.time_base,
                      duration=getattr(vf, "duration", None) or None, attachments=attachments)
        self.frames_decoded += 1
        return frame

    def trailing_attachments(self) -> list:
        rest, self._pending = self._pending, []
        return rest

    def close(self) -> None:
        if self._generator is not None:
            self._generator.close()  # unwinds the demux/decode generators while FFmpeg state lives
            self._generator = None
        with contextlib.suppress(Exception):
            self._container.close()


@dataclasses.dataclass(frozen=True)
class EncodeSettings:
    codec: str = "auto"  # auto: h264_nvenc when ``nvenc`` says it works and the size allows, else libx264
    # x264's own default: half the file of CRF 18 for 2 dB (benchmarks/RESULTS.md, "`convert`'s default
    # encoder settings", issue 17)
    crf: int = 23
    preset: str = "superfast"  # speed over size: the encoder shares the cores with the model
    nvenc: bool = False  # NVENC encoded a test frame on this machine (see io.codecs.nvenc_usable)

    def codec_for(self, width: int, height: int) -> str:
        """The encoder to use for frames of this size."""
        if self.codec != "auto":
            return self.codec
        # NVENC takes the encoding off the CPU, but needs even sides for 4:2:0.
        return "h264_nvenc" if self.nvenc and not (width % 2 or height % 2) else "libx264"


class VideoFileSink:
    """Encodes stylized frames into ``target`` (MP4/MKV/MOV by extension), atomically."""

    def __init__(self, target: str | os.PathLike, info: VideoInfo, settings: EncodeSettings = EncodeSettings(),
                 audio_streams: list | None = None) -> None:
        self.target = Path(target)
        suffix = self.target.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise OutputError(f"{self.target}: write .mp4, .mkv or .mov (or give a directory for PNG frames)")
        self._pending = PendingFile(self.target)
        self.frames_written = 0
        self._last_pts: int | None = None
        try:
            self._container = open_output(self._pending.path, suffix)
            self._stream = self._add_video(info, settings)
            self._audio_map = add_audio_streams(self._container, audio_streams or [], suffix)
        except BaseException:
            self.abort()
            raise

    def _add_video(self, info: VideoInfo, settings: EncodeSettings):
        odd = info.width % 2 or info.height % 2
        codec = self.codec = settings.codec_for(info.width, info.height)
        if odd and "nvenc" in codec:
            raise OutputError(f"{codec} cannot encode the odd size {info.width}x{info.height}; use libx264")
        try:
            stream = self._container.add_stream(codec, rate=info.fps)
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"encoder {codec!r} is not available ({_why(exc)})") from exc
        stream.width, stream.height = info.width, info.height
        # 4:2:0 needs even sides; odd sizes keep their exact size in 4:4:4 instead.
        stream.pix_fmt = "yuv444p" if odd else "yuv420p"
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        ctx = stream.codec_context
        # YUV matrix BT.601, limited range: what OpenCV's fast RGB->I420 conversion produces (faster
        # than swscale: benchmarks/RESULTS.md, section
        # "2026-11-21 · `convert` throughput against model-only speed (issue 3)"); tagged, so players
        # convert back right.
        ctx.colorspace, ctx.color_range = Colorspace.ITU601, ColorRange.MPEG
        ctx.color_primaries, ctx.color_trc = _BT709, _BT709
        if "nvenc" in codec:
            stream.options = {"rc": "vbr", "cq": str(settings.crf), "preset": "p4"}
        elif codec in ("libx264", "libx265"):
            stream.options = {"crf": str(settings.crf), "preset": settings.preset}
        return stream

    def write(self, frame: Frame) -> None:
        if frame.warmup:
            return  # decoded before a segment's cut only to warm the smoother up
        img = frame.output if frame.output is not None else frame.rgb
        if self._stream.pix_fmt == "yuv420p":
            vf = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:  # odd sizes: 4:4:4 through swscale, same matrix and range
            vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(
                format=self._stream.pix_fmt, dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG)
        vf.colorspace, vf.color_range = Colorspace.ITU601, ColorRange.MPEG
        pts = frame.pts if frame.pts is not None else frame.index
        if self._last_pts is not None and pts <= self._last_pts:  # broken or missing timestamps
            pts = self._last_pts + 1
        vf.pts, vf.time_base = pts, self._stream.codec_context.time_base
        if frame.duration:
            vf.duration = frame.duration  # keeps the last frame's duration (and so the stream's)
        self._last_pts = pts
        packet = None
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
            self._mux_attachments(frame.attachments)
        except av.error.FFmpegError as exc:
            where = f"; packet pts {packet.pts} dts {packet.dts}" if packet is not None else ""
            raise OutputError(
                f"writing {self.target} failed after {self.frames_written} frames ({_why(exc)}{where})"
            ) from exc
        except OSError as exc:
            raise OutputError(f"writing {self.target} failed: {exc.strerror or exc}") from exc
        self.frames_written += 1

    def _mux_attachments(self, packets: list) -> None:
        for packet in packets:
            out = self._audio_map.get(packet.stream.index)
            if out is not None:
                packet.stream = out
                self._container.mux(packet)

    def finish(self, trailing: list) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._mux_attachments(trailing)
            self._container.close()
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise OutputError(f"finishing {self.target} failed ({_why(exc)})") from exc
        if self.frames_written == 0:
            self.abort()
            raise InputError("no frames were decoded; nothing was written")
        self._pending.commit()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self._pending.discard()

    def remove_temporary(self) -> None:
        """For an immediate exit from another thread: delete the temporary file without
        touching the encoder, which the sink thread may be using at this moment."""
        self._pending.discard()


def open_output(path: str | os.PathLike, suffix: str):
    """A PyAV container for writing, its format by the target's extension (MP4 unless .mov/.mkv)."""
    return av.open(str(path), "w", format={".mov": "mov", ".mkv": "matroska"}.get(suffix.lower(), "mp4"))


def add_audio_streams(container, streams: list, suffix: str, *, hint: str = "write .mkv, or pass --no-audio",
                      source: str = "") -> dict:
    """An output stream copied from each audio stream's template, by the input stream's index;
    OutputError (saying ``hint``) for audio the container cannot hold."""
    mapping = {}
    for src in streams:
        try:
            mapping[src.index] = container.add_stream_from_template(src)
        except (av.error.FFmpegError, ValueError) as exc:
            of = f" of {source}" if source else ""
            raise OutputError(f"the {src.codec_context.name} audio{of} cannot go into a {suffix} file ({_why(exc)}); "
                              f"{hint}") from exc
    return mapping


def probe(path: str | os.PathLike) -> VideoInfo:
    source = VideoFileSource(path)
    source.close()
    return source.info


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().splitlines()[0][:200] if text else type(exc).__name__
