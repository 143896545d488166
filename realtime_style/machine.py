"""Facts about the machine we run on: library versions, CPU, NVIDIA GPUs.

``doctor`` reports them, and ``bench`` results carry :func:`machine_info` so a number
says where it was measured. Imports only the standard library at module level; each
library whose version is asked for is imported when asked, and a broken one is reported,
not raised. ``nvidia-smi`` runs under a timeout.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import platform
import shutil
import subprocess
import sys
from typing import Any

from realtime_style.probing import describe_error, run_with_timeout


@dataclasses.dataclass(frozen=True)
class Versions:
    """Versions of Python and the libraries the runtime uses, the platform and the CPU.

    ``error`` is set only by :meth:`from_error` (the probe itself failed); the JSON is then
    ``{"error": ...}`` alone.
    """

    python: str = "unknown"
    python_executable: str = ""
    realtime_style: str = "unknown"
    onnxruntime: str = "unknown"
    onnx: str = "unknown"
    numpy: str = "unknown"
    opencv: str = "unknown"
    av: str = "unknown"
    ffmpeg_libraries: dict[str, str] = dataclasses.field(default_factory=dict)  # or {"error": why}
    platform: str = "unknown"
    cpu_model: str = "unknown"
    logical_cores: int | None = None
    usable_cores: int | None = None
    error: str | None = None

    @classmethod
    def from_error(cls, reason: str) -> Versions:
        return cls(error=reason)

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        data = dataclasses.asdict(self)
        data.pop("error")
        return data


@dataclasses.dataclass(frozen=True)
class GpuDevice:
    name: str
    driver_version: str
    memory_total: str


@dataclasses.dataclass(frozen=True)
class GpuReport:
    """The NVIDIA GPUs ``nvidia-smi`` lists; ``note`` says why there are none."""

    devices: list[GpuDevice]
    note: str | None

    @classmethod
    def from_error(cls, reason: str) -> GpuReport:
        return cls([], reason)

    def to_json(self) -> dict[str, Any]:
        return {"devices": [dataclasses.asdict(d) for d in self.devices], "note": self.note}


def module_version(name: str) -> str:
    """``name.__version__``, ``"not installed"``, or why importing it failed."""
    try:
        module = __import__(name, fromlist=["_"])
    except ImportError:
        return "not installed"
    except Exception as exc:  # noqa: BLE001 - a broken install can raise anything at import
        return f"import failed ({describe_error(exc)})"
    return str(getattr(module, "__version__", "unknown"))


def cpu_model() -> str:
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() in ("model name", "hardware", "cpu model") and value.strip():
                        return value.strip()
        except OSError:
            pass
    try:
        return platform.processor() or platform.machine() or "unknown"
    except OSError:
        return "unknown"


def ffmpeg_versions() -> dict[str, str]:
    """The FFmpeg libraries PyAV was built with, e.g. ``{"libavcodec": "62.28.102", ...}``."""
    try:
        import av
    except ImportError as exc:
        return {"error": describe_error(exc)}
    out: dict[str, str] = {}
    for lib, ver in dict(getattr(av, "library_versions", None) or {}).items():
        try:
            out[str(lib)] = ".".join(str(p) for p in ver)
        except TypeError:  # not a version tuple
            out[str(lib)] = str(ver)
    info = getattr(av, "ffmpeg_version_info", None)
    if info:
        out["ffmpeg"] = str(info)
    return out


def _platform() -> str:
    try:
        return platform.platform()
    except OSError:
        return sys.platform


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count()


def probe_versions() -> Versions:
    import realtime_style

    return Versions(
        python=platform.python_version(),
        python_executable=sys.executable,
        realtime_style=str(getattr(realtime_style, "__version__", "unknown")),
        onnxruntime=module_version("onnxruntime"),
        onnx=module_version("onnx"),
        numpy=module_version("numpy"),
        opencv=module_version("cv2"),
        av=module_version("av"),
        ffmpeg_libraries=ffmpeg_versions(),
        platform=_platform(),
        cpu_model=cpu_model(),
        logical_cores=os.cpu_count(),
        usable_cores=_usable_cores(),
    )


def probe_gpus(timeout_s: float) -> GpuReport:
    """The GPUs ``nvidia-smi`` lists, waiting at most about ``timeout_s`` for it."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return GpuReport([], "nvidia-smi not found (no NVIDIA driver installed, or not on PATH)")
    cmd = [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    # subprocess.run's own timeout kills the child, but then waits for it; a
    # process stuck in the kernel driver would still block, hence the thread.
    status, value = run_with_timeout(
        lambda: subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL),
        timeout_s + 2.0,
    )
    if status == "timeout" or isinstance(value, subprocess.TimeoutExpired):
        return GpuReport([], f"nvidia-smi timed out after {timeout_s:g} s")
    if status == "error":
        return GpuReport([], f"nvidia-smi failed: {describe_error(value)}")
    proc = value
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout or "").strip().splitlines()
        return GpuReport([], f"nvidia-smi exited with {proc.returncode}" + (f": {msg[-1]}" if msg else ""))
    devices = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        parts += [""] * (3 - len(parts))
        devices.append(GpuDevice(parts[0], parts[1], parts[2]))
    return GpuReport(devices, None if devices else "nvidia-smi reported no GPUs")


def gpu_present() -> bool:
    """An NVIDIA device node exists (cheap, no driver call): then a failed GPU provider is
    worth mentioning. Always true on Windows, which has no device nodes to look at."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or sys.platform == "win32"


def machine_info(timeout_s: float = 5.0) -> dict[str, Any]:
    """What a benchmark result must say about where it ran."""
    v = probe_versions()
    gpu = probe_gpus(timeout_s)
    info: dict[str, Any] = {
        "cpu": v.cpu_model, "cores": v.usable_cores, "platform": v.platform,
        "gpu": [d.name for d in gpu.devices] or None,
        "driver": gpu.devices[0].driver_version if gpu.devices else None,
        "versions": {k: getattr(v, k) for k in ("onnxruntime", "opencv", "numpy", "python", "realtime_style")},
    }
    try:
        import onnxruntime as ort
    except ImportError as exc:
        info["onnxruntime_build"] = describe_error(exc)
        return info
    info["onnxruntime_build"] = getattr(ort, "get_build_info", lambda: "")()
    info["onnxruntime_providers"] = ort.get_available_providers()
    return info
