"""What the measurements in this folder share: their common flags, alternating timed rounds,
percentiles, targets, machine facts, an atomic JSON result, and tiny generated inputs.

A script run as ``python benchmarks/NAME.py`` has this folder first on ``sys.path``, so
``import harness`` needs no path manipulation.

Common flags (``parser``):
- ``--smoke DIR``: a quick run on tiny generated inputs (``DIR/inputs``: a generated ONNX
  style model, a short clip), a frame or two, nothing read from
  ``../shared``; the result goes to ``DIR/result.json`` (tests/test_benchmark_scripts.py runs
  every script this way).
- ``--json [PATH]``: also write the result to PATH, atomically (without PATH: print only the JSON).
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np

from realtime_style.fsutil import write_bytes_atomic

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


# -- flags -------------------------------------------------------------------------------------
def parser(doc: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the common flags; its description is the first line of ``doc``."""
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.add_argument("--smoke", type=Path, default=None, metavar="DIR",
                    help="a quick run on tiny generated inputs, everything written under DIR")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="also write the JSON result to PATH (atomically)")
    return ap


def parse(ap: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``ap.parse_args``; with ``--smoke DIR`` it makes ``DIR/inputs`` and sends the result to
    ``DIR/result.json`` unless ``--json PATH`` says otherwise."""
    args = ap.parse_args(argv)
    if args.smoke is not None:
        args.smoke = args.smoke.resolve()
        inputs(args).mkdir(parents=True, exist_ok=True)
        if not args.json:
            args.json = str(args.smoke / "result.json")
    return args


def inputs(args: argparse.Namespace) -> Path:
    """Where a smoke run's generated inputs go."""
    return args.smoke / "inputs"


def size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> (width, height)."""
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


# -- results -----------------------------------------------------------------------------------
def write_json(path: str | Path, report: dict, indent: int | None = 2) -> None:
    """``report`` as JSON at ``path``, written beside it and renamed (never half a file)."""
    write_bytes_atomic(Path(path), (json.dumps(report, indent=indent) + "\n").encode())


def emit(report: dict, args: argparse.Namespace, indent: int | None = 2) -> None:
    """Print the result as JSON, and write it to ``--json PATH`` when given."""
    print(json.dumps(report, indent=indent), flush=True)
    if getattr(args, "json", None):
        write_json(args.json, report, indent)


def target(value: float, goal: float, *, at_most: bool = False) -> dict:
    """A target reported, not asserted: the goal, the measured value's ratio to it, and whether it is met."""
    return {"goal": f"{'<=' if at_most else '>='} {goal:g}", "value": round(value, 3),
            "ratio_to_goal": round(value / goal, 3) if goal else None,
            "met": bool(value <= goal if at_most else value >= goal)}


# -- timing ------------------------------------------------------------------------------------
def alternate(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each measure once per round, in turn, ``rounds`` times: drift of the machine's speed hits
    them all alike. Returns every measure's values in round order (compare their medians)."""
    values: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            values[name].append(measure())
    return values


def percentiles(values: list[float], points: tuple[int, ...] = (50, 95, 99), digits: int = 1) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` of ``values`` (numpy's linear interpolation)."""
    return {f"p{p}": round(float(np.percentile(values, p)), digits) for p in points}


# -- machine -----------------------------------------------------------------------------------
def machine() -> str:
    """The processor as Python names it (the short form the speed tables quote)."""
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    """CPU, cores, memory, GPUs, library versions: what `realtime-style doctor` reports."""
    from realtime_style.machine import machine_info

    return machine_info()


def cpu_line() -> str:
    """``CPU, N cores``."""
    info = machine_facts()
    return f"{info['cpu']}, {info['cores']} cores"


# -- generated inputs for smoke runs -----------------------------------------------------------
def tiny_model(directory: Path) -> Path:
    """A tiny contract-following ONNX style model (one 3x3 conv), written to ``directory``."""
    from realtime_style.models.synthetic import write_style_model

    return write_style_model(directory / "tiny.onnx")


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 30, preset: str | None = None) -> Path:
    """An H.264 clip of a slow pan over the project's test card (``preset``: x264's, default its own)."""
    import av

    from realtime_style.testcard import card_image

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if preset:
            stream.options = {"preset": preset}
        base = card_image(height + 64, width + 64)
        for i in range(frames):  # a slow pan over the test card
            img = np.ascontiguousarray(base[i % 64 : i % 64 + height, i % 64 : i % 64 + width])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path

