"""The frame pipeline: source -> stages -> sink, each in its own thread.

Threads are joined by small bounded queues. In file mode a full queue blocks its producer
(back-pressure: nothing is ever dropped). In live mode (``latest_only``) the source hands
frames to the first stage through a one-slot mailbox: a new frame replaces one that is
still waiting (the replaced one is counted as dropped), so a slow model never builds a
backlog and what it works on is always the newest picture. A stage may run several workers
on different frames at once (frame parallelism: on a CPU, two single-threaded inferences
beat one two-threaded inference, benchmarks/RESULTS.md, section
"2026-11-21 · `convert` throughput against model-only speed (issue 3)"); its results are put
back in order before the next stage. Any thread's failure stops the others and is re-raised
in the caller; ``stop`` ends the run early and still lets the sink finish the frames that
reached it. Each frame may be given
its ``FrameSettings`` as it enters (``settings``, called in the source thread), so stages
read how to treat it from the frame instead of from state another thread changes. Shared
by ``convert``, ``live`` and ``bench`` (``eval`` runs its own loop, one frame at a time,
in ``jobs/evaluate.py``).
"""

from __future__ import annotations

import dataclasses
import heapq
import queue
import threading
import time
from typing import Callable, Iterable, Iterator, Protocol

from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.latest import Latest

_END = object()  # end of stream marker
_POLL_S = 0.05


class Source(Protocol):
    def frames(self) -> Iterator[Frame]: ...
    def close(self) -> None: ...


class Sink(Protocol):
    def write(self, frame: Frame) -> None: ...
    def finish(self, attachments: list) -> None: ...  # flush: the run is complete or stopped
    def abort(self) -> None: ...  # discard: the run failed


Stage = Callable[[Frame], Frame]


@dataclasses.dataclass
class StageTiming:
    name: str
    frames: int = 0
    busy_s: float = 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.busy_s / self.frames if self.frames else 0.0


@dataclasses.dataclass
class RunStats:
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0  # replaced in the live mailbox before a stage took them
    wall_s: float = 0.0
    stopped: bool = False  # ended by ``stop`` before the source ran out
    stages: list[StageTiming] = dataclasses.field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0


class PipelineError(Exception):
    """Wraps the first failure of a pipeline thread, with how far the run got."""

    def __init__(self, error: BaseException, stats: RunStats):
        super().__init__(str(error))
        self.error = error
        self.stats = stats


