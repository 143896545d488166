"""Whether a preview window can open here: a display server, and an OpenCV built with a GUI."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

from realtime_style.probing import describe_error


@dataclasses.dataclass(frozen=True)
class OpenCvGui:
    """The ``GUI:`` section of ``cv2.getBuildInformation()``; ``error`` if OpenCV does not import."""

    line: str | None = None  # e.g. "GUI:                           QT5"
    backend: str | None = None  # e.g. "QT5", "GTK3", "NONE"
    details: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def has_gui(self) -> bool | None:
        """False for a headless build, None when the build information did not say."""
        return None if self.backend is None else self.backend.upper() not in ("NONE", "NO")


@dataclasses.dataclass(frozen=True)
class DisplayReport:
    """``display``/``wayland_display`` are read on Linux and BSD (``server_checked``); elsewhere
    a display is assumed and ``note`` says so. ``error`` is set only by :meth:`from_error`."""

    available: bool
    server_checked: bool = False
    display: str | None = None
    wayland_display: str | None = None
    note: str | None = None
    gui: OpenCvGui = dataclasses.field(default_factory=OpenCvGui)
    error: str | None = None

    @classmethod
    def from_error(cls, reason: str) -> DisplayReport:
        return cls(False, error=reason)

    @property
    def preview_possible(self) -> bool:
        return self.available and self.gui.has_gui is not False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"available": self.available}
        if self.error is not None:
            out["error"] = self.error
            return out
        if self.server_checked:
            out["display"] = self.display
            out["wayland_display"] = self.wayland_display
        else:
            out["note"] = self.note
        if self.gui.error is not None:
            out["opencv_error"] = self.gui.error
        out["opencv_gui"] = self.gui.line
        out["opencv_gui_backend"] = self.gui.backend
        out["opencv_gui_details"] = list(self.gui.details)
        out["opencv_has_gui"] = self.gui.has_gui
        out["preview_possible"] = self.preview_possible
        return out


def opencv_gui() -> OpenCvGui:
    try:
        import cv2
    except ImportError as exc:
        return OpenCvGui(error=describe_error(exc))
    lines = cv2.getBuildInformation().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("GUI:"):
            details = []
            indent = len(line) - len(line.lstrip())
            for sub in lines[i + 1 :]:
                if not sub.strip() or len(sub) - len(sub.lstrip()) <= indent:
                    break
                details.append(" ".join(sub.split()))
            return OpenCvGui(line.strip(), line.split(":", 1)[1].strip() or None, details)
    return OpenCvGui()


def screen_size() -> tuple[int, int] | None:
    """(width, height) of the default X screen in pixels, or None where it cannot be read
    (no X display, no libX11, another platform): callers then assume the frame fits."""
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform) or not os.environ.get("DISPLAY"):
        return None
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        xlib = ctypes.CDLL(name)
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (xlib.XDefaultScreen, xlib.XCloseDisplay):
            fn.argtypes = [ctypes.c_void_p]
        for fn in (xlib.XDisplayWidth, xlib.XDisplayHeight):
            fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
        dpy = xlib.XOpenDisplay(None)
        if not dpy:
            return None
        try:
            screen = xlib.XDefaultScreen(dpy)
            size = int(xlib.XDisplayWidth(dpy, screen)), int(xlib.XDisplayHeight(dpy, screen))
        finally:
            xlib.XCloseDisplay(dpy)
    except (OSError, AttributeError):
        return None
    return size if size[0] > 0 and size[1] > 0 else None


def probe_display() -> DisplayReport:
    gui = opencv_gui()
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        display = os.environ.get("DISPLAY") or None
        wayland = os.environ.get("WAYLAND_DISPLAY") or None
        return DisplayReport(bool(display or wayland), True, display, wayland, gui=gui)
    return DisplayReport(True, note=f"assumed available on {sys.platform}", gui=gui)
