"""`batch`: many videos to OUTDIR/<stem>.mp4, long ones split at keyframes, on a local process
pool or a Ray cluster, resumable through OUTDIR/batch.json.

The steps: expand the inputs; give each an output name; skip what an earlier run finished; cut
each remaining file into units (the whole file through ``convert``'s path, or segments); let
the executor's workers do the units; join each file's segments with the source's audio;
record every step in batch.json. One failing input fails alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from realtime_style.batch import plan as planning
from realtime_style.batch import state as states
from realtime_style.batch.executor import DONE, FAILED, LOST, PROGRESS, STARTED, Event
from realtime_style.batch.worker import Unit, WorkerSpec
from realtime_style.errors import InputError, OutputError
from realtime_style.interrupt import Interrupt
from realtime_style.io.images import VIDEO_SUFFIXES
from realtime_style.io.video_file import FrameWindow

ENGINES = ("local", "ray")
WORKDIR = ".batch"  # OUTDIR/.batch/<output stem>/: segments and whole-file results before they are placed


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    inputs: tuple[str, ...]
    outdir: str
    worker: WorkerSpec = WorkerSpec()
    engine: str = "local"  # local | ray
    address: str | None = None  # ray: "auto" or HOST:PORT; None: a local Ray instance
    workers: int = 0  # 0: one per GPU, else one per CPU core (ray: per slot of the cluster)
    segment_seconds: float | None = None  # None: automatic; 0: never split
    overwrite: bool = False  # replace existing outputs that no earlier batch in OUTDIR wrote
    max_retries: int = 2
    warmup_frames: int = planning.WARMUP_FRAMES  # frames before a cut the smoother sees first (with smoothing on)


@dataclasses.dataclass
class InputSummary:
    input: str
    output: str
    state: str  # done | skipped (done by an earlier run) | failed | pending (interrupted)
    frames: int = 0
    seconds: float = 0.0  # wall time from its first unit's start to its output in place
    fps: float = 0.0
    worker: list[str] = dataclasses.field(default_factory=list)
    retries: int = 0
    segments: int = 0
    error: str = ""

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class BatchResult:
    outdir: Path
    engine: str
    workers: int
    inputs: list[InputSummary]
    wall_s: float
    interrupted: bool = False
    startup_s: float = 0.0  # starting the executor (processes spawned; Ray started or joined, actors ready)
    split_s: float = 0.0  # demuxing for the cuts
    join_s: float = 0.0  # remuxing segments and audio

    def count(self, state: str) -> int:
        return sum(1 for i in self.inputs if i.state == state)

    @property
    def failed(self) -> list[InputSummary]:
        return [i for i in self.inputs if i.state == states.FAILED]

    def as_json(self) -> dict:
        frames = sum(i.frames for i in self.inputs if i.state == states.DONE)
        return {"outdir": str(self.outdir), "engine": self.engine, "workers": self.workers,
                "done": self.count(states.DONE), "skipped": self.count("skipped"), "failed": len(self.failed),
                "pending": self.count(states.PENDING), "interrupted": self.interrupted, "frames": frames,
                "seconds": round(self.wall_s, 3), "fps": round(frames / self.wall_s, 2) if self.wall_s else 0.0,
                "startup_s": round(self.startup_s, 3), "split_s": round(self.split_s, 3),
                "join_s": round(self.join_s, 3),
                "inputs": [i.as_json() for i in self.inputs]}


def _ignore(*_args) -> None:
    pass


def output_options(options: BatchOptions) -> dict:
    """What shapes an output: a recorded input is redone when any of these change (not the
    segment length: a segmented output has the same frames and timestamps as a whole one)."""
    spec, eng = options.worker, options.worker.engine.options
    return {"style": options.worker.engine.style, "strength": eng.strength, "preserve_color": eng.preserve_color,
            "max_side": eng.max_side, "precision": eng.precision, "smooth": spec.smooth, "codec": spec.codec,
            "crf": spec.crf, "preset": spec.preset, "audio": spec.audio}


def count_workers(options: BatchOptions) -> tuple[int, list[int] | None]:
    """Local workers: as asked, else one per GPU (a GPU provider, NVIDIA devices present), else one
    single-threaded worker per core (``--threads N``: one per N cores)."""
    from realtime_style.engine.engine import usable_cores
    from realtime_style.machine import gpu_present, probe_gpus

    provider = options.worker.engine.options.provider
    gpus = []
    if provider != "cpu" and gpu_present():
        gpus = list(range(len(probe_gpus(5.0).devices)))
    if gpus:
        n = options.workers or len(gpus)
        return n, [gpus[i % len(gpus)] for i in range(n)]
    threads = options.worker.engine.options.threads
    return options.workers or max(1, usable_cores() // max(threads, 1)), None


def make_executor(options: BatchOptions, on_note: Callable[[str], None]):
    if options.engine == "ray":
        from realtime_style.batch.ray_executor import RayExecutor

        return RayExecutor(options.worker, workers=options.workers, address=options.address, on_note=on_note)
    from realtime_style.batch.local import LocalExecutor

    workers, gpus = count_workers(options)
    spec = options.worker
    if gpus is None and spec.engine.options.threads == 0:  # CPU: one thread per worker, a worker per core
        spec = dataclasses.replace(spec, engine=spec.engine.with_options(threads=1, workers=1))
    elif spec.engine.options.workers == 0:
        spec = dataclasses.replace(spec, engine=spec.engine.with_options(workers=1))
    return LocalExecutor(spec, workers, gpus)


@dataclasses.dataclass
class _Input:
    path: Path
    key: str
    summary: InputSummary
    record: dict
    workdir: Path
    segments: list[planning.SegmentPlan] = dataclasses.field(default_factory=list)
    units_left: set[str] = dataclasses.field(default_factory=set)
    started: float | None = None
    frames_expected: int = 0


class _Batch:
    """The bookkeeping of one run: which input each event belongs to, batch.json, the joins."""

    def __init__(self, options: BatchOptions, outdir: Path, state: states.BatchState,
                 on_input: Callable[[InputSummary], None], on_progress: Callable[[int], None],
                 on_unit: Callable[[Event], None]) -> None:
        self.options, self.outdir, self.state = options, outdir, state
        self.on_input, self.on_progress, self.on_unit = on_input, on_progress, on_unit
        self.inputs: dict[str, _Input] = {}
        self.split_s = 0.0  # demuxing for the cuts
        self.join_s = 0.0

    def finish(self, item: _Input, state: str, error: str = "") -> None:
        s = item.summary
        s.state, s.error = state, error
        if item.started is not None:
            s.seconds = time.perf_counter() - item.started
            s.fps = s.frames / s.seconds if s.seconds and state == states.DONE else 0.0
        item.record.update(state=state, error=error or None, frames=s.frames, seconds=round(s.seconds, 3),
                           fps=round(s.fps, 2), worker=s.worker, retries=s.retries)
        if state == states.FAILED:
            shutil.rmtree(item.workdir, ignore_errors=True)
            item.record["segments"] = []
        self.state.save()
        self.on_input(s)

    def handle(self, event: Event) -> None:
        item = self.inputs[event.unit.key]
        if event.kind == STARTED:
            item.started = item.started or time.perf_counter()
            if event.worker not in item.summary.worker:
                item.summary.worker.append(event.worker)
            self.on_unit(event)
            return
        if event.kind == PROGRESS:
            self.on_progress(event.frames)
            return
        if item.summary.state == states.FAILED:
            return  # a unit of an input that failed already
        if event.kind == LOST:
            item.summary.retries += 1
            item.record["retries"] = item.summary.retries
            self.state.save()
            return
        if event.kind == FAILED:
            self.finish(item, states.FAILED, event.error)
            return
        if event.kind == DONE:
            unit = event.unit
            item.units_left.discard(unit.id)
            item.summary.frames += event.result.frames
            if unit.segment is None:
                os.replace(unit.target, self.outdir / item.record["output"])
                shutil.rmtree(item.workdir, ignore_errors=True)
                self.finish(item, states.DONE)
                return
            seg = item.record["segments"][unit.segment]
            seg.update(state=states.DONE, worker=event.worker, seconds=round(event.result.wall_s, 3))
            self.state.save()
            if not item.units_left:
                self.join(item)

    def join(self, item: _Input) -> None:
        from realtime_style.batch.join import join

        files = [item.workdir / seg["file"] for seg in item.record["segments"]]
        target = self.outdir / item.record["output"]
        try:
            joined = join(files, item.path, target, audio=self.options.worker.audio)
        except (InputError, OutputError) as exc:
            self.finish(item, states.FAILED, str(exc))
            return
        self.join_s += joined.wall_s
        if joined.frames != item.frames_expected:
            target.unlink(missing_ok=True)
            self.finish(item, states.FAILED, f"{item.path}: joined {joined.frames} frames where the file has "
                        f"{item.frames_expected}; rerun with --segment-seconds 0")
            return
        item.summary.frames = joined.frames
        shutil.rmtree(item.workdir, ignore_errors=True)
        item.record["segments"] = []
        self.finish(item, states.DONE)


def _clean_temporaries(workdir: Path) -> None:
    """Half-written files of a run that was killed (``.NAME.xxxx.tmp.mp4``)."""
    if workdir.is_dir():
        for p in workdir.iterdir():
            if p.name.startswith(".") and ".tmp" in p.name:
                states.remove_quietly(p)


def run(options: BatchOptions, *, on_note: Callable[[str], None] = _ignore,
        on_start: Callable[[int], None] = _ignore, on_progress: Callable[[int], None] = _ignore,
        on_input: Callable[[InputSummary], None] = _ignore,
        on_unit: Callable[[Event], None] = _ignore, stop: threading.Event | None = None) -> BatchResult:
    """Run a batch. ``on_start(frames)`` with the frames planned so far (again as each input is
    planned), ``on_progress(frames)`` as frames
    are written, ``on_input`` as each input ends, ``on_unit`` as each unit starts on a worker
    (its event names the worker). Ctrl-C (or ``stop``) ends it early: finished files and
    segments are kept, the result says ``interrupted``."""
    from realtime_style.batch.scheduler import schedule
    from realtime_style.models import registry

    t0 = time.perf_counter()
    if options.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    outdir = Path(options.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir} exists and is not a directory; -o names the output directory")
    registry.resolve_style(options.worker.engine.style)  # a wrong style name fails before any work
    if options.engine == "ray":
        from realtime_style.batch.ray_executor import require_ray

        require_ray()
    found = planning.expand_inputs(list(options.inputs), outdir)
    if not found.files and not found.missing:
        raise InputError(f"no video files in {', '.join(options.inputs)} (looked for "
                         f"{', '.join(VIDEO_SUFFIXES[:6])}, ...)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {outdir}: {exc.strerror or exc}") from exc
    state = states.BatchState(outdir)
    names = planning.assign_names(found.files, state.names())
    stop = stop or threading.Event()
    summaries: list[InputSummary] = [InputSummary(arg, "", states.FAILED, error=f"{arg}: no such file "
                                                  "(or a pattern that matches nothing)") for arg in found.missing]
    batch = _Batch(options, outdir, state, on_input, on_progress, on_unit)
    todo = _triage(options, found.files, names, state, summaries, outdir)
    state.save()
    for s in summaries:
        if s.state in (states.FAILED, "skipped"):
            on_input(s)
    executor = None
    workers, startup_s = 0, 0.0
    try:
        t_start = time.perf_counter()
        executor = make_executor(options, on_note) if todo else None
        startup_s = time.perf_counter() - t_start
        workers = executor.workers if executor else 0
        if executor is not None:
            units = _plan(options, todo, state, batch, workers, outdir, on_start)
            with Interrupt(on_first=stop.set, message="\nstopping: finished files and segments are kept "
                           "(Ctrl-C again to quit at once)\n"):
                schedule(executor, units, batch.handle, stop, max_retries=options.max_retries)
    finally:
        if executor is not None:
            executor.close()
        for item in batch.inputs.values():
            if item.summary.state in (states.RUNNING, states.PENDING):
                item.summary.state = states.PENDING
                item.record["state"] = states.PENDING
                _clean_temporaries(item.workdir)
            with contextlib.suppress(OSError):
                item.workdir.rmdir()  # only when empty: no finished segment to keep
        state.save()
        with contextlib.suppress(OSError):
            (outdir / WORKDIR).rmdir()  # only when empty: nothing is left to resume
    return BatchResult(outdir, options.engine, workers, summaries, time.perf_counter() - t0,
                       interrupted=stop.is_set(), startup_s=startup_s, split_s=batch.split_s, join_s=batch.join_s)


def _triage(options: BatchOptions, files: list[Path], names: dict[str, str], state: states.BatchState,
            summaries: list[InputSummary], outdir: Path) -> list[tuple[Path, InputSummary]]:
    """Inputs done by an earlier run are skipped, unreadable ones and those whose output is
    someone else's file fail; the rest are returned, in order."""
    todo = []
    opts = output_options(options)
    for path in files:
        key = planning.input_key(path)
        name = names[key]
        summary = InputSummary(str(path), str(outdir / name), states.PENDING)
        summaries.append(summary)
        record = state.inputs.get(key, {})
        try:
            planning.check_readable(path)
        except InputError as exc:
            summary.state, summary.error = states.FAILED, str(exc)
            state.record(key).update(input=str(path), output=name, state=states.FAILED, error=str(exc), segments=[])
            continue
        if states.is_done(record, outdir, states.fingerprint(path), opts):
            summary.state = "skipped"
            summary.frames = record.get("frames", 0)
            summary.worker = list(record.get("worker") or [])
            continue
        target = outdir / name
        if target.exists() and not options.overwrite and record.get("output") != name:
            summary.state = states.FAILED
            summary.error = f"{target} exists and no earlier batch here wrote it; pass --overwrite to replace it"
            state.record(key).update(input=str(path), output=None, state=states.FAILED, error=summary.error)
            continue
        state.record(key).update(input=str(path), output=name, state=states.PENDING)  # (its segments stay)
        todo.append((path, summary))
    return todo


