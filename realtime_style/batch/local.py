"""``--engine local``: a pool of worker processes on this machine (spawned, so no state is
shared by fork): one per GPU, or one single-threaded worker per CPU core. Each opens its
engine once and takes units over its own pipe, so the scheduler always knows which unit a
worker held when it died; a dead worker is replaced by a new one under a new name.

Workers run in a session of their own: Ctrl-C at the terminal reaches the scheduler only,
which stops them (a worker never sees a half-finished unit as done).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import wait

from realtime_style.batch.executor import DONE, FAILED, FATAL, LOST, PROGRESS, STARTED, Event
from realtime_style.batch.worker import Unit, WorkerSpec

PROGRESS_EVERY_S = 0.25


def _worker_main(conn, spec: WorkerSpec, name: str) -> None:
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from realtime_style.batch.worker import Worker
    from realtime_style.errors import StyleError

    try:
        worker = Worker(spec, name)
    except StyleError as exc:
        conn.send(("fatal", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the scheduler, which stops the batch
        conn.send(("fatal", f"internal error in worker {name} ({type(exc).__name__}: {exc})"))
        return
    conn.send(("ready", worker.engine.provider))
    while True:
        try:
            unit = conn.recv()
        except (EOFError, OSError):
            return
        if unit is None:
            return
        counter = _Progress(conn)
        try:
            result = worker.run(unit, on_frame=counter.tick)
        except StyleError as exc:
            reply = ("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - the unit fails, the worker lives on
            reply = ("failed", f"internal error ({type(exc).__name__}: {exc})")
        else:
            counter.flush()
            reply = ("done", result)
        try:
            conn.send(reply)
        except OSError:  # the scheduler is gone
            return


class _Progress:
    """Frames written, sent to the scheduler every quarter second (from the sink thread)."""

    def __init__(self, conn) -> None:
        self.conn, self.count, self.last = conn, 0, time.monotonic()

    def tick(self) -> None:
        self.count += 1
        if time.monotonic() - self.last >= PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.count:
            self.conn.send(("progress", self.count))
        self.count, self.last = 0, time.monotonic()


@dataclasses.dataclass
class _Slot:
    name: str
    process: object
    conn: object
    gpu: int | None
    unit: Unit | None = None


class LocalExecutor:
    name = "local"

    def __init__(self, spec: WorkerSpec, workers: int, gpus: list[int] | None = None) -> None:
        self.spec = spec
        self.workers = workers
        self._ctx = multiprocessing.get_context("spawn")
        self._serial = 0
        self._slots: list[_Slot] = []
        try:
            for i in range(workers):
                self._slots.append(self._spawn(gpus[i] if gpus else None))
        except BaseException:
            self.close()
            raise

    def _spawn(self, gpu: int | None) -> _Slot:
        name = f"local-{self._serial}"
        self._serial += 1
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self.spec, name), name=name, daemon=True)
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        if gpu is not None:  # one GPU per worker; the child inherits the environment at start
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
        try:
            process.start()
        finally:
            if gpu is not None:
                if saved is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = saved
        child.close()
        return _Slot(name, process, parent, gpu)

    def idle(self) -> int:
        return sum(1 for s in self._slots if s.unit is None)

    def submit(self, unit: Unit) -> Event:
        slot = next(s for s in self._slots if s.unit is None)
        slot.unit = unit
        try:
            slot.conn.send(unit)
        except OSError:
            pass  # it died: poll() reports the unit lost
        return Event(STARTED, unit, slot.name, pid=slot.process.pid)

    def poll(self, timeout: float) -> list[Event]:
        by_conn = {s.conn: s for s in self._slots}
        by_sentinel = {s.process.sentinel: s for s in self._slots}
        events: list[Event] = []
        gone: list[_Slot] = []
        for ready in wait([*by_conn, *by_sentinel], timeout):
            slot = by_conn.get(ready) or by_sentinel.get(ready)
            if slot in gone:
                continue
            if not self._drain(slot, events):
                gone.append(slot)
        for slot in gone:
            slot.process.join(timeout=1.0)
            code = slot.process.exitcode
            if slot.unit is not None:
                events.append(Event(LOST, slot.unit, slot.name,
                                    error=f"worker {slot.name} (pid {slot.process.pid}) exited with code {code}"))
            with contextlib.suppress(OSError):
                slot.conn.close()
            index = self._slots.index(slot)
            self._slots[index] = self._spawn(slot.gpu)
        return events

    def _drain(self, slot: _Slot, events: list[Event]) -> bool:
        """Read what ``slot`` sent; False when its process is gone."""
        try:
            while slot.conn.poll():
                kind, *rest = slot.conn.recv()
                if kind == "progress" and slot.unit is not None:
                    events.append(Event(PROGRESS, slot.unit, slot.name, frames=rest[0]))
                elif kind == "done":
                    events.append(Event(DONE, slot.unit, slot.name, result=rest[0]))
                    slot.unit = None
                elif kind == "failed":
                    events.append(Event(FAILED, slot.unit, slot.name, error=rest[0]))
                    slot.unit = None
                elif kind == "fatal":
                    events.append(Event(FATAL, slot.unit, slot.name, error=rest[0]))
        except (EOFError, OSError):
            return False
        return slot.process.is_alive()

    def close(self) -> None:
        for slot in self._slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        deadline = time.monotonic() + 2.0
        for slot in self._slots:
            if slot.unit is not None:  # abandoned mid-unit: no need to let it finish
                slot.process.terminate()
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=1.0)
            with contextlib.suppress(OSError):
                slot.conn.close()
        self._slots = []
