"""``--engine ray``: one actor per GPU (or CPU slot) of a Ray cluster, each holding its own ONNX
Runtime session for the whole batch.

Only compressed bytes travel: a segment goes out as its own packets (from the keyframe its
decoding starts at up to the next cut) remuxed into a small file with their timestamps, a
whole file as its bytes; what comes back is the encoded segment or file. No raw frame ever
crosses Ray, and the workers need no file system shared with the driver.

Without ``--address`` a Ray instance is started for this batch on this machine, bound to
loopback. A Ray cluster has no authentication of its own: keep its ports private.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Callable

import av

from realtime_style.batch.executor import DONE, FAILED, LOST, PROGRESS, STARTED, Event
from realtime_style.batch.worker import Unit, WorkerSpec
from realtime_style.errors import InputError, MissingExtra, StyleError
from realtime_style.fsutil import write_bytes_atomic
from realtime_style.io.video_file import FrameWindow

CONNECT_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 300.0  # an actor opening its engine (a TensorRT engine build can take minutes)


def require_ray() -> None:
    """Ray is installed, else a line saying how to get it."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("--engine ray needs Ray: pip install 'realtime-style[ray]' (or pip install ray); "
                           "--engine local needs nothing extra") from exc


class RayWorker:
    """The actor: a :class:`~realtime_style.batch.worker.Worker` and a scratch directory."""

    def __init__(self, spec: WorkerSpec, name: str) -> None:
        from realtime_style.batch.worker import Worker

        self.error = ""
        self.worker = None
        try:
            self.worker = Worker(spec, name)
        except StyleError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the driver, which stops the batch
            self.error = f"internal error in worker {name} ({type(exc).__name__}: {exc})"

    def ready(self) -> tuple[bool, str]:
        return (False, self.error) if self.worker is None else (True, self.worker.engine.provider)

    def run(self, unit: Unit, payload: bytes, suffix: str) -> tuple[str, object, bytes]:
        with tempfile.TemporaryDirectory(prefix="realtime-style-") as tmp:
            source, target = Path(tmp) / f"in{suffix}", Path(tmp) / "out.mp4"
            source.write_bytes(payload)
            try:
                result = self.worker.run(unit, source=str(source), target=str(target))
            except StyleError as exc:
                return "failed", str(exc).replace(str(source), unit.source), b""
            except Exception as exc:  # noqa: BLE001 - the unit fails, the actor lives on
                return "failed", f"internal error ({type(exc).__name__}: {exc})", b""
            return "done", result, target.read_bytes()


def cut_packets(source: Path, window: FrameWindow, target: Path) -> None:
    """The packets a segment's decoding needs, from the keyframe at ``window.seek_pts`` up to the
    clean keyframe at ``window.end_pts``, remuxed untouched into ``target`` (their timestamps
    kept: MP4 and Matroska store them as they are)."""
    with av.open(str(source)) as src:
        video = src.streams.video[0]
        with av.open(str(target), "w", format=_piece_format(src.format.name, source.suffix)) as out:
            stream = out.add_stream_from_template(video)
            stream.time_base = video.time_base
            src.seek(window.seek_pts, stream=video, backward=True, any_frame=False)
            started = False
            for packet in src.demux(video):
                if not packet.size:
                    continue
                if not started:
                    if not (packet.is_keyframe and packet.pts == window.seek_pts):
                        continue
                    started = True
                if window.end_pts is not None and packet.is_keyframe and packet.pts == window.end_pts:
                    break
                packet.stream = stream
                out.mux(packet)
    if not started:
        raise InputError(f"{source}: the keyframe at pts {window.seek_pts} was not found again; "
                         "rerun with --segment-seconds 0")


def _piece_format(demuxer: str, suffix: str) -> str:
    if "matroska" in demuxer or "webm" in demuxer:
        return "matroska"
    return "mov" if suffix.lower() == ".mov" else "mp4"


def _piece_suffix(demuxer: str, suffix: str) -> str:
    return {"matroska": ".mkv", "mov": ".mov", "mp4": ".mp4"}[_piece_format(demuxer, suffix)]


def _host_port(address: str) -> tuple[str, int | None]:
    host, _, port = address.rpartition(":")
    if not host:
        return address.strip("[]"), None
    return host.strip("[]"), int(port) if port.isdigit() else None


def _is_loopback(address: str) -> bool:
    host = _host_port(address)[0]
    return host in ("localhost", "::1") or host.startswith("127.")


def _check_reachable(address: str) -> None:
    """HOST:PORT answers at all (Ray itself retries for minutes before it gives up)."""
    host, port = _host_port(address)
    if port is None:
        raise StyleError(f"--address {address}: give HOST:PORT (the head's GCS port, 6379 unless `ray start "
                         "--port` said otherwise) or auto")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise StyleError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is it running "
                         "(`ray status`), and is the port right?") from exc


@dataclasses.dataclass
class _Slot:
    name: str
    actor: object
    unit: Unit | None = None
    ref: object = None


