"""Planning a batch: the inputs (files, directories, globs), their output names, and the units
of work (a whole file, or segments cut at keyframes found by demuxing, without decoding).

A segment is a run of packets in decoding order that starts at a keyframe and ends before the
next cut: it holds exactly the frames whose timestamps lie between its cut and the next one.
A keyframe is a clean cut when every packet before it shows earlier and every packet from it
on shows later (no open-GOP picture reaches across it), so segments never share a frame.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
from fractions import Fraction
from pathlib import Path

import av

from realtime_style.errors import InputError
from realtime_style.io.images import VIDEO_SUFFIXES

# Containers whose packets keep their exact timestamps when a segment is cut out of them
# (Ray ships a segment's packets in one of these) and that index their keyframes for a seek.
SEGMENTABLE_FORMATS = ("mov", "mp4", "matroska", "webm")
WARMUP_FRAMES = 8  # frames before a cut the smoother sees first (its history decays to ~3 % in 8 frames)
MIN_AUTO_SEGMENT_S = 10.0  # automatic segments: at least this long (shorter ones cost more in setup than they gain)
MAX_AUTO_SEGMENT_S = 300.0  # ... and at most this long (what a rerun redoes after a failure)


@dataclasses.dataclass(frozen=True)
class Packets:
    """What demuxing the first video stream tells (no decoding): every packet's pts in
    decoding order and which ones are keyframes."""

    pts: list[int]
    keyframe: list[bool]
    time_base: Fraction
    container: str  # the demuxer's format name

    @property
    def frames(self) -> int:
        return len(self.pts)

    def clean_cuts(self) -> list[int]:
        """Decoding positions of keyframes no frame's presentation reaches across."""
        n = len(self.pts)
        suffix_min = [0] * (n + 1)
        suffix_min[n] = math.inf
        for i in range(n - 1, -1, -1):
            suffix_min[i] = min(self.pts[i], suffix_min[i + 1])
        cuts, prefix_max = [], -math.inf
        for i in range(n):
            if self.keyframe[i] and prefix_max < self.pts[i] <= suffix_min[i]:
                cuts.append(i)
            prefix_max = max(prefix_max, self.pts[i])
        return cuts


def scan_packets(path: Path) -> Packets | None:
    """The video packets' timestamps and keyframe flags; None when the file cannot be cut
    (a container that does not keep timestamps, packets without them)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            pts, key = [], []
            for packet in container.demux(stream):
                if not packet.size:  # the demuxer's flush packet
                    continue
                if packet.pts is None:
                    return None
                pts.append(int(packet.pts))
                key.append(bool(packet.is_keyframe))
            formats = set(container.format.name.split(","))
            return Packets(pts, key, Fraction(stream.time_base), container.format.name) \
                if formats & set(SEGMENTABLE_FORMATS) else None
    except av.error.FFmpegError:
        return None  # the unit that converts it names the problem


@dataclasses.dataclass(frozen=True)
class SegmentPlan:
    index: int
    first: int  # decoding position of its first packet (a clean keyframe)
    stop: int  # decoding position after its last packet
    seek: int  # decoding position of the keyframe its decoding starts from (warm-up included)
    start_pts: int
    end_pts: int | None  # the next segment's first pts; None for the last
    warm_pts: int  # the first frame the smoother sees
    frames: int


def auto_segment_seconds(duration_s: float, workers: int) -> float:
    """A file's share of the workers, within 10 s .. 5 min: one worker splits only files over 5
    minutes (for reruns), eight split a 4-minute file into eight."""
    return min(MAX_AUTO_SEGMENT_S, max(MIN_AUTO_SEGMENT_S, duration_s / max(workers, 1)))


def plan_segments(packets: Packets, segment_s: float, warmup: int) -> list[SegmentPlan]:
    """Cut at the first clean keyframe at least ``segment_s`` after the previous cut, unless
    less than half a segment would remain. One segment (the whole file) when nothing fits."""
    n = packets.frames
    if n == 0 or segment_s <= 0:
        return []
    step = segment_s / float(packets.time_base)  # in pts units
    last_pts = max(packets.pts)
    keys = [i for i, k in enumerate(packets.keyframe) if k]
    starts = [0]
    for i in packets.clean_cuts():
        if i == 0:
            continue
        p = packets.pts[i]
        if p - packets.pts[starts[-1]] >= step and last_pts - p >= step / 2:
            starts.append(i)
    ordered = sorted(packets.pts)
    segments = []
    for k, first in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else n
        start_pts = packets.pts[first]
        # the frame ``warmup`` frames before the cut in presentation order, and the keyframe before it
        rank = ordered.index(start_pts)
        warm_pts = ordered[max(0, rank - warmup)] if k else start_pts
        seek = max((i for i in keys if i <= first and packets.pts[i] <= warm_pts), default=0)
        segments.append(SegmentPlan(k, first, stop, seek, start_pts,
                                    packets.pts[stop] if stop < n else None, warm_pts, stop - first))
    return segments


# -- inputs and names ----------------------------------------------------------------------------
@dataclasses.dataclass
class Inputs:
    files: list[Path]
    missing: list[str]  # arguments that named nothing (a path that does not exist, a glob without matches)


def expand_inputs(args: list[str], outdir: Path) -> Inputs:
    """Files as given; directories: their video files (by extension, sorted, not recursing, never
    what lies in ``outdir``); globs (``*``, ``?``, ``[``, ``**``). Each file once, in order."""
    files: list[Path] = []
    seen: set[Path] = set()
    missing: list[str] = []
    out = outdir.resolve()

    def add(path: Path) -> None:
        real = path.resolve()
        if real in seen or out in real.parents:
            return
        seen.add(real)
        files.append(path)

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                            and not p.name.startswith("."))
            for p in videos:
                add(p)
            continue
        if path.exists():
            add(path)
            continue
        if any(c in arg for c in "*?["):
            matches = sorted(glob.glob(arg, recursive=True))
            matches = [Path(m) for m in matches if Path(m).is_file()]
            for p in matches:
                add(p)
            if not matches:
                missing.append(arg)
            continue
        missing.append(arg)
    return Inputs(files, missing)


def assign_names(files: list[Path], recorded: dict[str, str]) -> dict[str, str]:
    """Each input's output name in OUTDIR: the one an earlier run gave it, else ``<stem>.mp4``,
    and ``<stem>-2.mp4``, ``<stem>-3.mp4``, ... in input order when that is taken. Names are
    compared case-insensitively (case-insensitive file systems)."""
    names: dict[str, str] = {}
    taken = {name.lower() for name in recorded.values()}
    for path in files:
        key = input_key(path)
        if key in recorded:
            names[key] = recorded[key]
    for path in files:
        key = input_key(path)
        if key in names:
            continue
        stem, n = path.stem or "video", 1
        name = f"{stem}.mp4"
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}.mp4"
        taken.add(name.lower())
        names[key] = name
    return names


def input_key(path: Path) -> str:
    """How batch.json knows an input: its absolute path."""
    return os.path.abspath(path)


def check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
