"""Small video clips generated with PyAV for the `convert` tests, and the probes that compare
an output with its input (decoded frames, timestamps, audio packets).

Every clip is built from scratch: H.264 (or MJPEG) video with a distinctive, asymmetric
picture per frame, optionally an AAC audio track, a display rotation, or irregular
timestamps (variable frame rate).
"""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_CONTAINER = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".m4a": "mp4"}


@functools.lru_cache(maxsize=8)
def _gradient(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (40 + 170 * x / max(width - 1, 1)).astype(np.uint8)
    img[..., 1] = (40 + 170 * y / max(height - 1, 1)).astype(np.uint8)
    img.flags.writeable = False
    return img


def picture(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i``: smooth gradients plus blocks that make the picture asymmetric (so a wrong
    rotation or flip is obvious) and a bar that moves from frame to frame."""
    img = _gradient(width, height).copy()
    img[..., 2] = (60 + (i * 7) % 120)
    img[: height // 3, : width // 4] = (250, 250, 250)  # top-left: white block
    img[height - height // 4:, width // 2:] = (10, 10, 10)  # bottom-right: black block
    col = (i * 3) % max(width - 4, 1)
    img[:, col:col + 4] = (255, 0, 0)
    return img


def _audio_stream(container, rate: int = 16000):
    stream = container.add_stream("aac", rate=rate)
    stream.layout = "mono"
    return stream


def _encode_audio(container, stream, seconds: float, rate: int = 16000) -> None:
    samples = int(seconds * rate)
    t = np.arange(samples) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    chunk = 1024
    for start in range(0, samples, chunk):
        piece = wave[start:start + chunk]
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def make_clip(
    path: Path,
    *,
    frames: int = 24,
    width: int = 64,
    height: int = 48,
    rate: int = 25,
    codec: str = "libx264",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: bool = False,
    rotation: int | None = None,
    crf: int | None = None,
    noise: int = 0,
    gop: int | None = None,
    bframes: int = 0,
) -> list[np.ndarray]:
    """Write a clip; returns the RGB pictures that went in (before the codec's losses).

    ``pts`` (with ``time_base``) gives every frame's timestamp: irregular steps make a
    variable-frame-rate clip. ``rotation`` stores a display matrix on the video stream.
    ``noise`` adds that much random grain: frames that do not compress to almost nothing.
    ``gop`` (libx264): a keyframe every that many frames; ``bframes``: B-frames between them.
    """
    path = Path(path)
    pictures = [picture(i, width, height) for i in range(frames)]
    if noise:
        rng = np.random.default_rng(0)
        grain = rng.integers(-noise, noise + 1, (8, height, width, 3))
        pictures = [np.clip(p.astype(np.int16) + grain[i % 8], 0, 255).astype(np.uint8) for i, p in enumerate(pictures)]
    container = av.open(str(path), "w", format=_CONTAINER[path.suffix.lower()])
    try:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else ("yuv444p" if width % 2 or height % 2 else "yuv420p")
        tb = time_base or Fraction(1, rate)
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if codec == "libx264":
            stream.options = {"crf": str(crf if crf is not None else 18), "preset": "veryfast" if bframes else
                              "ultrafast", "bf": str(bframes)}
            if gop:
                stream.options = {**stream.options, "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        astream = _audio_stream(container) if audio else None
        stamps = pts if pts is not None else list(range(frames))
        assert len(stamps) == frames
        for img, stamp in zip(pictures, stamps):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=stream.pix_fmt)
            vf.pts, vf.time_base = stamp, tb
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if astream is not None:
            seconds = float((stamps[-1] + 1) * tb) if frames else 1.0
            _encode_audio(container, astream, seconds)
    finally:
        container.close()
    return pictures


def make_audio_only(path: Path, seconds: float = 1.0) -> None:
    container = av.open(str(path), "w", format=_CONTAINER[Path(path).suffix.lower()])
    try:
        _encode_audio(container, _audio_stream(container), seconds)
    finally:
        container.close()


def corrupt_packets(path: Path, indices: list[int]) -> None:
    """Overwrite the payload of the given video packets with zeros, in place, leaving the
    container's structure intact (the demuxer still finds every packet)."""
    path = Path(path)
    with av.open(str(path)) as container:
        packets = [(p.pos, bytes(p)) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    for i in indices:
        pos, payload = packets[i]
        at = data.find(payload[:64], max(pos or 0, 0))
        assert at >= 0, f"packet {i} not found in {path}"
        data[at:at + len(payload)] = bytes(len(payload))
    path.write_bytes(bytes(data))


# -- reading back -------------------------------------------------------------------------------
@dataclasses.dataclass
class Decoded:
    count: int
    width: int  # as decoded (before any display rotation)
    height: int
    rotation: int  # frame.rotation of the first frame
    seconds: list[float]  # each frame's pts * time_base, in decoding order
    first_seconds: float | None  # the earliest timestamp of any stream (video or audio)
    pictures: list[np.ndarray] | None
    average_rate: Fraction | None
    codec: str
    pix_fmt: str


def decode(path: Path, *, pictures: bool = False) -> Decoded:
    """Decode every video frame of ``path`` (the first video stream)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, rate = stream.codec_context.name, stream.average_rate
        seconds, pics, rotation, size, pix_fmt = [], [] if pictures else None, None, (0, 0), ""
        for frame in container.decode(stream):
            if rotation is None:
                rotation = int(round(frame.rotation or 0)) % 360
                size, pix_fmt = (frame.width, frame.height), frame.format.name
            seconds.append(float(frame.pts * frame.time_base) if frame.pts is not None else float("nan"))
            if pictures:
                pics.append(frame.to_ndarray(format="rgb24"))
    return Decoded(len(seconds), size[0], size[1], rotation or 0, seconds, first_timestamp(path), pics, rate,
                   codec, pix_fmt)


def first_timestamp(path: Path) -> float | None:
    """The earliest packet timestamp over the video and audio streams, in seconds."""
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio]
        best = None
        for packet in container.demux(streams):
            if packet.pts is None or not packet.size:  # the demuxer's flush packets
                continue
            t = float(packet.pts * packet.time_base)
            best = t if best is None else min(best, t)
    return best


def audio_packets(path: Path) -> list[list[bytes]]:
    """Each audio stream's packets (bytes), in file order; the demuxer's flush packets left out."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        out: dict[int, list[bytes]] = {s.index: [] for s in streams}
        if streams:
            for packet in container.demux(streams):
                if packet.size:  # not the demuxer's flush packets
                    out[packet.stream.index].append(bytes(packet))
    return [out[s] for s in sorted(out)]


def video_packet_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)
