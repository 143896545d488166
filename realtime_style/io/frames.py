"""What travels through the pipeline: one frame and what must come out with it."""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction
from typing import Any

import numpy as np

LIVE_TIME_BASE = Fraction(1, 1000)  # live sources stamp frames in milliseconds since the start


@dataclasses.dataclass(frozen=True)
class FrameSettings:
    """How one frame is to be stylized, fixed when it enters the pipeline: a change of the
    live controls mid-run applies to the frames captured after it, and no stage reads
    settings that another thread may be changing."""

    strength: float = 1.0  # blend of the stylized picture over the source (0..1)
    preserve_color: bool = False  # keep the source's colours
    smooth: float | None = None  # temporal smoothing strength (0 = off); None: the stage's own
    style: str | None = None  # the style to run (live style switching); None: the one engine there is


@dataclasses.dataclass
class Frame:
    index: int  # 0-based position in the source
    rgb: np.ndarray  # the source picture, RGB uint8 (H, W, 3), upright
    pts: int | None = None  # presentation timestamp in ``time_base`` units (video files)
    time_base: Fraction | None = None
    duration: int | None = None  # in ``time_base`` units, when the source knows it
    name: str | None = None  # the source frame's file name (frame directories)
    captured: float = dataclasses.field(default_factory=time.perf_counter)
    output: np.ndarray | None = None  # the stylized picture, once the engine has run
    settings: FrameSettings | None = None  # set as it enters the pipeline; None: each stage's defaults
    # Things the sink writes next to this frame, untouched by the stages (audio packets).
    attachments: list[Any] = dataclasses.field(default_factory=list)
    # Decoded only to warm up the temporal stages before a cut (a batch segment starts here):
    # it goes through the engine and the smoother, and the sink does not write it.
    warmup: bool = False

    @property
    def seconds(self) -> float | None:
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)
