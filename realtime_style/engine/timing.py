"""Model-only timing: ONNX Runtime on an already prepared frame, warm-up excluded."""

from __future__ import annotations

import statistics
import time

from realtime_style.engine import geometry
from realtime_style.engine.engine import StyleEngine
from realtime_style.testcard import card_image


def model_latencies(engine: StyleEngine, height: int, width: int, runs: int = 30, warmup: int = 3) -> list[float]:
    """Seconds per inference of a ``width`` x ``height`` test card, ``runs`` times."""
    batch = geometry.prepare(card_image(height, width), engine.plan(height, width))
    for _ in range(warmup):
        engine.infer(batch)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.infer(batch)
        times.append(time.perf_counter() - t0)
    return times


def model_fps(engine: StyleEngine, height: int, width: int, runs: int = 30, warmup: int = 3) -> float:
    """Median model-only frames per second."""
    return 1.0 / statistics.median(model_latencies(engine, height, width, runs, warmup))
