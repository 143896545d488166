"""One browser client's live session: its frames through the shared engine and its own smoother.

    page (JPEG, id) -> decode (a worker thread) -> newest-wins slot -> Pipeline(latest_only):
    engine stage (the pool's engine for the frame's style, through the fair gate) -> the
    client's Smoother -> sink: JPEG encode -> back to the event loop -> page

Each frame takes a ``FrameSettings`` snapshot of the client's settings as it arrives, so a
change applies to the frames after it; the stages read only that (as in `live`). The
pipeline preserves order, so when frame N goes out, every earlier frame that has not is known
dropped (newer frames replaced it): the page gets those credits back. Closing a session
closes its slot: the pipeline ends, its threads finish, and nothing of it is left.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from typing import Callable

import cv2
import numpy as np

from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.latest import Latest
from realtime_style.live.stats import LatencyHistogram, RateMeter, ema
from realtime_style.pipeline import Pipeline, PipelineError
from realtime_style.serve.engines import EnginePool
from realtime_style.serve.protocol import (
    CLOSE_TOO_BIG,
    MAX_PIXELS,
    ClientSettings,
    ProtocolError,
    pack_reply,
)
from realtime_style.temporal.smoother import Smoother

JPEG_QUALITY = 85

Send = Callable[[object], None]  # bytes (a frame) or a dict (JSON); called from any thread
SendLater = Callable[[float, dict], None]  # (seconds from now, a JSON message)
EMA = 0.2  # weight of the newest sample in the model-time and send-time estimates
RELEASE_MARGIN_S = 0.003


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's frame header, read before decoding it (a few bytes can
    claim a picture of gigabytes); ProtocolError if it is not a JPEG."""
    if data[:3] != b"\xff\xd8\xff":
        raise ProtocolError("frame is not a JPEG")
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise ProtocolError("frame is a broken JPEG")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                break
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + length
    raise ProtocolError("frame is a broken JPEG (no frame header)")


def decode_frame(data: bytes, mirror: bool = False) -> np.ndarray:
    """A page's JPEG as an RGB uint8 picture (flipped left-right with ``mirror``)."""
    w, h = jpeg_size(data)
    if w < 1 or h < 1:
        raise ProtocolError("frame has no pixels")
    if w * h > MAX_PIXELS:
        raise ProtocolError(f"frame of {w}x{h} is larger than 1920x1080", CLOSE_TOO_BIG)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ProtocolError("frame is a broken JPEG")
    return cv2.cvtColor(cv2.flip(bgr, 1) if mirror else bgr, cv2.COLOR_BGR2RGB)


