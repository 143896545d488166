"""The engines the studio's clients share: one per style, loaded once, and a fair gate that
bounds how many inferences run at once.

Clients name styles from ``EnginePool.names`` only (never a path). Every engine is built alike
from one ``EngineSpec`` (as `live` builds its styles). The gate serves waiting inferences in
arrival order: each client has at most one frame at the engine at a time, so first come, first
served is round robin between clients.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Callable

from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import ModelNotFound


class FairGate:
    """At most ``slots`` holders at once; waiters are let in first come, first served."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = max(1, slots)
        self._cond = threading.Condition()
        self._busy = 0
        self._queue: collections.deque[object] = collections.deque()

    def __enter__(self) -> "FairGate":
        me = object()
        with self._cond:
            self._queue.append(me)
            self._cond.wait_for(lambda: self._queue[0] is me and self._busy < self.slots)
            self._queue.popleft()
            self._busy += 1
            self._cond.notify_all()  # the next in line may fit too (slots > 1)
        return self

    def __exit__(self, *_exc) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        return len(self._queue)


@dataclasses.dataclass(frozen=True)
class StyleInfo:
    name: str
    artwork: str
    builtin: bool


class EnginePool:
    """Engines by style name. ``first`` (the ``--style``: a name or an .onnx path) is loaded
    at start, so its errors end the command; the others load when a client first asks."""

    def __init__(self, spec: EngineSpec, *, on_note: Callable[[str], None] = lambda _m: None,
                 opener: Callable[[EngineSpec, Callable[[str], None]], object] = open_engine) -> None:
        from realtime_style.models import registry

        self._spec = spec
        self._on_note = on_note
        self._open = opener
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._engines: dict[str, object] = {}
        self._paths: dict[str, str] = {}  # name -> what open_engine is given
        self.styles: list[StyleInfo] = []
        first = spec.style or registry.default_name()
        if first.lower().endswith(".onnx") or "/" in first or "\\" in first:
            path = registry.resolve_style(first)
            meta, _size = registry.read_metadata(path)
            self.default = registry.style_label(first)
            self._paths[self.default] = str(path)
            self.styles.append(StyleInfo(self.default, meta.get("artwork", "unknown"), False))
        else:
            self.default = registry.find(first)[0].stem
        for record in registry.list_models():
            if record.name not in self._paths:
                self._paths[record.name] = record.name
                self.styles.append(StyleInfo(record.name, record.artwork, record.builtin))
        self.get(self.default)
        first_engine = self._engines[self.default]
        self.provider = getattr(first_engine, "provider", "cpu")
        self.providers_active = list(getattr(first_engine, "providers_active", []))
        # On a GPU two inferences overlap usefully; on the CPU one uses every core already.
        self.gate = FairGate(1 if self.provider == "cpu" else 2)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.styles]

    def loaded(self, name: str):
        """The engine of ``name`` if it is loaded, else None."""
        return self._engines.get(name)

    def get(self, name: str):
        """The engine of ``name``, loading it (once, however many ask at the same time)."""
        if name not in self._paths:
            raise ModelNotFound(f"unknown style {name!r}; known styles: {', '.join(self.names)}")
        engine = self._engines.get(name)
        if engine is not None:
            return engine
        with self._lock:
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = self._open(dataclasses.replace(self._spec, style=self._paths[name]), self._on_note)
                self._engines[name] = engine
        return engine

