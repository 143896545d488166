"""The styles a live run can switch between: loaded in the background, kept loaded.

The view never freezes while a model loads: ``select`` starts a loading thread and the
current engine keeps working; a model that fails to load leaves the current one in place
and its reason in ``message`` (shown in the overlay).
"""

from __future__ import annotations

import threading
from typing import Callable

from realtime_style.errors import StyleError

EngineFactory = Callable[[str], object]  # style name -> a StyleEngine


class StyleSwitcher:
    def __init__(self, names: list[str], first: str, factory: EngineFactory,
                 warm: Callable[[object], None] | None = None) -> None:
        if first not in names:
            names = [first, *names]
        self.names = names
        self._factory = factory
        self._warm = warm or (lambda _e: None)
        self._engines: dict[str, object] = {}
        self._lock = threading.Lock()
        self._loading: str | None = None
        self.message = ""
        self.current = first
        self._engines[first] = factory(first)  # the first style's errors end the run

    @property
    def engine(self):
        return self._engines[self.current]

    def engine_for(self, name: str | None):
        """The engine of style ``name``, which is loaded (a frame names the style that was
        current when it was captured); None: the current one."""
        with self._lock:
            return self._engines[self.current if name is None else name]

    @property
    def loading(self) -> str | None:
        return self._loading

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) style in the list."""
        if len(self.names) < 2:
            self.message = "only one style is installed"
            return
        i = self.names.index(self._loading or self.current)
        self.select(self.names[(i + delta) % len(self.names)])

    def select(self, name: str) -> None:
        with self._lock:
            if name in self._engines:
                self.current, self._loading, self.message = name, None, ""
                return
            self._loading = name
        self.message = f"loading {name}..."
        threading.Thread(target=self._load, args=(name,), name=f"load-{name}", daemon=True).start()

    def _load(self, name: str) -> None:
        try:
            engine = self._factory(name)
            self._warm(engine)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the current style running
            reason = str(exc) if isinstance(exc, StyleError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                if self._loading == name:
                    self._loading = None
                self.message = f"{name} failed to load: {reason}"
            return
        with self._lock:
            self._engines[name] = engine
            if self._loading == name:  # the user did not move on meanwhile
                self.current, self._loading, self.message = name, None, ""
