"""Hands units to an executor's free workers until all are done, failed or the run is stopped.

A unit whose worker died (``lost``) goes back to the front of the queue, to the next free
worker (the dead one has been replaced under a new name), at most ``max_retries`` times; then
it fails. A unit that fails by itself (its input is unreadable) fails its whole input: the
input's other units are dropped, and the rest of the batch goes on.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Iterable

from realtime_style.batch.executor import DONE, FAILED, FATAL, LOST, Event, Executor
from realtime_style.batch.worker import Unit
from realtime_style.errors import StyleError

MAX_RETRIES = 2


def schedule(executor: Executor, units: Iterable[Unit], on_event: Callable[[Event], None], stop: threading.Event,
             max_retries: int = MAX_RETRIES, poll_s: float = 0.1) -> dict[str, int]:
    """Run ``units`` (taken from the iterable only as workers become free); returns each unit's
    retries. ``on_event`` sees every event (a unit that ran out of retries arrives as ``failed``)."""
    fresh = iter(units)
    queue: collections.deque[Unit] = collections.deque()  # units given back by a dead worker
    retries: dict[str, int] = collections.Counter()
    dropped: set[str] = set()
    running, more = 0, True
    while not stop.is_set():
        while executor.idle() and not stop.is_set():
            unit = queue.popleft() if queue else next(fresh, None)
            if unit is None:
                more = False
                break
            if unit.key in dropped:
                continue
            on_event(executor.submit(unit))
            running += 1
        if not running and not queue and not more:
            break
        for event in executor.poll(poll_s):
            if event.kind == FATAL:
                raise StyleError(event.error)
            if event.kind in (DONE, FAILED, LOST):
                running -= 1
            if event.kind == LOST:
                retries[event.unit.id] += 1
                if retries[event.unit.id] > max_retries:
                    event = Event(FAILED, event.unit, event.worker,
                                  error=f"{event.error}; gave up after {retries[event.unit.id]} tries")
                else:
                    queue.appendleft(event.unit)
            if event.kind == FAILED:
                dropped.add(event.unit.key)
            on_event(event)
    return dict(retries)
