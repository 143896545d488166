"""`bench-compare`: several `bench --json` files side by side, as a markdown table and a
PNG bar chart (FPS per size; one bar per machine / provider / precision)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from realtime_style.errors import InputError, MissingExtra


def load(paths: list[str]) -> list[tuple[str, dict]]:
    runs = []
    for p in paths:
        path = Path(p)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from exc
        if not isinstance(data, dict) or "results" not in data or "machine" not in data:
            raise InputError(f"{path} is not a `realtime-style bench --json` file")
        runs.append((machine_label(data["machine"], path), data))
    return runs


def machine_label(machine: dict, path: Path) -> str:
    gpu = machine.get("gpu")
    name = gpu[0] if gpu else f"{machine.get('cpu', '?')} ({machine.get('cores', '?')} cores)"
    return f"{name} [{path.stem}]"


def provider_of(result: dict) -> str:
    active = result.get("providers_active") or []
    short = {"TensorrtExecutionProvider": "tensorrt", "CUDAExecutionProvider": "cuda",
             "CPUExecutionProvider": "cpu"}
    return short.get(active[0], active[0]) if active else f"{result['provider_requested']} (did not load)"


def markdown(runs: list[tuple[str, dict]]) -> str:
    lines = ["| machine | style | arch | size | provider | precision | mode | FPS | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, data in runs:
        for r in data["results"]:
            if r.get("error"):
                fps, p50, p95 = f"error: {r['error']}", "", ""
            else:
                lat = r.get("latency_ms") or {}
                fps, p50, p95 = f"{r['fps']:.1f}", f"{lat.get('p50', '')}", f"{lat.get('p95', '')}"
            lines.append(f"| {label} | {r['style']} | {r.get('arch', '?')} | {r['size']} | {provider_of(r)} | "
                         f"{r['precision']} | {r['mode']} | {fps} | {p50} | {p95} |")
    return "\n".join(lines) + "\n"


def plot(runs: list[tuple[str, dict]], out: Path, mode: str = "model") -> Path:
    """Grouped bars: x = size (per style), one bar per machine / provider / precision."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtra("--plot needs matplotlib: pip install 'realtime-style[bench]'") from exc
    from realtime_style.fsutil import atomic_path

    series: dict[str, dict[str, float]] = defaultdict(dict)
    groups: list[str] = []
    for label, data in runs:
        for r in data["results"]:
            if r["mode"] != mode or r.get("error"):
                continue
            group = f"{r['style']}\n{r['size']}"
            if group not in groups:
                groups.append(group)
            series[f"{label} | {provider_of(r)} {r['precision']}"][group] = r["fps"]
    if not series:
        raise InputError(f"no successful {mode} results to plot")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) * max(1, len(series)) ** 0.5), 4.5), dpi=120)
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [values.get(g, 0.0) for g in groups], width, label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel(f"{mode}-only FPS" if mode == "model" else "pipeline FPS")
    ax.set_title(f"realtime-style bench ({mode})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
