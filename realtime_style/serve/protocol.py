"""The studio's WebSocket protocol, in one place (the page's static/studio.js speaks it too).

Binary messages carry frames. Page -> server: a 4-byte big-endian frame id, then a JPEG (what
the page's canvas encodes). Server -> page: the same id, the milliseconds the frame spent on
the server (float32, big-endian), then the stylized JPEG.

Text messages are JSON objects with a ``type``. Page -> server: ``settings`` (any of
``style``, ``strength`` 0..1, ``preserve_color``, ``smooth`` (bool, or 0..1), ``mirror``).
Server -> page: ``hello`` (session id, credits, styles, settings), ``release`` (a frame's
credit, back before its reply), ``settings`` (as they now are), ``dropped`` (ids replaced by
newer frames: their credits come back), ``style`` (a style loading, ready or failed), ``busy``.

Credits: the page may have ``CREDITS`` frame in flight (sent, and neither back, released nor
dropped). With several pages the others' frames keep the engine busy while one travels. A lone
page's frame would leave the engine idle for the trip, so the server releases its credit while
it is still at the engine, timed so the next frame arrives as the engine frees up (the model's
time per frame less the page's measured time to send one, less a margin for how much that
varies): the engine stays busy, and with a slow model the next frame is captured as late as it
can be instead of waiting at the server for most of a model time (a second credit would do that).
A frame sent beyond the credits is simply the newest one: it replaces a waiting one, never queues.

Anything malformed closes that client only, with ``CLOSE_MALFORMED`` and a reason.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct

CREDITS = 1  # frames a page may have in flight (a lone page's is released early, see above)
MAX_FRAME_BYTES = 4 << 20  # one JPEG frame
MAX_TEXT_BYTES = 4096
MAX_PIXELS = 1920 * 1088  # the largest frame accepted (1080p)
HEADER = struct.Struct(">I")
REPLY_HEADER = struct.Struct(">If")

CLOSE_NORMAL = 1000
CLOSE_MALFORMED = 1003  # "unsupported data": a malformed message
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_BUSY = 1013  # "try again later": --max-clients reached


class ProtocolError(Exception):
    """A malformed message from a page; ``code`` is the WebSocket close code."""

    def __init__(self, message: str, code: int = CLOSE_MALFORMED) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """What a page chose; each frame takes a ``FrameSettings`` snapshot of it as it arrives."""

    style: str
    strength: float = 1.0
    preserve_color: bool = False
    smooth: float = 0.0
    mirror: bool = False

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def split_frame(data: bytes) -> tuple[int, bytes]:
    """(frame id, JPEG bytes) of a page's binary message."""
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(data)} bytes is over {MAX_FRAME_BYTES}", CLOSE_TOO_BIG)
    if len(data) <= HEADER.size:
        raise ProtocolError("frame message too short: expected a 4-byte id and a JPEG")
    (frame_id,) = HEADER.unpack_from(data)
    return frame_id, data[HEADER.size:]


def pack_reply(frame_id: int, server_ms: float, jpeg: bytes) -> bytes:
    return REPLY_HEADER.pack(frame_id, server_ms) + jpeg


def parse_text(text: str) -> dict:
    if len(text) > MAX_TEXT_BYTES:
        raise ProtocolError(f"control message over {MAX_TEXT_BYTES} bytes", CLOSE_TOO_BIG)
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"control message is not JSON ({exc})") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("control message must be a JSON object with a \"type\"")
    return message


def apply_settings(current: ClientSettings, message: dict, styles: list[str],
                   smooth_on: float) -> ClientSettings:
    """``current`` changed as a ``settings`` message asks; anything out of range is an error."""
    known = {"type", "style", "strength", "preserve_color", "smooth", "mirror"}
    unknown = sorted(set(message) - known)
    if unknown:
        raise ProtocolError(f"unknown settings: {', '.join(unknown)}")
    changes = {}
    if "style" in message:
        if message["style"] not in styles:
            raise ProtocolError(f"unknown style {message['style']!r}")
        changes["style"] = message["style"]
    if "strength" in message:
        changes["strength"] = _fraction(message["strength"], "strength")
    if "smooth" in message:
        value = message["smooth"]
        changes["smooth"] = (smooth_on if value else 0.0) if isinstance(value, bool) else _fraction(value, "smooth")
    for flag in ("preserve_color", "mirror"):
        if flag in message:
            if not isinstance(message[flag], bool):
                raise ProtocolError(f"{flag} must be true or false")
            changes[flag] = message[flag]
    return dataclasses.replace(current, **changes)


def _fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise ProtocolError(f"{name} must be a number from 0 to 1")
    return float(value)
