"""Where live frames go: the window (through its newest-wins hand-over), a virtual camera,
a recording (the same writer as `convert`). One sink fans out to all of them."""

from __future__ import annotations

import contextlib
import time

import cv2
import numpy as np

from realtime_style.errors import MissingExtra, OutputError
from realtime_style.io.frames import Frame
from realtime_style.latest import Latest
from realtime_style.live.stats import LiveCounters

VIRTUAL_CAM_SIZE = (1280, 720)  # what meeting apps accept everywhere
VIRTUAL_CAM_FPS = 30

HOW_TO_CREATE = {
    "linux": "create one with `sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=realtime-style` "
             "(package v4l2loopback-dkms)",
    "win32": "install OBS Studio and start its Virtual Camera once (or install Unity Capture)",
    "darwin": "install OBS Studio and start its Virtual Camera once",
}


def letterbox(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``rgb`` inside width x height, keeping its aspect, with black bars."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                                             else cv2.INTER_LINEAR)
    return out


class VirtualCamera:
    """pyvirtualcam at a fixed size and rate; ``camera_factory`` replaces it in tests."""

    def __init__(self, size: tuple[int, int] = VIRTUAL_CAM_SIZE, fps: int = VIRTUAL_CAM_FPS,
                 camera_factory=None) -> None:
        import sys

        self.width, self.height = size
        if camera_factory is None:
            try:
                import pyvirtualcam
            except ImportError as exc:
                raise MissingExtra("--virtual-cam needs pyvirtualcam: pip install 'realtime-style[virtualcam]'") \
                    from exc
            camera_factory = lambda w, h, f: pyvirtualcam.Camera(w, h, f, fmt=pyvirtualcam.PixelFormat.RGB)
        try:
            self._cam = camera_factory(self.width, self.height, fps)
        except RuntimeError as exc:
            how = HOW_TO_CREATE.get(sys.platform, "install a virtual camera driver")
            raise OutputError(f"no virtual camera device ({str(exc).strip().splitlines()[0]}); {how}") from exc
        self.device = getattr(self._cam, "device", "virtual camera")

    def send(self, rgb: np.ndarray) -> None:
        self._cam.send(np.ascontiguousarray(letterbox(rgb, self.width, self.height)))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cam.close()


class LiveSink:
    """The pipeline's sink in live mode. ``display`` is the window's hand-over slot (the main
    thread takes from it). Latency is counted here when there is no window (headless: capture
    to sink time); with a window, at the moment it is shown."""

    def __init__(self, counters: LiveCounters, *, display: Latest[Frame] | None = None, recorder=None,
                 virtual_cam=None) -> None:
        self.counters = counters
        self.display, self.recorder, self.virtual_cam = display, recorder, virtual_cam

    def write(self, frame: Frame) -> None:
        out = frame.output if frame.output is not None else frame.rgb
        if self.virtual_cam is not None:
            self.virtual_cam.send(out)
        if self.display is not None:
            self.display.put(frame)
        else:
            now = time.perf_counter()
            self.counters.displayed += 1
            self.counters.display_rate.tick(now)
            self.counters.latency.add(now - frame.captured)
        if self.recorder is not None:
            self.recorder.write(frame)

    def finish(self, trailing: list) -> None:
        try:
            if self.recorder is not None and self.recorder.frames_written:
                self.recorder.finish([])
            elif self.recorder is not None:  # stopped before the first frame: no empty file
                self.recorder.abort()
        finally:
            self._close()

    def abort(self) -> None:
        try:
            if self.recorder is not None:
                self.recorder.abort()
        finally:
            self._close()

    def _close(self) -> None:
        if self.virtual_cam is not None:
            self.virtual_cam.close()