class Pipeline:
    def __init__(
        self,
        source: Source,
        stages: Iterable[tuple[str, Stage] | tuple[str, Stage, int]],
        sink: Sink,
        *,
        queue_size: int = 4,
        frame_limit: int = 0,
        on_frame: Callable[[Frame], None] | None = None,
        latest_only: bool = False,
        settings: Callable[[], FrameSettings] | None = None,
    ) -> None:
        self.source = source
        self.stages = [(st[0], st[1], st[2] if len(st) > 2 else 1) for st in stages]
        self.sink = sink
        self.queue_size = queue_size
        self.frame_limit = frame_limit
        self.on_frame = on_frame  # called in the sink thread after each written frame
        self.latest_only = latest_only
        self.settings = settings  # the settings each frame takes as it enters (source thread)
        if latest_only and any(w != 1 for _, _, w in self.stages):
            raise ValueError("live mode runs one frame at a time: every stage has one worker")
        self._stop = threading.Event()
        self._failed = threading.Event()
        self._errors: list[BaseException] = []
        names = ["source", *(n for n, _, _ in self.stages), "sink"]
        self.stats = RunStats(stages=[StageTiming(n) for n in names])

    # -- control ------------------------------------------------------------------------------
    def stop(self) -> None:
        """End early: the source stops, frames already read are finished and written."""
        self._stop.set()

    def run(self, on_idle: Callable[[float], None] | None = None) -> RunStats:
        """Run to completion. The calling thread sleeps in short steps meanwhile, so a main
        thread stays responsive to signals (Ctrl-C); ``on_idle(seconds)``, if given, is
        called instead of sleeping (a window's event loop, which must run on the main
        thread)."""
        if self.latest_only:
            queues = [_Mailbox(self.stats), *(queue.Queue(1) for _ in self.stages)]
        else:
            queues = [queue.Queue(self.queue_size) for _ in range(len(self.stages) + 1)]
        threads = [threading.Thread(target=self._guard, args=(self._read, queues[0]), name="source", daemon=True)]
        for i, (name, fn, workers) in enumerate(self.stages):
            group = _WorkerGroup(workers, queues[i + 1])
            for w in range(workers):
                threads.append(threading.Thread(target=self._guard, args=(
                    self._stage, fn, self.stats.stages[i + 1], queues[i], group), name=f"{name}-{w}", daemon=True))
        threads.append(threading.Thread(target=self._guard, args=(self._write, queues[-1]), name="sink", daemon=True))
        start = time.perf_counter()
        for t in threads:
            t.start()
        try:
            sink_thread = threads[-1]
            while sink_thread.is_alive():
                (on_idle or time.sleep)(_POLL_S)
        finally:
            for t in threads:
                t.join(timeout=5.0)
            self.stats.wall_s = time.perf_counter() - start
            self.source.close()
        if self._errors:
            raise PipelineError(self._errors[0], self.stats)
        return self.stats

    # -- threads ------------------------------------------------------------------------------
    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to run()
            self._errors.append(exc)
            self._failed.set()

    def _put(self, q: queue.Queue, item) -> bool:
        """Blocking put that gives up when the run failed. Returns False if it gave up."""
        while not self._failed.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue):
        while not self._failed.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return _END

    def _read(self, out: queue.Queue) -> None:
        # The source stays open until the sink is done (run() closes it): frames may carry
        # packets that still belong to the source's container.
        timing = self.stats.stages[0]
        it = iter(self.source.frames())
        while True:
            if self._stop.is_set() or (self.frame_limit and self.stats.frames_in >= self.frame_limit):
                self.stats.stopped = self._stop.is_set()
                break
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            if self.settings is not None:
                frame.settings = self.settings()
            timing.busy_s += time.perf_counter() - t0
            timing.frames += 1
            if not self._put(out, (self.stats.frames_in, frame)):
                return
            self.stats.frames_in += 1
        trailing = [] if self.frame_limit or self.stats.stopped else \
            list(getattr(self.source, "trailing_attachments", lambda: [])())
        self._put(out, (_END, trailing))

    def _stage(self, fn: Stage, timing: StageTiming, inq: queue.Queue, group: "_WorkerGroup") -> None:
        while True:
            item = self._get(inq)
            if item is _END:  # the run failed elsewhere
                return
            seq, frame = item
            if seq is _END:
                if group.worker_done():  # the last worker: every earlier frame is out
                    self._put(group.out, item)
                else:
                    self._put(inq, item)  # the stage's other workers must see the end too
                return
            t0 = time.perf_counter()
            frame = fn(frame)
            with group.lock:
                timing.busy_s += time.perf_counter() - t0
                timing.frames += 1
            if not group.emit(seq, frame, self._put):
                return

    def _write(self, inq: queue.Queue) -> None:
        timing = self.stats.stages[-1]
        try:
            while True:
                item = self._get(inq)
                if item is _END:  # another thread failed
                    break
                seq, frame = item
                if seq is _END:
                    t0 = time.perf_counter()
                    self.sink.finish(frame)  # here: the trailing attachments
                    timing.busy_s += time.perf_counter() - t0
                    return
                t0 = time.perf_counter()
                self.sink.write(frame)
                timing.busy_s += time.perf_counter() - t0
                timing.frames += 1
                self.stats.frames_out += 1
                if self.on_frame:
                    self.on_frame(frame)
        except BaseException:
            self.sink.abort()
            raise
        self.sink.abort()


class _WorkerGroup:
    """The workers of one stage: they finish frames in any order; ``emit`` passes them on
    in sequence, and the last worker to see the end marker passes that on."""

    def __init__(self, workers: int, out: queue.Queue) -> None:
        self.out = out
        self.lock = threading.Lock()
        self._emit_lock = threading.Lock()  # one emitter at a time keeps the order
        self._heap: list = []
        self._next = 0
        self._alive = workers
        self._ordered = workers > 1

    def emit(self, seq: int, frame, put) -> bool:
        if not self._ordered:  # one worker: already in order (and live mode skips numbers)
            return put(self.out, (seq, frame))
        with self._emit_lock:
            heapq.heappush(self._heap, (seq, id(frame), frame))
            while self._heap and self._heap[0][0] == self._next:
                s, _, f = heapq.heappop(self._heap)
                if not put(self.out, (s, f)):
                    return False
                self._next += 1
        return True

    def worker_done(self) -> bool:
        """A worker met the end marker; True for the last one."""
        with self.lock:
            self._alive -= 1
            return self._alive == 0


class _Mailbox:
    """The live hand-over from the source to the first stage: a newest-wins slot whose
    ``put`` never blocks (a newer frame replaces a waiting one, counted as dropped in the run's
    stats). The end-of-stream marker waits behind the last frame."""

    def __init__(self, stats: RunStats) -> None:
        self._stats = stats
        self._slot: Latest[tuple] = Latest()
        self._end = None

    def put(self, item, timeout: float | None = None) -> None:
        if item[0] is _END:
            self._end = item
            self._slot.close()
        else:
            self._slot.put(item)
            self._stats.frames_dropped = self._slot.dropped

    def get(self, timeout: float | None = None):
        item = self._slot.take(timeout)
        if item is None and self._slot.closed:  # nothing is put after the end: this is definitive
            item = self._slot.take(0)
            if item is None:
                return self._end
        if item is None:
            raise queue.Empty
        return item
