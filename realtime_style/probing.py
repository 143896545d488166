"""Helpers for best-effort probes: a call that may hang runs under a timeout, and an
exception becomes a one-line reason. Used by the machine, provider, codec and camera probes."""

from __future__ import annotations

import threading
from typing import Any, Callable, Literal

Outcome = tuple[Literal["ok", "error", "timeout"], Any]


def describe_error(exc: BaseException) -> str:
    """``"TypeName: message"``, or just the type name when the message is empty."""
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def run_with_timeout(fn: Callable[[], Any], timeout_s: float) -> Outcome:
    """Run ``fn`` in a daemon thread and wait at most ``timeout_s`` for it.

    Returns ``("ok", result)``, ``("error", exception)`` or ``("timeout", None)``. A timed-out
    thread is abandoned (it is a daemon, so it cannot keep the interpreter alive): this is for
    calls into drivers that can block in the kernel, where nothing else can interrupt them.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as data
            box["error"] = exc

    thread = threading.Thread(target=target, name="realtime-style-probe", daemon=True)
    thread.start()
    thread.join(max(0.0, float(timeout_s)))
    if thread.is_alive():
        return "timeout", None
    if "error" in box:
        return "error", box["error"]
    return "ok", box.get("result")
