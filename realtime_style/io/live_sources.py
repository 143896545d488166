"""Sources for `live` besides a webcam: a file or frame directory played *as a camera*
(paced at its frame rate, optionally looping) and a synthetic moving scene.

Like a camera, they produce frames on the wall clock whether or not anyone keeps up: the
live pipeline's mailbox drops what the model cannot take. Frames are stamped in
milliseconds since the start (``LIVE_TIME_BASE``) so a recording keeps real time.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from realtime_style.errors import InputError
from realtime_style.io.frames import LIVE_TIME_BASE, Frame
from realtime_style.testcard import card_image


def _stamp(index: int, rgb: np.ndarray, start: float, mirror: bool) -> Frame:
    now = time.perf_counter()
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    return Frame(index, rgb, pts=round((now - start) * LIVE_TIME_BASE.denominator), time_base=LIVE_TIME_BASE,
                 captured=now)


class _Paced:
    """Shared clock logic: frame ``i`` is due at ``start + i / fps``; a late source skips
    the sleep (it never bursts to catch up: due times restart from a late frame)."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.closed = threading.Event()

    def wait_until(self, due: float) -> float:
        delay = due - time.perf_counter()
        if delay > 0:
            self.closed.wait(delay)
        return max(due, time.perf_counter() - self.interval / 2)

    def close(self) -> None:
        self.closed.set()


class ReplaySource:
    """A video file or frame directory played as a camera."""

    def __init__(self, path: str | Path, open_source: Callable[[Path], object], *, loop: bool = False,
                 size: tuple[int, int] | None = None, mirror: bool = False) -> None:
        self.path = Path(path)
        self._open = open_source
        self.loop, self.size_wanted, self.mirror = loop, size, mirror
        self._inner = open_source(self.path)
        info = self._inner.info
        self.fps = float(info.fps) if info.fps else 25.0
        self._clock = _Paced(self.fps)
        self.width, self.height = size or (info.width, info.height)
        self.label = self.path.name

    def frames(self) -> Iterator[Frame]:
        start = due = time.perf_counter()
        index = 0
        while not self._clock.closed.is_set():
            produced = 0
            for frame in self._inner.frames():
                if self._clock.closed.is_set():
                    return
                due = self._clock.wait_until(due) + self._clock.interval
                rgb = frame.rgb
                if (rgb.shape[1], rgb.shape[0]) != (self.width, self.height):
                    rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
                yield _stamp(index, rgb, start, self.mirror)
                index += 1
                produced += 1
            if not self.loop:
                return
            if produced == 0:
                raise InputError(f"{self.path} has no frames to play")
            self._inner.close()
            self._inner = self._open(self.path)

    def close(self) -> None:
        self._clock.close()
        self._inner.close()


class SyntheticSource:
    """A moving test scene the project draws: a textured card panning and zooming slowly,
    with shapes crossing it (occlusions) -- deterministic, no camera needed."""

    def __init__(self, size: tuple[int, int] = (640, 360), fps: float = 30.0, mirror: bool = False,
                 seed: int = 0) -> None:
        self.width, self.height = size
        if self.width < 16 or self.height < 16:
            raise InputError("the synthetic scene needs at least 16x16 pixels")
        self.fps = fps
        self.mirror = mirror
        self.label = "synthetic"
        self._clock = _Paced(fps)
        self._backdrop = card_image(self.height * 2, self.width * 2, seed)

    def render(self, index: int) -> np.ndarray:
        t = index / self.fps
        h, w = self.height, self.width
        zoom = 1.0 + 0.15 * math.sin(t * 0.4)
        cx = w * (1.0 + 0.35 * math.sin(t * 0.5))
        cy = h * (1.0 + 0.3 * math.sin(t * 0.37 + 1.0))
        m = np.array([[zoom, 0.0, w / 2 - cx * zoom], [0.0, zoom, h / 2 - cy * zoom]], np.float32)
        img = cv2.warpAffine(self._backdrop, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        r = max(4, min(h, w) // 8)
        x = int((w + 2 * r) * ((t * 0.15) % 1.0)) - r
        cv2.circle(img, (x, h // 2 + int(h * 0.2 * math.sin(t * 2))), r, (240, 200, 40), -1, cv2.LINE_AA)
        y = int((h + 2 * r) * ((t * 0.11 + 0.5) % 1.0)) - r
        cv2.rectangle(img, (w // 3, y), (w // 3 + r, y + r), (30, 60, 220), -1)
        return img

    def frames(self) -> Iterator[Frame]:
        start = due = time.perf_counter()
        index = 0
        while not self._clock.closed.is_set():
            due = self._clock.wait_until(due) + self._clock.interval
            yield _stamp(index, self.render(index), start, self.mirror)
            index += 1

    def close(self) -> None:
        self._clock.close()

