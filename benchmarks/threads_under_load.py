"""CPU threads when another job holds a core: ONNX Runtime's default against one thread and the
engine's automatic choice, model-only, with and without a busy loop beside it.

    python benchmarks/threads_under_load.py [--size 640x360] [--runs 40] [--rounds 4] [--json PATH]

Each round times every variant in turn (the machine's speed drifts), first as the machine is,
then with one busy-loop process started beside it (what "another job on one core" does). The
variants: ``ort-default`` (``intra_op_num_threads`` unset: every physical core, spinning; what
`--threads 0` meant before issue 17), ``threads=1``, ``threads=<cores>`` and ``auto`` (the engine's
choice now: every core on an idle machine, fewer when the load average says cores are taken).
The load average is recorded before each condition.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import harness

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.engine import auto_threads, usable_cores
from realtime_style.engine.timing import model_latencies
from realtime_style.models import registry


def busy_loop() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def variants(model, cores: int) -> dict[str, StyleEngine]:
    def engine(threads: int, auto: bool = False) -> StyleEngine:
        return StyleEngine(model, InferenceOptions(provider="cpu", workers=1, threads=threads, auto_threads=auto))

    return {"ort-default": engine(0), "threads=1": engine(1), f"threads={cores}": engine(cores),
            "auto": engine(0, auto=True)}


def measure(engines: dict[str, StyleEngine], w: int, h: int, runs: int, rounds: int) -> dict:
    fps = harness.alternate(rounds, {name: (lambda e=e: runs / sum(model_latencies(e, h, w, runs=runs, warmup=2)))
                                     for name, e in engines.items()})
    return {name: {"fps_median": round(statistics.median(v), 2), "fps_rounds": [round(x, 2) for x in v]}
            for name, v in fps.items()}


def main(argv: list[str] | None = None) -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--size", type=harness.size, default=(640, 360))
    ap.add_argument("--runs", type=int, default=40, help="inferences per timed round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--style", default=None)
    args = harness.parse(ap, argv)
    model = registry.resolve_style(args.style)
    if args.smoke is not None:
        model = harness.tiny_model(harness.inputs(args))
        args.size, args.runs, args.rounds = (64, 48), 3, 1
    w, h = args.size
    cores = usable_cores()
    report = {"benchmark": "threads_under_load", "machine": harness.cpu_line(), "size": f"{w}x{h}",
              "style": "tiny" if args.smoke else (args.style or registry.default_name()), "conditions": {}}
    for condition in ("as is", "one core taken"):
        loop = busy_loop() if condition == "one core taken" else None
        try:
            if loop is not None:
                time.sleep(1.0 if args.smoke else 20.0)  # let the load average see it (auto reads it)
            load = [round(v, 2) for v in os.getloadavg()]
            engines = variants(model, cores)
            report["conditions"][condition] = {
                "load_average": load, "auto_threads_chosen": engines["auto"].threads or "ort-default",
                "auto_threads_expected": auto_threads(cores) or "ort-default",
                "fps": measure(engines, w, h, args.runs, args.rounds)}
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    harness.emit(report, args)


if __name__ == "__main__":
    main()
