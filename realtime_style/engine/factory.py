"""Opening an engine for a command: a style name (or .onnx path) and the inference options.

The one place that turns what a user asked for into a :class:`StyleEngine`: the style is
resolved through the model registry, TensorRT engines are cached in the models home, and
what the user should know is reported through ``on_note`` as it happens.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from realtime_style.engine.engine import StyleEngine
from realtime_style.engine.options import InferenceOptions
from realtime_style.machine import gpu_present


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """What a command asks of the engine."""

    style: str | None = None  # a style name or a path to an .onnx file; None: the default built-in
    options: InferenceOptions = InferenceOptions()
    verbose: bool = False  # also report GPU providers that did not load on a machine without one (--debug)

    def with_options(self, **changes) -> "EngineSpec":
        return dataclasses.replace(self, options=dataclasses.replace(self.options, **changes))


def _ignore(_message: str) -> None:
    pass


def open_engine(spec: EngineSpec, on_note: Callable[[str], None] = _ignore) -> StyleEngine:
    """The engine for ``spec``. Its notes (an fp16 gate that fell back, ...) go to ``on_note``;
    so do the GPU providers that `auto` tried and that did not load, where that is news: on a
    machine with an NVIDIA device, or with ``spec.verbose``."""
    from realtime_style.models import registry

    engine = StyleEngine(registry.resolve_style(spec.style), spec.options, cache_dir=registry.home() / "trt_cache",
                         on_note=on_note)
    if engine.fallbacks and (spec.verbose or gpu_present()):
        for why in engine.fallbacks:
            on_note(why)
    return engine
