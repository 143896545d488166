"""The one interface the batch scheduler drives: a set of workers, each holding its own engine,
that take units one at a time and report back in events. ``local`` (a process pool on this
machine) and ``ray`` (actors on a Ray cluster) implement it."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from realtime_style.batch.worker import Unit, UnitResult

STARTED, PROGRESS, DONE, FAILED, LOST, FATAL = "started", "progress", "done", "failed", "lost", "fatal"


@dataclasses.dataclass
class Event:
    kind: str  # one of the names above
    unit: Unit | None
    worker: str  # the worker's name (local-0, ray-1, ...)
    result: UnitResult | None = None
    error: str = ""  # failed: the unit's own error (its input is at fault); lost: why the worker is gone
    frames: int = 0  # progress: frames written since the last progress event
    pid: int | None = None  # started: the worker's process id (local workers)
    ref: str = ""  # started: the Ray actor as "namespace/name" (ray workers)


class Executor(Protocol):
    name: str  # "local" or "ray"
    workers: int

    def idle(self) -> int:
        """How many workers are free for a unit now."""

    def submit(self, unit: Unit) -> Event:
        """Give ``unit`` to a free worker; returns its ``started`` event."""

    def poll(self, timeout: float) -> list[Event]:
        """What happened since the last call, waiting up to ``timeout`` seconds for something.
        A worker that died holding a unit is reported as ``lost`` (and replaced); a worker
        that cannot even open its engine as ``fatal``."""

    def close(self) -> None:
        """Stop every worker (units in flight are abandoned)."""
