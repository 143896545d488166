"""`bench`: model-only and pipeline speed for each style x size x provider x precision.

Model-only: the prepared frame through ``StyleEngine.infer``, the network as the engine
runs it (on a GPU through its device buffers and per-size session; the output comes back to
the host, so the device is synchronised), warm-up excluded, latency percentiles, FPS as the median of
``rounds`` rounds. Pipeline: a synthetic source (pre-rendered, not paced) -> engine ->
smoothing -> a sink that discards, with the per-stage breakdown. A provider that does not
load is reported with its reason, never skipped silently; the provider that actually ran
is recorded.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
from typing import Callable, Iterator

import numpy as np

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.engine import auto_threads, busy_cores, usable_cores
from realtime_style.engine.session import first_line
from realtime_style.engine.timing import model_latencies
from realtime_style.errors import StyleError
from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.models.registry import style_label
from realtime_style.pipeline import Pipeline

SCHEMA_VERSION = 1
MODES = ("model", "pipeline")
# What each mode measures, printed before the results and kept in the JSON.
MODE_NOTES = {
    "model": "model: the network alone on a ready frame, one frame at a time with every CPU thread; "
             "latency = one inference (the floor for `live`)",
    "pipeline": "pipeline: `convert`'s throughput: unpaced frames -> engine (several frames at once on the CPU) "
                "-> smoothing -> discarded; fps can exceed model fps, and latency is a frame's time through "
                "the queues, not `live`'s camera-to-screen latency (live keeps one frame in flight: "
                "`live --stats`)",
}


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not on this platform
        return None


def busy_warning(load: list[float] | None, cores: int, busy_now: float | None = None) -> str | None:
    """A warning when other work held at least half a core over the last minute before the run,
    or holds one now."""
    if load is None or (load[0] < 0.5 and not busy_now):
        return None
    now = f", {busy_now:g} busy now" if busy_now is not None else ""
    threads = auto_threads(cores, busy_now) if busy_now is not None else 0
    return (f"this machine was busy before the run (load average {load[0]:.1f} on {cores} cores{now}): figures "
            "are lower and noisier than on an idle machine"
            + (f", and --threads 0 chose {threads} thread{'s' if threads > 1 else ''}" if threads else "")
            + "; rerun when idle for figures to compare")


@dataclasses.dataclass(frozen=True)
class BenchPlan:
    styles: list[str]
    sizes: list[tuple[int, int]]  # (width, height)
    providers: list[str]
    precisions: list[str]
    modes: list[str]
    frames: int = 100
    warmup: int = 10
    rounds: int = 5
    smooth: float = 0.8
    threads: int = 0
    per_size: bool = True  # on a GPU, a session made for each size (CUDA graph / exact TensorRT profile)
    json_path: str | None = None  # where to write the report, if anywhere


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)}


def time_model(engine: StyleEngine, width: int, height: int, frames: int, warmup: int, rounds: int) -> dict:
    """Model-only: ``rounds`` rounds of ``engine.infer`` on a prepared test card; FPS is the
    median round's, latencies are every call's."""
    per_round = max(1, frames // rounds)
    latencies, round_fps = [], []
    for i in range(rounds):
        times = model_latencies(engine, height, width, runs=per_round, warmup=warmup if i == 0 else 0)
        latencies += times
        round_fps.append(per_round / sum(times))
    return {"frames": len(latencies), "fps": round(statistics.median(round_fps), 2),
            "latency_ms": percentiles(latencies)}


class _Frames:
    """Pre-rendered frames of the synthetic scene, handed out as fast as they are taken."""

    def __init__(self, width: int, height: int, count: int) -> None:
        from realtime_style.io.live_sources import SyntheticSource

        scene = SyntheticSource((width, height))
        self._pictures = [scene.render(i) for i in range(min(count, 30))]
        self.count = count

    def frames(self) -> Iterator[Frame]:
        for i in range(self.count):
            yield Frame(i, self._pictures[i % len(self._pictures)])

    def close(self) -> None:
        pass


class _Discard:
    def __init__(self) -> None:
        self.latencies: list[float] = []

    def write(self, frame: Frame) -> None:
        self.latencies.append(time.perf_counter() - frame.captured)

    def finish(self, trailing) -> None:
        pass

    def abort(self) -> None:
        pass


def time_pipeline(engine: StyleEngine, width: int, height: int, frames: int, warmup: int, smooth: float) -> dict:
    from realtime_style.temporal.smoother import Smoother

    fixed = FrameSettings(strength=engine.options.strength, preserve_color=engine.options.preserve_color)

    def stylize(frame: Frame) -> Frame:  # as convert runs it: every frame with the options' settings
        s = frame.settings
        frame.output = engine.stylize(frame.rgb, strength=s.strength, preserve_color=s.preserve_color)
        return frame

    stages = [("engine", stylize, engine.workers)]
    if smooth > 0:
        stages.append(("smooth", Smoother(smooth)))
    engine.warmup(height, width, runs=max(1, warmup // 2))
    sink = _Discard()
    stats = Pipeline(_Frames(width, height, frames), stages, sink, queue_size=max(4, 2 * engine.workers),
                     settings=lambda: fixed).run()
    return {"frames": stats.frames_out, "fps": round(stats.fps, 2), "latency_ms": percentiles(sink.latencies),
            "stages_ms_per_frame": {s.name: round(s.ms_per_frame, 3) for s in stats.stages},
            "workers": engine.workers, "smooth": smooth}


def run(plan: BenchPlan, resolve: Callable[[str], object], on_result: Callable[[dict], None] = lambda r: None,
        cache_dir=None) -> list[dict]:
    results = []
    for style in plan.styles:
        for provider in plan.providers:
            for precision in plan.precisions:
                base = {"style": style_label(style), "provider_requested": provider, "precision": precision}
                engines: dict[str, StyleEngine | None] = {}
                error = None
                try:
                    model = resolve(style)
                    for mode in plan.modes:
                        # model-only: one stream, every core; pipeline: the engine as convert runs it
                        options = InferenceOptions(provider=provider, precision=precision, threads=plan.threads,
                                                   workers=1 if mode == "model" else 0, one_size=True,
                                                   per_size=plan.per_size)
                        engines[mode] = StyleEngine(model, options, cache_dir=cache_dir)
                except StyleError as exc:
                    error = str(exc)
                for width, height in plan.sizes:
                    for mode in plan.modes:
                        entry = dict(base, size=f"{width}x{height}", mode=mode)
                        engine = engines.get(mode)
                        if engine is None:
                            entry.update(providers_active=[], arch="unknown", error=error or "not run")
                        else:
                            entry.update(arch=engine.signature.metadata.get("arch", "unknown"),
                                         providers_active=engine.providers_active, precision=engine.precision,
                                         threads=engine.threads, notes=engine.notes)
                            try:
                                if mode == "model":
                                    entry.update(time_model(engine, width, height, plan.frames, plan.warmup,
                                                            plan.rounds))
                                else:
                                    entry.update(time_pipeline(engine, width, height, plan.frames, plan.warmup,
                                                               plan.smooth))
                            except Exception as exc:  # noqa: BLE001 - an ORT failure is a result too
                                entry["error"] = first_line(exc)
                            # on a GPU: did this size run on a session made for it (CUDA graph / exact
                            # TensorRT profile), or on the general one
                            entry["per_size_session"] = engine.per_size_session(height, width)
                            entry["per_size_enabled"] = plan.per_size
                            entry["gates_db"] = gate_values(engine.gates)
                        results.append(entry)
                        on_result(entry)
    return results


def gate_values(gates: dict[str, float]) -> dict[str, float | str]:
    """The engine's gate measurements (dB) for JSON: rounded, "identical" for an exact match."""
    return {k: round(v, 2) if math.isfinite(v) else "identical" for k, v in gates.items()}


