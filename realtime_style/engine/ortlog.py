"""Quieting ONNX Runtime while it tries providers, and keeping what it said.

A provider whose libraries are missing makes ORT log errors on stderr from C++ and
``print()`` an "EP Error" banner on stdout from Python; both would garble our output
(stdout must stay clean for ``--json``). The reason is still worth reporting, so it is
captured and summarised instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Any

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_ORT_PREFIX_RE = re.compile(r"^.*?\[[EWF]:onnxruntime:[^\]]*\]\s*")


class CapturedOutput:
    """Capture file descriptors 1 and 2 plus ``sys.stdout`` (best effort).

    ONNX Runtime reports provider load failures (missing CUDA / TensorRT
    libraries) through its C++ logger on stderr instead of raising, and its
    Python fallback path ``print()``s an "EP Error" banner to stdout.  Both
    are captured so that (a) the reason can be reported as data and (b)
    ``doctor --json`` keeps a clean stdout.  If redirection is impossible for
    a stream, that stream is simply left alone.
    """

    def __init__(self) -> None:
        self.text = ""
        self._saved: dict[int, int] = {}
        self._tmps: dict[int, Any] = {}
        self._py_stdout: Any = None
        self._buffer: Any = None

    def __enter__(self) -> "CapturedOutput":
        import io

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):  # None, or closed
                stream.flush()
        for fd in (1, 2):
            saved = None
            try:
                tmp = tempfile.TemporaryFile(mode="w+b")
                saved = os.dup(fd)
                os.dup2(tmp.fileno(), fd)
                self._saved[fd] = saved
                self._tmps[fd] = tmp
            except OSError:  # no such descriptor (a GUI process): nothing to capture there
                if saved is not None:
                    with contextlib.suppress(OSError):
                        os.close(saved)
        self._buffer = io.StringIO()
        self._py_stdout = sys.stdout
        sys.stdout = self._buffer
        return self

    def __exit__(self, *exc: Any) -> None:
        parts: list[str] = []
        if self._buffer is not None:
            sys.stdout = self._py_stdout
            parts.append(self._buffer.getvalue())
            self._buffer = self._py_stdout = None
        for fd in (1, 2):
            saved = self._saved.pop(fd, None)
            tmp = self._tmps.pop(fd, None)
            if saved is not None:
                with contextlib.suppress(OSError):
                    os.dup2(saved, fd)
                with contextlib.suppress(OSError):
                    os.close(saved)
            if tmp is not None:
                with contextlib.suppress(OSError, ValueError):
                    tmp.seek(0)
                    parts.append(tmp.read(64 * 1024).decode("utf-8", "replace"))
                with contextlib.suppress(OSError):
                    tmp.close()
        self.text = "\n".join(p for p in parts if p)


def summarise_ort_log(text: str, limit: int = 400) -> str:
    """Pick the most useful error line out of captured ONNX Runtime output."""
    lines = []
    for raw in _ANSI_RE.sub("", text or "").splitlines():
        line = raw.strip()
        if not line or set(line) <= {"*"} or line.startswith("*****"):
            continue
        if line.startswith(("Falling back to", "when using")):
            continue
        lines.append(line)
    if not lines:
        return ""
    errors = [x for x in lines if "[E:" in x or "[F:" in x or "error" in x.lower()]
    chosen = errors[-1] if errors else lines[-1]
    chosen = _ORT_PREFIX_RE.sub("", chosen)
    # The interesting part of a library load failure comes after "error:".
    marker = "with error:"
    if marker in chosen:
        head, _, tail = chosen.partition(marker)
        lib = head.rsplit("Failed to load library", 1)
        chosen = (
            f"failed to load {lib[1].strip()}: {tail.strip()}"
            if len(lib) == 2
            else tail.strip()
        )
    if len(chosen) > limit:
        chosen = chosen[: limit - 3] + "..."
    return chosen
