"""Which encoders and decoders PyAV's FFmpeg has here, and whether NVENC really encodes.

An encoder being built in says nothing about the driver: NVENC is only usable when a test
frame actually encodes, which runs under a timeout (a GPU driver can hang).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from typing import Any, Iterator

from realtime_style.machine import probe_gpus
from realtime_style.probing import describe_error, run_with_timeout

ENCODERS = (
    "libx264",
    "libx265",
    "h264_nvenc",
    "hevc_nvenc",
    "libvpx-vp9",
    "libsvtav1",
    "aac",
)
DECODERS = ("h264", "hevc", "vp9", "av1")

# NVENC refuses very small frames on some GPUs (minimum width is ~145 px for
# H.264 on several generations), so the usability test uses a safe size.
_NVENC_TEST_SIZE = 256


@dataclasses.dataclass(frozen=True)
class CodecReport:
    """Encoder and decoder availability by name, and NVENC's verdict with its reason.
    ``error`` says why nothing could be checked (PyAV does not import, or the probe failed)."""

    encoders: dict[str, bool]
    decoders: dict[str, bool]
    nvenc_usable: bool
    nvenc_reason: str
    error: str | None = None

    @classmethod
    def from_error(cls, reason: str) -> CodecReport:
        return cls({}, {}, False, reason, reason)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.error is None:
            data.pop("error")
        return data


def _pyav_import_error() -> str | None:
    """Why PyAV does not import, or None when it does."""
    try:
        importlib.import_module("av")
    except ImportError as exc:
        return describe_error(exc)
    return None


def has_codec(name: str, mode: str) -> bool:
    """Whether PyAV's FFmpeg has encoder (``mode="w"``) or decoder (``"r"``) ``name``."""
    try:
        import av
    except ImportError:
        return False
    try:
        av.codec.Codec(name, mode)
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


def _nvenc_smoke_test() -> None:
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("h264_nvenc", "w")
    ctx.width = _NVENC_TEST_SIZE
    ctx.height = _NVENC_TEST_SIZE
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.framerate = Fraction(30, 1)
    ctx.open()
    frame = av.VideoFrame(_NVENC_TEST_SIZE, _NVENC_TEST_SIZE, "yuv420p")
    for plane in frame.planes:
        try:
            plane.update(bytes(plane.buffer_size))
        except ValueError:  # a padded plane: encode it as allocated
            pass
    frame.pts = 0
    ctx.encode(frame)
    ctx.encode(None)


@contextlib.contextmanager
def _ffmpeg_errors_logged() -> Iterator[None]:
    """Enable FFmpeg error logging for a while, so PyAV exceptions carry the real reason
    (e.g. "Cannot load libcuda.so.1"); the previous level is restored."""
    try:
        import av.logging
    except ImportError:
        yield
        return
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        yield
    finally:
        av.logging.set_level(previous)


def _nvenc_check(built_in: bool, gpu_found: bool, timeout_s: float) -> tuple[bool, str]:
    if not built_in:
        return False, "h264_nvenc is not built into PyAV's FFmpeg"
    if not gpu_found:
        return False, "no NVIDIA GPU detected (nvidia-smi)"
    # Generic fd capture (it lives beside ONNX Runtime's log parsing): FFmpeg's own complaints
    # must not reach the terminal, nor stdout under `doctor --json`.
    from realtime_style.engine.ortlog import CapturedOutput

    with CapturedOutput(), _ffmpeg_errors_logged():
        status, value = run_with_timeout(_nvenc_smoke_test, timeout_s)
    if status == "ok":
        return True, "encoded a test frame"
    if status == "timeout":
        return False, f"timed out after {timeout_s:g} s"
    return False, describe_error(value)


def nvenc_usable(timeout_s: float = 10.0) -> tuple[bool, str]:
    """Whether NVENC really encodes here (built in, a GPU present, a test frame encoded), and why."""
    return _nvenc_check(has_codec("h264_nvenc", "w"), bool(probe_gpus(timeout_s).devices), timeout_s)


def probe_codecs(gpu_found: bool, timeout_s: float) -> CodecReport:
    """Every name in ENCODERS and DECODERS checked; the NVENC test only when ``gpu_found``."""
    encoders = {name: has_codec(name, "w") for name in ENCODERS}
    decoders = {name: has_codec(name, "r") for name in DECODERS}
    usable, reason = _nvenc_check(encoders["h264_nvenc"], gpu_found, timeout_s)
    return CodecReport(encoders, decoders, usable, reason, _pyav_import_error())
