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
from pathlib import Path

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
    quiet_qt_fonts()


FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts",
             "/usr/local/share/fonts", "/usr/X11R6/lib/X11/fonts")


def quiet_qt_fonts(candidates: tuple[str, ...] = FONT_DIRS) -> None:
    """OpenCV's bundled Qt ships no fonts, yet ``import cv2`` points QT_QPA_FONTDIR at its own
    (missing) ``cv2/qt/fonts``, so every window prints "QFontDatabase: Cannot find font
    directory" lines. Point it at a real font directory instead; where there is none, turn
    off Qt's uncategorised warnings (which is where those lines come from)."""
    current = os.environ.get("QT_QPA_FONTDIR")
    if current and os.path.isdir(current) and any(Path(current).iterdir()):
        return
    for fonts in candidates:
        if os.path.isdir(fonts):
            os.environ["QT_QPA_FONTDIR"] = fonts
            return
    rules = os.environ.get("QT_LOGGING_RULES")
    os.environ["QT_LOGGING_RULES"] = f"{rules};default.warning=false" if rules else "default.warning=false"


def fit_to_screen(size: tuple[int, int], screen: tuple[int, int] | None) -> tuple[int, int]:
    """The window size for an image of ``size`` (w, h): its own size, scaled down (keeping
    the aspect ratio) only to fit 90 % of the screen's width and 85 % of its height."""
    w, h = size
    if screen is None:
        return w, h
    scale = min(1.0, 0.9 * screen[0] / w, 0.85 * screen[1] / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


class Window:
    def __init__(self, title: str, controls: LiveControls, counters: LiveCounters, switcher, status, *,
                 slot: Latest[Frame] | None = None, gui=cv2, screen: tuple[int, int] | None = None) -> None:
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
        self.screen = screen  # (w, h) of the screen, None: unknown (the window opens at the frame's size)
        self._sized_for: tuple[int, int] | None = None  # the composed image size the window was sized for
        # Resizable, aspect kept, and no Qt toolbar or status bar (they cost a third of a small window).
        flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        try:
            gui.namedWindow(title, flags)
        except cv2.error as exc:
            raise DisplayError(f"cannot open a window ({str(exc).strip().splitlines()[-1]}); "
                               "run with --headless") from exc

    def pump(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for a frame and show it the moment it arrives; then
        let the toolkit draw and read a key."""
        frame = self.slot.take(max(0.0, timeout_s))
        if frame is not None and not self.controls.paused:
            self._shown = frame
            image = self._compose(frame)
            self.gui.imshow(self.title, image)
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

    def _size_window(self, size: tuple[int, int]) -> None:
        """Open at the image's size (scaled to fit the screen); again when that size changes
        (side by side on or off), never while the user's own size for this image stands."""
        if size == self._sized_for or self._fullscreen:
            return
        self._sized_for = size
        self.gui.resizeWindow(self.title, *fit_to_screen(size, self.screen))

    def _display_scale(self, width: int) -> float:
        """Window pixels per image pixel, as the window is now."""
        try:
            rect = self.gui.getWindowImageRect(self.title)
        except (cv2.error, AttributeError):
            rect = None
        if rect and rect[2] > 0:
            return rect[2] / width
        return fit_to_screen((width, 1), self.screen)[0] / width if self.screen else 1.0

    def _compose(self, frame: Frame) -> np.ndarray:
        out = frame.output if frame.output is not None else frame.rgb
        if self.controls.side_by_side:
            out = np.hstack([frame.rgb, out])
        self._size_window((out.shape[1], out.shape[0]))
        bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
        if self.controls.overlay:
            draw_overlay(bgr, self._lines(), self._display_scale(bgr.shape[1]))
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


def overlay_scale(lines: list[str], width: int, display_scale: float = 1.0) -> float:
    """The font scale, in image pixels, that shows the overlay at a readable size in a window
    ``display_scale`` window pixels per image pixel wide: it grows with the window (0.45 at
    up to ~500 px wide, 0.9 from ~1000 px) and shrinks only so the longest line fits."""
    on_screen = max(0.45, min(width * display_scale / 1100.0, 0.9))
    scale = on_screen / max(display_scale, 1e-6)
    widest = max((cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][0] for t in lines), default=1)
    return max(0.25, min(scale, (width - 16) / widest))


def draw_overlay(bgr: np.ndarray, lines: list[str], display_scale: float = 1.0) -> None:
    """White text on a darkened band, drawn in place, sized for the window (``overlay_scale``)."""
    scale = overlay_scale(lines, bgr.shape[1], display_scale)
    step = max(8, int(22 * scale / 0.5))
    thickness = max(1, round(scale * 1.6))
    band = min(bgr.shape[0], step * len(lines) + 8)
    bgr[:band] = (bgr[:band] * 0.45).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bgr, text, (8, step * (i + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