def _plan(options: BatchOptions, todo: list[tuple[Path, InputSummary]], state: states.BatchState, batch: _Batch,
          workers: int, outdir: Path, on_total: Callable[[int], None]) -> Iterator[Unit]:
    """Each remaining input's units: the whole file, or its segments not done by an earlier run.
    A generator: a file is demuxed for its cuts only when the workers are ready for its units, so
    a batch of many large files starts working at once instead of reading them all first."""
    smooth = options.worker.smooth
    total = 0
    opts = output_options(options)
    for path, summary in todo:
        key = planning.input_key(path)
        record = state.record(key)
        name = record["output"]
        source = states.fingerprint(path)
        t = time.perf_counter()
        packets = planning.scan_packets(path)
        batch.split_s += time.perf_counter() - t
        duration = (max(packets.pts) - min(packets.pts)) * float(packets.time_base) if packets and packets.pts else 0
        seg_s = options.segment_seconds if options.segment_seconds is not None else \
            planning.auto_segment_seconds(duration, workers)
        workdir = outdir / WORKDIR / Path(name).stem
        _clean_temporaries(workdir)
        segments = planning.plan_segments(packets, seg_s, options.warmup_frames if smooth > 0 else 0) \
            if packets else []
        reuse = states.reusable_segments(record, source, opts, workdir) if len(segments) > 1 else {}
        record.clear()
        record.update(input=str(path), output=name, state=states.RUNNING, source=source, options=opts, retries=0)
        item = _Input(path, key, summary, record, workdir)
        batch.inputs[key] = item
        workdir.mkdir(parents=True, exist_ok=True)
        if len(segments) <= 1:
            unit = Unit(f"{key}#whole", key, str(path), str(workdir / "whole.mp4"))
            item.frames_expected = packets.frames if packets else 0
            item.units_left.add(unit.id)
            record["segments"] = []
            state.save()
            total += item.frames_expected
            on_total(total)
            yield unit
            continue
        item.frames_expected = packets.frames
        item.segments = segments
        summary.segments = len(segments)
        record["segments"] = []
        units = []
        for seg in segments:
            file = f"seg-{seg.index:04d}.mp4"
            old = reuse.get(seg.index)
            same_cut = old is not None and old.get("start_pts") == seg.start_pts and old.get("end_pts") == seg.end_pts
            record["segments"].append({"index": seg.index, "start_pts": seg.start_pts, "end_pts": seg.end_pts,
                                       "frames": seg.frames, "file": file,
                                       "state": states.DONE if same_cut else states.PENDING,
                                       "worker": old.get("worker") if same_cut else None})
            if same_cut:
                summary.frames += seg.frames
                batch.on_progress(seg.frames)
                continue
            window = FrameWindow(seek_pts=packets.pts[seg.seek], warm_pts=seg.warm_pts, start_pts=seg.start_pts,
                                 end_pts=seg.end_pts)
            unit = Unit(f"{key}#{seg.index}", key, str(path), str(workdir / file), segment=seg.index, window=window,
                        frames=seg.frames, first=seg.first, stop=seg.stop, seek=seg.seek)
            units.append(unit)
            item.units_left.add(unit.id)
        state.save()
        total += item.frames_expected
        on_total(total)
        if not units:  # every segment was done by an earlier run: only the join is left
            batch.join(item)
        yield from units
