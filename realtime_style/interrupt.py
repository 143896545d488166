"""Ctrl-C for long jobs: the first one asks the job to stop cleanly, a second exits at once.

Signals reach only the main thread, so the handler is installed there and the job's
worker threads are told through ``on_first``. Outside the main thread it does nothing.
With ``sigterm=True`` a SIGTERM (what ``torchrun`` and batch schedulers send) counts as a
first Ctrl-C too, but never as the second one: ``torchrun`` passes on the terminal's Ctrl-C
as a SIGTERM right after the SIGINT itself, and that must not skip the clean stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable

DEFAULT_MESSAGE = "\nstopping after the frames in flight (Ctrl-C again to quit at once)\n"


class Interrupt:
    def __init__(self, on_first: Callable[[], None], on_second: Callable[[], None] | None = None,
                 message: str | None = DEFAULT_MESSAGE, sigterm: bool = False) -> None:
        self.on_first = on_first
        self.on_second = on_second
        self.message = message
        self.fired = False
        self._signals = (signal.SIGINT, signal.SIGTERM) if sigterm else (signal.SIGINT,)
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "Interrupt":
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            if previous is not None:  # None: a handler not installed from Python
                signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if not self.fired:
            self.fired = True
            if self.message:
                sys.stderr.write(self.message)
                sys.stderr.flush()
            self.on_first()
            return
        if signum != signal.SIGINT:
            return
        if self.on_second:
            self.on_second()  # e.g. remove temporary files
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
