"""Ctrl-C for long jobs: the first one asks the job to stop cleanly, a second exits at once.

Signals reach only the main thread, so the handler is installed there and the job's
worker threads are told through ``on_first``. Outside the main thread it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable


class Interrupt:
    def __init__(self, on_first: Callable[[], None], on_second: Callable[[], None] | None = None) -> None:
        self.on_first = on_first
        self.on_second = on_second
        self.fired = False
        self._previous = None

    def __enter__(self) -> "Interrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if not self.fired:
            self.fired = True
            sys.stderr.write("\nstopping after the frames in flight (Ctrl-C again to quit at once)\n")
            sys.stderr.flush()
            self.on_first()
            return
        if self.on_second:
            self.on_second()  # e.g. remove temporary files
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