def encode_frame(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 picture
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


class _SlotSource:
    """The pipeline's source: frames as the page's messages put them in the slot."""

    def __init__(self, slot: Latest[Frame]) -> None:
        self._slot = slot

    def frames(self):
        while True:
            frame = self._slot.take()
            if frame is None:  # closed
                return
            yield frame

    def close(self) -> None:
        self._slot.close()


class _ReplySink:
    def __init__(self, session: "ClientSession") -> None:
        self._session = session

    def write(self, frame: Frame) -> None:
        self._session._deliver(frame)

    def finish(self, _attachments: list) -> None:
        pass

    def abort(self) -> None:
        pass


@dataclasses.dataclass
class SessionCounters:
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    latency: LatencyHistogram = dataclasses.field(default_factory=LatencyHistogram)
    rate: RateMeter = dataclasses.field(default_factory=lambda: RateMeter(60))
    last_out: float = 0.0
    size: str = ""


class ClientSession:
    def __init__(self, pool: EnginePool, settings: ClientSettings, send: Send, *, smooth_on: float,
                 send_later: SendLater | None = None,
                 on_end: Callable[["ClientSession", BaseException | None], None] = lambda _s, _e: None) -> None:
        self.id = secrets.token_hex(4)
        self.pool = pool
        self.settings = settings
        self.smooth_on = smooth_on
        self.started = time.time()
        self.counters = SessionCounters()
        # Alone on the engine: each frame's credit goes back while it is still at the engine
        # (protocol.py), at the model's time per frame less the page's time to send one.
        self.release_early = False
        self._model_s = 0.0  # estimates (EMA): inference time per frame ...
        self._send_s = 0.0  # ... and release sent -> the next frame received, and how much that varies
        self._send_dev = 0.0
        self._released_at: float | None = None
        self._send = send
        self._send_later = send_later
        self._on_end = on_end
        self._slot: Latest[Frame] = Latest()
        self._lock = threading.Lock()
        self._pending: set[int] = set()  # ids received and neither sent back nor known dropped
        self._pipeline = Pipeline(_SlotSource(self._slot), [("engine", self._stylize), ("smooth", Smoother(smooth_on))],
                                  _ReplySink(self), latest_only=True)
        self._thread = threading.Thread(target=self._run, name=f"studio-{self.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def receive(self, frame_id: int, rgb: np.ndarray) -> None:
        """A decoded frame from the page (any thread); the settings it is stylized with are
        the ones in force now."""
        s = self.settings
        if self._released_at is not None:
            sample = min(1.0, time.perf_counter() - self._released_at)
            self._send_dev = ema(self._send_dev, abs(sample - self._send_s), EMA) if self._send_s else 0.0
            self._send_s = ema(self._send_s, sample, EMA)
            self._released_at = None
        frame = Frame(index=frame_id, rgb=rgb, settings=FrameSettings(
            strength=s.strength, preserve_color=s.preserve_color, smooth=s.smooth, style=s.style))
        with self._lock:
            self._pending.add(frame_id)
            self.counters.frames_in += 1
            self.counters.size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        self._slot.put(frame)

    def close(self) -> None:
        """End the session: the pipeline finishes the frame in hand and stops."""
        self._pipeline.stop()
        self._slot.close()

    def join(self, timeout: float = 10.0) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the pipeline's side (its threads) --------------------------------------------------------
    def _stylize(self, frame: Frame) -> Frame:
        s = frame.settings
        engine = self.pool.get(s.style)
        with self.pool.gate:
            start = time.perf_counter()
            if self.release_early and self._send_later is not None and self._model_s:
                # Early enough that the next frame is nearly always here when the engine frees:
                # a frame late by a little idles the engine, one early by a little only waits.
                delay = max(0.0, self._model_s - self._send_s - 2.5 * self._send_dev - RELEASE_MARGIN_S)
                self._send_later(delay, {"type": "release", "id": frame.index})
                self._released_at = start + delay
            frame.output = engine.stylize(frame.rgb, strength=s.strength, preserve_color=s.preserve_color)
            self._model_s = ema(self._model_s, time.perf_counter() - start, EMA)
        return frame

    def _deliver(self, frame: Frame) -> None:
        data = encode_frame(frame.output)
        now = time.perf_counter()
        server_s = now - frame.captured
        with self._lock:
            dropped = sorted(i for i in self._pending if i < frame.index)
            self._pending.difference_update(dropped)
            self._pending.discard(frame.index)
            c = self.counters
            c.frames_out += 1
            c.frames_dropped += len(dropped)
            c.latency.add(server_s)
            c.rate.tick(now)
            c.last_out = now
        if dropped:
            self._send({"type": "dropped", "ids": dropped})
        self._send(pack_reply(frame.index, server_s * 1000.0, data))

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._pipeline.run()
        except PipelineError as exc:
            error = exc.error
        finally:
            self._slot.close()
        self._on_end(self, error)

    # -- reports ------------------------------------------------------------------------------------
    def stats(self) -> dict:
        c = self.counters
        with self._lock:
            recent = time.perf_counter() - c.last_out < 2.0
            return {"id": self.id, "fps": round(c.rate.rate, 2) if recent else 0.0, "frames_in": c.frames_in,
                    "frames_out": c.frames_out, "frames_dropped": c.frames_dropped,
                    "latency_ms": {"p50": c.latency.percentile(50), "p95": c.latency.percentile(95)},
                    "size": c.size, "style": self.settings.style, "settings": self.settings.to_json(),
                    "connected_s": round(time.time() - self.started, 1)}


class SessionRegistry:
    """The sessions open now, at most ``max_clients``."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self._sessions: dict[str, ClientSession] = {}
        self._lock = threading.Lock()
        self.opened = 0
        self.refused = 0
        self.errors = 0

    def add(self, session: ClientSession) -> bool:
        """Register ``session`` (False when --max-clients are open); only a session alone on
        the engine has its credits released early."""
        with self._lock:
            if len(self._sessions) >= self.max_clients:
                self.refused += 1
                return False
            self._sessions[session.id] = session
            self.opened += 1
        self._rebalance()
        return True

    def remove(self, session: ClientSession) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)
        self._rebalance()

    def _rebalance(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.release_early = len(sessions) == 1

    def all(self) -> list[ClientSession]:
        with self._lock:
            return list(self._sessions.values())

    def close_all(self, timeout: float = 5.0) -> None:
        sessions = self.all()
        for s in sessions:
            s.close()
        for s in sessions:
            s.join(timeout)

