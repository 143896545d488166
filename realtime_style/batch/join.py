"""Joining a file's segments: their video packets remuxed in order with their own timestamps
(the source's), the source's audio muxed once, untouched, into one file written atomically.

Each segment was encoded from its own keyframe, so its first packets' decoding timestamps
(B-frame delay) start before the previous segment's last ones: those are moved just past it,
never past their own presentation time, so the joined stream's dts rises monotonically and
every pts stays exactly the source's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import time
from pathlib import Path
from typing import Iterator

import av

from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import PendingFile
from realtime_style.io.video_file import add_audio_streams, open_output


@dataclasses.dataclass
class JoinResult:
    frames: int
    audio_streams: int
    bytes: int
    wall_s: float


def _video_packets(segments: list[Path], state: dict) -> Iterator[tuple[float, int, object]]:
    last_dts = None
    extradata = None
    for seg in segments:
        with av.open(str(seg)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            if extradata is None:
                extradata = ctx.extradata
            elif ctx.extradata != extradata:
                raise OutputError(f"{seg.name} was encoded with other codec headers than the first segment (workers "
                                  "with different encoders?); pass --codec libx264, or --segment-seconds 0")
            tb = stream.time_base
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                dts = packet.dts if packet.dts is not None else packet.pts
                if last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1
                if dts > packet.pts:
                    raise OutputError(f"{seg.name}: cannot place packet pts {packet.pts} after dts {last_dts}; "
                                      "pass --segment-seconds 0 for this file")
                packet.dts = dts
                last_dts = dts
                state["frames"] += 1
                yield float(dts * tb), 0, packet


def _audio_packets(container, streams) -> Iterator[tuple[float, int, object]]:
    if not streams:
        return
    for packet in container.demux(streams):
        if packet.dts is None:  # the demuxer's final flush packet is not data
            continue
        yield float(packet.dts * packet.time_base), 1, packet


def join(segments: list[Path], source: Path, target: Path, *, audio: bool = True) -> JoinResult:
    t0 = time.perf_counter()
    pending = PendingFile(target)
    out = src = None
    try:
        src = av.open(str(source))
        with av.open(str(segments[0])) as first:
            template = first.streams.video[0]
            out = open_output(pending.path, target.suffix)
            vout = out.add_stream_from_template(template)
            vout.time_base = template.time_base
        audio_in = list(src.streams.audio) if audio else []
        audio_map = add_audio_streams(out, audio_in, target.suffix, hint="pass --no-audio", source=str(source))
        state = {"frames": 0}
        merged = heapq.merge(_video_packets(segments, state), _audio_packets(src, audio_in),
                             key=lambda item: (item[0], item[1]))
        for _t, kind, packet in merged:
            packet.stream = vout if kind == 0 else audio_map[packet.stream.index]
            out.mux(packet)
        out.close()
        out = None
    except BaseException as exc:
        if out is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                out.close()
        pending.discard()
        if isinstance(exc, av.error.FFmpegError):
            raise InputError(f"joining the segments of {source} failed ({exc})") from exc
        raise
    finally:
        if src is not None:
            src.close()
    pending.commit()
    return JoinResult(state["frames"], len(audio_in), target.stat().st_size, time.perf_counter() - t0)
