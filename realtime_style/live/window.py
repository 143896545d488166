"""The live window: newest stylized frame, an overlay, keys. Runs on the main thread.

The sink thread hands frames over through a newest-wins slot (``realtime_style.latest``);
the main thread's ``pump`` shows the newest one, so a slow display skips frames instead of
queueing them.
``gui`` is OpenCV's highgui by default; tests give a fake (the display is a hardware edge).
"""

from __future__ import annotations

import os
import sys
import time

import cv2
import numpy as np

from realtime_style.errors import StyleError
from realtime_style.io.frames import Frame
from realtime_style.latest import Latest
from realtime_style.live.controls import HELP, LiveControls
from realtime_style.live.stats import LiveCounters


class DisplayError(StyleError):
    pass


def check_display() -> None:
    """Fail early, with advice, where a window cannot open (OpenCV's Qt aborts the process)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError("no display available (DISPLAY is not set); run with --headless "
                           "(add --virtual-cam or --record PATH to use the stylized stream)")
    # OpenCV's bundled Qt ships no fonts and complains on every window; point it at the system's.
    for fonts in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts"):
        if os.path.isdir(fonts):
            os.environ.setdefault("QT_QPA_FONTDIR", fonts)
            break


class Window:
    def __init__(self, title: str, controls: LiveControls, counters: LiveCounters, switcher, status, *,
                 slot: Latest[Frame] | None = None, gui=cv2) -> None:
        self.title = title
        self.controls = controls
        self.counters = counters
        self.switcher = switcher  # n/p change its style
        self.status = status  # () -> dict of overlay fields: style, provider, dropped, message
        self.gui = gui
        self.slot: Latest[Frame] = slot if slot is not None else Latest()  # the sink puts, pump takes
        self.on_quit = lambda: None
        self._shown: Frame | None = None
        self._flash: tuple[str, float] | None = None
        self._fullscreen = False
        try:
            gui.namedWindow(title, getattr(cv2, "WINDOW_NORMAL", 0))
        except cv2.error as exc:
            raise DisplayError(f"cannot open a window ({str(exc).strip().splitlines()[-1]}); "
                               "run with --headless") from exc

    def pump(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for a frame and show it the moment it arrives; then
        let the toolkit draw and read a key."""
        frame = self.slot.take(max(0.0, timeout_s))
        if frame is not None and not self.controls.paused:
            self._shown = frame
            self.gui.imshow(self.title, self._compose(frame))
            now = time.perf_counter()
            self.counters.displayed += 1
            self.counters.display_rate.tick(now)
            self.counters.latency.add(now - frame.captured)
        key = self.gui.waitKey(1)
        message = self.controls.handle_key(key, self.switcher)
        if message:
            self._flash = (message, time.perf_counter() + 2.0)
        if self.controls.fullscreen != self._fullscreen:
            self._fullscreen = self.controls.fullscreen
            self.gui.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN,
                                       cv2.WINDOW_FULLSCREEN if self._fullscreen else cv2.WINDOW_NORMAL)
        if self.controls.quit or self._closed_by_user():
            self.controls.quit = True
            self.on_quit()

    def _closed_by_user(self) -> bool:
        try:
            return self._shown is not None and self.gui.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def _compose(self, frame: Frame) -> np.ndarray:
        out = frame.output if frame.output is not None else frame.rgb
        if self.controls.side_by_side:
            out = np.hstack([frame.rgb, out])
        bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
        if self.controls.overlay:
            draw_overlay(bgr, self._lines())
        return bgr

    def _lines(self) -> list[str]:
        s = self.status()
        c = self.counters
        lines = [
            f"{c.display_rate.rate:5.1f} FPS   model {1000.0 / c.model_rate_ms if c.model_rate_ms else 0:5.1f} FPS   "
            f"latency p50 {c.latency.percentile(50) or 0:.0f} ms",
            f"{s['style']}  [{s['provider']}]  strength {self.controls.strength:.1f}  "
            f"smooth {'on' if self.controls.smooth else 'off'}  "
            f"colour {'kept' if self.controls.preserve_color else 'style'}",
            f"dropped {s['dropped']}",
        ]
        if s.get("message"):
            lines.append(s["message"])
        if self._flash and time.perf_counter() < self._flash[1]:
            lines.append(self._flash[0])
        lines.append(HELP)
        return lines

    def close(self) -> None:
        try:
            self.gui.destroyWindow(self.title)
        except cv2.error:
            pass


def draw_overlay(bgr: np.ndarray, lines: list[str]) -> None:
    """White text on a darkened band, scaled to the frame, drawn in place."""
    scale = max(0.35, min(bgr.shape[1] / 1400.0, 0.8))
    step = int(22 * scale / 0.5)
    band = min(bgr.shape[0], step * len(lines) + 8)
    bgr[:band] = (bgr[:band] * 0.45).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bgr, text, (8, step * (i + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
