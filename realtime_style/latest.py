"""A one-slot, newest-wins hand-over between two threads.

The producer never waits: ``put`` replaces an item nobody has taken yet (counted in
``dropped``), so a slow consumer always gets the newest one and never a backlog. The
consumer either ``take``s the newest unseen item (removing it) or asks for one ``newer``
than a number it has seen (leaving it in place). ``close`` wakes every waiter; an item put
before it can still be taken, nothing put after it is kept.

Used by the live pipeline (source -> first stage), the live window (sink -> main thread)
and the camera reader (device thread -> source). Standard library only: every layer may
import it.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._seq = 0  # items put so far; the one held is number ``_seq``
        self._taken = 0  # the number of the last item taken
        self._closed = False
        self.dropped = 0  # items replaced before anyone took them

    @property
    def seq(self) -> int:
        """How many items have been put (the number of the newest)."""
        return self._seq

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> int:
        """Hand over ``item``, replacing one not taken yet; never blocks. Returns its number
        (1, 2, ...), or 0 if the slot is closed (the item is not kept)."""
        with self._cond:
            if self._closed:
                return 0
            if self._seq > self._taken:
                self.dropped += 1
            self._seq += 1
            self._item = item
            self._cond.notify_all()
            return self._seq

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item not taken yet, removed from the slot. Waits up to ``timeout``
        seconds (0: not at all; None: until one comes or the slot closes); None if none came,
        or the slot is closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > self._taken or self._closed, timeout):
                return None
            if self._seq <= self._taken:  # closed, and nothing left
                return None
            item, self._item, self._taken = self._item, None, self._seq
            return item

    def newer(self, seen: int, timeout: float | None = None) -> tuple[int, T] | None:
        """``(number, item)`` of the newest item numbered above ``seen``, left in the slot (for a
        consumer that only reads: it passes the number back next time). Waits up to
        ``timeout``; None if none came, or the slot is closed without one."""
        with self._cond:
            def ready() -> bool:
                return self._seq > max(seen, self._taken) or self._closed

            if not self._cond.wait_for(ready, timeout) or self._seq <= max(seen, self._taken):
                return None
            return self._seq, self._item

    def close(self) -> None:
        """No more items: every waiter wakes (an item already put can still be taken)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
