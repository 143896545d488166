"""What a live run measures, in fixed memory however long it runs."""

from __future__ import annotations

import dataclasses
import sys
import threading

import numpy as np

_BIN_MS = 0.25
_BINS = 40_000  # 0..10 s in quarter milliseconds; later values land in the last bin


def ema(previous: float, sample: float, weight: float) -> float:
    """An exponential moving average with ``weight`` on the newest sample; the sample itself
    while there is none yet (``previous`` 0)."""
    return sample if not previous else (1.0 - weight) * previous + weight * sample


class LatencyHistogram:
    """Percentiles of capture-to-display latency without keeping every sample."""

    def __init__(self) -> None:
        self._counts = np.zeros(_BINS, np.int64)
        self.count = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        b = min(_BINS - 1, max(0, int(seconds * 1000.0 / _BIN_MS)))
        with self._lock:
            self._counts[b] += 1
            self.count += 1

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile in milliseconds (upper edge of its bin), or None if empty."""
        with self._lock:
            if not self.count:
                return None
            rank = max(1, int(np.ceil(q / 100.0 * self.count)))
            b = int(np.searchsorted(np.cumsum(self._counts), rank))
        return round((b + 1) * _BIN_MS, 2)


class RateMeter:
    """Events per second over a sliding window of the last ``n`` events (for the overlay)."""

    def __init__(self, n: int = 30) -> None:
        self._times = np.zeros(n)
        self._i = 0
        self._n = 0

    def tick(self, now: float) -> None:
        self._times[self._i % len(self._times)] = now
        self._i += 1
        self._n = min(self._n + 1, len(self._times))

    @property
    def rate(self) -> float:
        if self._n < 2:
            return 0.0
        newest = self._times[(self._i - 1) % len(self._times)]
        oldest = self._times[(self._i - self._n) % len(self._times)]
        return (self._n - 1) / (newest - oldest) if newest > oldest else 0.0


def peak_rss_mb() -> float | None:
    """The process's peak resident memory in MiB (None where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


@dataclasses.dataclass
class LiveCounters:
    displayed: int = 0
    infer_s: float = 0.0  # model time of the processed frames
    inferred: int = 0
    latency: LatencyHistogram = dataclasses.field(default_factory=LatencyHistogram)
    display_rate: RateMeter = dataclasses.field(default_factory=RateMeter)
    model_rate_ms: float = 0.0  # smoothed model time per frame, for the overlay

    def model_fps(self) -> float:
        return self.inferred / self.infer_s if self.infer_s > 0 else 0.0