def report(results: list[dict], machine: dict, load: dict | None = None, modes=MODES) -> dict:
    data = {"schema_version": SCHEMA_VERSION, "machine": machine, "results": results,
            "modes": {m: MODE_NOTES[m] for m in modes}}
    if load is not None:
        data["load_average"] = load  # {"before": [1, 5, 15 min], "after": [...], "warning": str | None}
    return data


def run_plan(plan: BenchPlan, on_result: Callable[[dict], None] = lambda r: None,
             on_note: Callable[[str], None] = lambda m: None) -> dict:
    """``bench`` as the command runs it: what each mode measures, a warning when the machine is
    busy, styles from the registry, the report with the machine's facts and load average,
    written to ``plan.json_path`` when given."""
    import json

    from realtime_style.fsutil import write_bytes_atomic
    from realtime_style.machine import machine_info
    from realtime_style.models import registry

    for mode in plan.modes:
        on_note(MODE_NOTES[mode])
    before = load_average()
    warning = busy_warning(before, usable_cores(), busy_cores())
    if warning:
        on_note(f"warning: {warning}")
    results = run(plan, registry.resolve_style, on_result=on_result, cache_dir=registry.home() / "trt_cache")
    data = report(results, machine_info(), {"before": before, "after": load_average(), "warning": warning},
                  plan.modes)
    if plan.json_path:
        write_bytes_atomic(plan.json_path, (json.dumps(data, indent=2) + "\n").encode())
    return data


def describe(r: dict) -> str:
    """One line for one result, as `bench` prints it while it runs."""
    head = f"{r['style']:<10} {r['size']:>9} {r['provider_requested']:<8} {r['precision']:<4} {r['mode']:<8}"
    if r.get("error"):
        return f"{head} did not run: {r['error']}"
    lat = r["latency_ms"]
    return (f"{head} {r['fps']:8.1f} fps  p50 {lat['p50']:.1f} ms  p95 {lat['p95']:.1f} ms  "
            f"[{', '.join(r['providers_active'])}]")
