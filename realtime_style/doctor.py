"""``realtime-style doctor``: collect what each subsystem's probe finds, then render it.

The probes live with their subsystems (:mod:`realtime_style.machine`,
:mod:`realtime_style.engine.provider_probe`, :mod:`realtime_style.io.codecs`,
:mod:`realtime_style.io.display`, :mod:`realtime_style.io.camera`,
:mod:`realtime_style.models.registry`); each returns a small typed section with a
``to_json()``. :func:`collect` runs each under one guard, so a probe that raises costs only
its own section (replaced by that section's ``from_error``), and never raises itself; the
probes that can block run under timeouts. Must stay torch-free, even indirectly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

from realtime_style import machine
from realtime_style.engine import provider_probe
from realtime_style.engine.provider_probe import ProviderStatus
from realtime_style.io import camera, codecs, display
from realtime_style.io.camera import CameraReport
from realtime_style.io.codecs import CodecReport
from realtime_style.io.display import DisplayReport
from realtime_style.machine import GpuReport, Versions
from realtime_style.models import registry
from realtime_style.models.registry import HomeStatus
from realtime_style.probing import describe_error

__all__ = ["Report", "collect", "render_text"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Report:
    versions: Versions
    providers: list[ProviderStatus]
    gpu: GpuReport
    codecs: CodecReport
    display: DisplayReport
    cameras: CameraReport
    home: HomeStatus

    def to_json(self) -> dict[str, Any]:
        """The ``doctor --json`` document."""
        return {
            "versions": self.versions.to_json(),
            "providers": [p.to_json() for p in self.providers],
            "gpu": self.gpu.to_json(),
            "codecs": self.codecs.to_json(),
            "display": self.display.to_json(),
            "cameras": self.cameras.to_json(),
            "home": self.home.to_json(),
        }


def _guarded(probe: Callable[[], T], fallback: Callable[[str], T]) -> T:
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - whatever a probe raises becomes its section's fallback
        return fallback(describe_error(exc))


def collect(probe_cameras: int = 4, timeout_s: float = 5.0) -> Report:
    """Gather diagnostics about this machine; never raises.

    ``timeout_s`` bounds each individual blocking probe (each provider session,
    ``nvidia-smi``, the NVENC test, camera probing as a whole).
    """
    gpu = _guarded(lambda: machine.probe_gpus(timeout_s), GpuReport.from_error)
    return Report(
        versions=_guarded(machine.probe_versions, Versions.from_error),
        providers=_guarded(lambda: provider_probe.probe_providers(timeout_s), provider_probe.unavailable),
        gpu=gpu,
        codecs=_guarded(lambda: codecs.probe_codecs(bool(gpu.devices), timeout_s), CodecReport.from_error),
        display=_guarded(display.probe_display, DisplayReport.from_error),
        cameras=_guarded(lambda: camera.probe_cameras(probe_cameras, timeout_s), CameraReport.from_error),
        home=_guarded(registry.home_status, HomeStatus.from_error),
    )


# -- text ------------------------------------------------------------------------------------


def _yn(value: Any) -> str:
    return "yes" if value else "no"


def _versions_lines(v: Versions) -> list[str]:
    if v.error is not None:
        return [f"  error: {v.error}"]
    lines = [f"  {label} {value}" for label, value in (
        ("realtime-style", v.realtime_style),
        ("python", v.python),
        ("onnxruntime", v.onnxruntime),
        ("onnx", v.onnx),
        ("numpy", v.numpy),
        ("opencv", v.opencv),
        ("av (PyAV)", v.av),
    )]
    if v.ffmpeg_libraries:
        lines.append("  ffmpeg libs: " + ", ".join(f"{k} {val}" for k, val in v.ffmpeg_libraries.items()))
    lines.append(f"  platform: {v.platform}")
    lines.append(f"  cpu: {v.cpu_model} ({v.usable_cores} usable of {v.logical_cores} logical cores)")
    return lines


def _provider_line(p: ProviderStatus) -> str:
    if not p.compiled_in:
        state = "not compiled in"
    elif p.loads:
        state = "compiled in, loads"
    else:
        state = "compiled in, does not load"
    if p.detail and not p.loads:
        state += f" ({p.detail})"
    return f"  {p.name}: {state}"


def _gpu_lines(g: GpuReport) -> list[str]:
    if not g.devices:
        return [f"  none ({g.note or 'no GPU found'})"]
    return [f"  {d.name} (driver {d.driver_version}, {d.memory_total})" for d in g.devices]


def _codec_lines(c: CodecReport) -> list[str]:
    lines = []
    if c.encoders:
        lines.append("  encoders: " + ", ".join(f"{k} {_yn(val)}" for k, val in c.encoders.items()))
    if c.decoders:
        lines.append("  decoders: " + ", ".join(f"{k} {_yn(val)}" for k, val in c.decoders.items()))
    lines.append(f"  NVENC: {'usable' if c.nvenc_usable else 'not usable'}"
                 + (f" ({c.nvenc_reason})" if c.nvenc_reason else ""))
    if c.error:
        lines.append(f"  error: {c.error}")
    return lines


def _display_lines(d: DisplayReport) -> list[str]:
    if d.error:
        return [f"  error: {d.error}"]
    where = d.wayland_display or d.display or d.note or ""
    return [
        f"  display available: {_yn(d.available)}" + (f" ({where})" if where else ""),
        f"  OpenCV GUI backend: {d.gui.backend or 'unknown'}",
        f"  preview window possible: {_yn(d.preview_possible)}",
    ]


def _camera_lines(cam: CameraReport) -> list[str]:
    lines = []
    for dev in cam.devices:
        fps = f" @ {dev.fps:g} fps" if dev.fps else ""
        lines.append(f"  camera {dev.index}: {dev.width}x{dev.height}{fps}")
    lines += [f"  camera {bad.index}: {bad.reason}" for bad in cam.failed]
    if not (cam.devices or cam.failed):
        lines.append(f"  none found ({cam.note or 'nothing probed'})")
    elif cam.note:
        lines.append(f"  note: {cam.note}")
    return lines


def _home_lines(h: HomeStatus) -> list[str]:
    if h.error:
        return [f"  error: {h.error}"]
    extra = f" ({h.detail})" if h.detail else ""
    return [f"  {h.path} [{h.source}] writable: {_yn(h.writable)}{extra}"]


def render_text(report: Report) -> list[str]:
    """Turn a :func:`collect` report into human-readable lines (no printing)."""
    return [
        "Versions", *_versions_lines(report.versions),
        "ONNX Runtime providers", *map(_provider_line, report.providers),
        "GPU", *_gpu_lines(report.gpu),
        "Codecs (PyAV)", *_codec_lines(report.codecs),
        "Display", *_display_lines(report.display),
        "Cameras", *_camera_lines(report.cameras),
        "Model cache", *_home_lines(report.home),
    ]