class RayExecutor:
    name = "ray"

    def __init__(self, spec: WorkerSpec, *, workers: int = 0, address: str | None = None,
                 on_note: Callable[[str], None] = lambda _m: None) -> None:
        if address is None or _is_loopback(address):
            # Ray turns a loopback address into this machine's other one, and binds its local
            # instances there, unless told it runs on one machine only: then everything stays on
            # 127.0.0.1 (read when ray is imported).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        if address not in (None, "auto"):
            _check_reachable(address)
        require_ray()
        import ray

        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            self._init(address, workers)
        resources = ray.cluster_resources()
        provider = spec.engine.options.provider
        self._gpu = provider != "cpu" and resources.get("GPU", 0) >= 1
        slots = int(resources.get("GPU", 0) if self._gpu else resources.get("CPU", 1))
        self.workers = workers or max(1, slots)
        if not self._gpu and spec.engine.options.threads == 0:  # a CPU slot: one single-threaded engine
            spec = dataclasses.replace(spec, engine=spec.engine.with_options(threads=1, workers=1))
        elif spec.engine.options.workers == 0:
            spec = dataclasses.replace(spec, engine=spec.engine.with_options(workers=1))
        self.spec = spec
        self.namespace = f"realtime-style-{uuid.uuid4().hex[:8]}"
        self._actor_class = ray.remote(num_gpus=1, num_cpus=1)(RayWorker) if self._gpu else \
            ray.remote(num_cpus=1)(RayWorker)
        self._serial = 0
        self._slots: list[_Slot] = []
        try:
            for _ in range(self.workers):
                self._slots.append(self._spawn())
            for ok, why in ray.get([s.actor.ready.remote() for s in self._slots], timeout=READY_TIMEOUT_S):
                if not ok:
                    raise StyleError(why)
        except BaseException:
            self.close()
            raise
        where = address or "a local Ray instance on 127.0.0.1"
        on_note(f"ray: {self.workers} workers ({'one per GPU' if self._gpu else 'one per CPU slot'}) on {where}")

    def _init(self, address: str | None, workers: int) -> None:
        ray = self._ray
        kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR",
                  "configure_logging": True}
        try:
            if address:
                if _is_loopback(address):  # a cluster on this machine's loopback: the driver stays on it too
                    kwargs["_node_ip_address"] = "127.0.0.1"
                ray.init(address=address, **kwargs)
            else:
                from realtime_style.engine.engine import usable_cores

                ray.init(num_cpus=workers or usable_cores(), _node_ip_address="127.0.0.1", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise StyleError(f"cannot reach the Ray cluster at {address or 'a new local instance'} "
                             f"({str(exc).splitlines()[0][:200]}); check the address (ray status)") from exc
        self._owns = True

    def _spawn(self) -> _Slot:
        name = f"ray-{self._serial}"
        self._serial += 1
        actor = self._actor_class.options(name=name, namespace=self.namespace, max_restarts=0,
                                          max_task_retries=0).remote(self.spec, name)
        return _Slot(name, actor)

    def idle(self) -> int:
        return sum(1 for s in self._slots if s.unit is None)

    def submit(self, unit: Unit) -> Event:
        slot = next(s for s in self._slots if s.unit is None)
        payload, suffix = self._payload(unit)
        slot.unit = unit
        slot.ref = slot.actor.run.remote(unit, payload, suffix)
        return Event(STARTED, unit, slot.name, pid=None, ref=f"{self.namespace}/{slot.name}")

    def _payload(self, unit: Unit) -> tuple[bytes, str]:
        source = Path(unit.source)
        if unit.window is None:
            return source.read_bytes(), source.suffix or ".mp4"
        with av.open(str(source)) as probe:
            demuxer = probe.format.name
        suffix = _piece_suffix(demuxer, source.suffix)
        with tempfile.TemporaryDirectory(prefix="realtime-style-") as tmp:
            piece = Path(tmp) / f"piece{suffix}"
            cut_packets(source, unit.window, piece)
            return piece.read_bytes(), suffix

    def poll(self, timeout: float) -> list[Event]:
        ray = self._ray
        busy = {s.ref: s for s in self._slots if s.ref is not None}
        if not busy:
            return []
        ready, _ = ray.wait(list(busy), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(busy), num_returns=len(busy), timeout=0)
        events = []
        for ref in ready:
            slot = busy[ref]
            unit, slot.unit, slot.ref = slot.unit, None, None
            try:
                kind, value, data = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                events.append(Event(FAILED, unit, slot.name, error=f"internal error ({exc.cause!r})"))
                continue
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
                events.append(Event(LOST, unit, slot.name, error=f"worker {slot.name} died "
                                    f"({type(exc).__name__})"))
                self._slots[self._slots.index(slot)] = self._spawn()
                continue
            if kind == "failed":
                events.append(Event(FAILED, unit, slot.name, error=value))
                continue
            write_bytes_atomic(unit.target, data)
            events.append(Event(PROGRESS, unit, slot.name, frames=value.frames))
            events.append(Event(DONE, unit, slot.name, result=value))
        return events

    def close(self) -> None:
        ray = self._ray
        for slot in self._slots:
            try:
                ray.kill(slot.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._slots = []
        if self._owns and ray.is_initialized():
            ray.shutdown()
            self._owns = False
