"""A webcam as a frame source: newest frame only, a watchdog, reconnects.

OpenCV's ``VideoCapture.read`` can block for many seconds when a camera is unplugged, so
reads happen in a reader thread that keeps only the newest frame; ``frames()`` waits for it
with a timeout. A camera silent for ``stall_s`` is released and reopened up to
``reconnects`` times; then the run ends with an error instead of hanging.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from typing import Any, Callable, Iterator

import cv2

from realtime_style.errors import InputError
from realtime_style.io.frames import LIVE_TIME_BASE, Frame
from realtime_style.latest import Latest
from realtime_style.probing import describe_error, run_with_timeout

CaptureFactory = Callable[[int], Any]  # index -> an object with cv2.VideoCapture's methods


def open_capture(index: int):
    """The real camera: V4L2 on Linux, DirectShow on Windows, AVFoundation on macOS.
    OpenCV's own warnings are silenced: a missing camera is reported by us, in one line."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # builds without the logging utilities
        pass
    backend = {"linux": cv2.CAP_V4L2, "win32": cv2.CAP_DSHOW, "darwin": cv2.CAP_AVFOUNDATION}.get(sys.platform,
                                                                                               cv2.CAP_ANY)
    return cv2.VideoCapture(index, backend)


@dataclasses.dataclass(frozen=True)
class Granted:
    width: int
    height: int
    fps: float

    def describe(self) -> str:
        return f"{self.width}x{self.height} at {self.fps:g} fps"


class CameraSource:
    def __init__(self, index: int, *, size: tuple[int, int] | None = None, fps: float | None = None,
                 mirror: bool = False, stall_s: float = 2.0, reconnects: int = 3,
                 open_timeout_s: float = 5.0, capture_factory: CaptureFactory = open_capture,
                 on_note: Callable[[str], None] | None = None) -> None:
        self.index = index
        self.requested_size, self.requested_fps = size, fps
        self.mirror = mirror
        self.stall_s, self.reconnects, self.open_timeout_s = stall_s, reconnects, open_timeout_s
        self._factory = capture_factory
        self._note = on_note or (lambda _m: None)
        self._closed = threading.Event()
        self._reader: _Reader | None = None
        self.granted = self._open()

    @property
    def label(self) -> str:
        return f"camera {self.index}"

    @property
    def width(self) -> int:
        return self.granted.width

    @property
    def height(self) -> int:
        return self.granted.height

    @property
    def fps(self) -> float:
        return self.granted.fps

    def _open(self) -> Granted:
        cap = self._factory(self.index)
        if cap is None or not cap.isOpened():
            raise InputError(f"no camera at index {self.index} (run `realtime-style doctor` to list cameras)")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.requested_size:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
        if self.requested_fps:
            cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        self._reader = _Reader(cap)
        first = self._reader.wait_newer(0, self.open_timeout_s)
        if first is None:
            self._reader.stop()
            raise InputError(f"camera {self.index} opened but sent no frame within {self.open_timeout_s:g} s "
                             "(is another program using it?)")
        h, w = first[1].shape[:2]
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return Granted(w, h, fps if fps > 0 else 30.0)

    def frames(self) -> Iterator[Frame]:
        start = time.perf_counter()
        index, seen = 0, 0
        while not self._closed.is_set():
            got = self._reader.wait_newer(seen, self.stall_s)
            if got is None:
                if self._closed.is_set():
                    return
                self._reconnect()
                seen = 0
                continue
            seen, bgr, captured = got
            rgb = cv2.cvtColor(cv2.flip(bgr, 1) if self.mirror else bgr, cv2.COLOR_BGR2RGB)
            yield Frame(index, rgb, pts=round((captured - start) * LIVE_TIME_BASE.denominator),
                        time_base=LIVE_TIME_BASE, captured=captured)
            index += 1

    def _reconnect(self) -> None:
        why = self._reader.error or f"no frame for {self.stall_s:g} s"
        self._reader.stop()
        for attempt in range(1, self.reconnects + 1):
            self._note(f"camera {self.index} stalled ({why}); reconnecting ({attempt}/{self.reconnects})")
            time.sleep(min(0.5 * attempt, 2.0))
            try:
                self.granted = self._open()
                return
            except InputError as exc:
                why = str(exc)
        raise InputError(f"camera {self.index} stopped delivering frames ({why}); "
                         f"gave up after {self.reconnects} reconnect attempts")

    def close(self) -> None:
        self._closed.set()
        if self._reader:
            self._reader.stop()


class _Reader:
    """Reads a capture in a daemon thread, keeping the newest frame and its time (in a
    newest-wins slot: frames are numbered 1, 2, ... as they are read)."""

    def __init__(self, cap) -> None:
        self.cap = cap
        self.error: str | None = None
        self._slot: Latest[tuple[Any, float]] = Latest()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                ok, bgr = self.cap.read()
            except cv2.error as exc:
                ok, bgr, self.error = False, None, str(exc).strip().splitlines()[-1]
            if not ok or bgr is None:
                failures += 1
                if failures > 3:
                    self.error = self.error or "the camera returned no image"
                    return  # the watchdog notices the silence
                time.sleep(0.01)
                continue
            failures = 0
            self._slot.put((bgr, time.perf_counter()))
        self.cap.release()

    def wait_newer(self, seen: int, timeout: float) -> tuple[int, Any, float] | None:
        """``(number, bgr, captured)`` of the newest frame after number ``seen``, or None if none
        came within ``timeout`` or the reader was stopped."""
        got = self._slot.newer(seen, timeout)
        if got is None or self._slot.closed:
            return None
        number, (bgr, captured) = got
        return number, bgr, captured

    def stop(self) -> None:
        self._stop.set()
        self._slot.close()  # wakes a waiting wait_newer
        if not self._thread.is_alive():
            try:
                self.cap.release()
            except Exception:  # noqa: BLE001 - a vanished device may fail to release
                pass


# -- probing (for `doctor`) ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CameraFound:
    index: int
    width: int
    height: int
    fps: float | None
    backend: str | None


@dataclasses.dataclass(frozen=True)
class CameraFailure:
    index: int
    reason: str


@dataclasses.dataclass(frozen=True)
class CameraReport:
    """The cameras that delivered a frame, those that did not and why; ``probed`` lists the
    indices tried, ``note`` why there were none or where probing stopped."""

    devices: list[CameraFound]
    probed: list[int]
    failed: list[CameraFailure]
    timed_out: bool
    note: str | None

    @classmethod
    def from_error(cls, reason: str) -> CameraReport:
        return cls([], [], [], False, reason)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _camera_candidates(probe_cameras: int) -> tuple[list[int], str | None]:
    """Indices 0 .. probe_cameras-1 worth opening (on Linux: those with a /dev/videoN node)."""
    import glob

    indices = list(range(max(0, int(probe_cameras))))
    if not sys.platform.startswith("linux"):
        return indices, None
    nodes = glob.glob("/dev/video*")
    existing = {int(node[len("/dev/video"):]) for node in nodes if node[len("/dev/video"):].isdigit()}
    chosen = [i for i in indices if i in existing]
    return chosen, None if nodes else "no /dev/video* device nodes"


def _probe_cameras_into(indices: list[int], found: list[CameraFound], failed: list[CameraFailure],
                        done: list[int]) -> None:
    for i in indices:
        cap = None
        try:
            cap = cv2.VideoCapture(i)
            if not cap.isOpened():
                failed.append(CameraFailure(i, "could not open"))
                continue
            ok, frame = cap.read()
            if not ok or frame is None:
                failed.append(CameraFailure(i, "opened but returned no frame"))
                continue
            try:
                fps = float(cap.get(cv2.CAP_PROP_FPS))
            except cv2.error:
                fps = 0.0
            try:
                backend = str(cap.getBackendName())
            except cv2.error:
                backend = None
            found.append(CameraFound(i, int(frame.shape[1]), int(frame.shape[0]),
                                     fps if math.isfinite(fps) else None, backend))
        except Exception as exc:  # noqa: BLE001 - a camera driver can fail in any way; the next index is still tried
            failed.append(CameraFailure(i, describe_error(exc)))
        finally:
            if cap is not None:
                try:
                    cap.release()
                except cv2.error:
                    pass
            done.append(i)


def probe_cameras(probe_cameras: int, timeout_s: float) -> CameraReport:
    """Open cameras 0 .. probe_cameras-1 and read a frame from each, ``timeout_s`` in all:
    a driver that blocks is left behind and the report says which index it held up."""
    indices, note = _camera_candidates(probe_cameras)
    if not indices:
        return CameraReport([], indices, [], False, note or "no camera indices to probe")
    found: list[CameraFound] = []
    failed: list[CameraFailure] = []
    done: list[int] = []
    status, value = run_with_timeout(lambda: _probe_cameras_into(indices, found, failed, done), timeout_s)
    timed_out = status == "timeout"
    if timed_out:
        pending = [i for i in indices if i not in done]
        note = (f"camera probing timed out after {timeout_s:g} s "
                f"(still waiting on index {pending[0] if pending else '?'})")
    elif status == "error":
        note = f"camera probing failed: {describe_error(value)}"
    return CameraReport(list(found), indices, list(failed), timed_out, note)
