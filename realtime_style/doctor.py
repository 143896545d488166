"""Machine diagnostics for ``realtime-style doctor``.

Everything here is best effort: :func:`collect` never raises, and every
probe that could block (ONNX Runtime provider initialisation, ``nvidia-smi``,
camera drivers, the NVENC encoder) runs under a timeout.  Failures are
reported as data so that ``doctor --json`` always produces a document.

This module must stay torch-free: the runtime does not depend on PyTorch and
the doctor must not pull it in (not even indirectly).
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

from realtime_style.engine.ortlog import CapturedOutput, summarise_ort_log

__all__ = ["collect", "render_text", "probe_provider", "build_probe_model"]

#: Providers that are always reported, whether compiled in or not.
KEY_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)

ENCODERS = (
    "libx264",
    "libx265",
    "h264_nvenc",
    "hevc_nvenc",
    "libvpx-vp9",
    "libsvtav1",
    "aac",
)
DECODERS = ("h264", "hevc", "vp9", "av1")

# NVENC refuses very small frames on some GPUs (minimum width is ~145 px for
# H.264 on several generations), so the usability test uses a safe size.
_NVENC_TEST_SIZE = 256



# --------------------------------------------------------------------------
# generic helpers
# --------------------------------------------------------------------------


def _err(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _run_with_timeout(fn: Callable[[], Any], timeout_s: float) -> tuple[str, Any]:
    """Run ``fn`` in a daemon thread.

    Returns ``("ok", result)``, ``("error", exception)`` or
    ``("timeout", None)``.  A timed-out thread is abandoned (it is a daemon,
    so it cannot keep the interpreter alive).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported as data
            box["error"] = exc

    thread = threading.Thread(target=target, name="realtime-style-doctor", daemon=True)
    thread.start()
    thread.join(max(0.0, float(timeout_s)))
    if thread.is_alive():
        return "timeout", None
    if "error" in box:
        return "error", box["error"]
    return "ok", box.get("result")


def _jsonable(value: Any) -> Any:
    """Coerce ``value`` into plain JSON types (safety net for collect())."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    try:  # numpy scalars and friends
        item = value.item()  # type: ignore[attr-defined]
        if isinstance(item, (bool, int, float, str)):
            return _jsonable(item)
    except Exception:
        pass
    return str(value)


def _module_version(name: str, attr: str = "__version__") -> str:
    try:
        module = __import__(name, fromlist=["_"])
    except ImportError:
        return "not installed"
    except Exception as exc:  # a broken install
        return f"import failed ({_err(exc)})"
    try:
        return str(getattr(module, attr))
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------


def _cpu_model() -> str:
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() in ("model name", "hardware", "cpu model"):
                        if value.strip():
                            return value.strip()
        except Exception:
            pass
    try:
        return platform.processor() or platform.machine() or "unknown"
    except Exception:
        return "unknown"


def _ffmpeg_versions() -> dict[str, str]:
    import av

    out: dict[str, str] = {}
    libs = getattr(av, "library_versions", None) or {}
    for lib, ver in dict(libs).items():
        try:
            out[str(lib)] = ".".join(str(p) for p in ver)
        except Exception:
            out[str(lib)] = str(ver)
    info = getattr(av, "ffmpeg_version_info", None)
    if info:
        out["ffmpeg"] = str(info)
    return out


def _versions() -> dict[str, Any]:
    v: dict[str, Any] = {}
    v["python"] = platform.python_version()
    v["python_executable"] = sys.executable
    try:
        import realtime_style

        v["realtime_style"] = str(getattr(realtime_style, "__version__", "unknown"))
    except Exception:
        v["realtime_style"] = "unknown"
    v["onnxruntime"] = _module_version("onnxruntime")
    v["onnx"] = _module_version("onnx")
    v["numpy"] = _module_version("numpy")
    v["opencv"] = _module_version("cv2")
    v["av"] = _module_version("av")
    try:
        v["ffmpeg_libraries"] = _ffmpeg_versions()
    except Exception as exc:
        v["ffmpeg_libraries"] = {"error": _err(exc)}
    try:
        v["platform"] = platform.platform()
    except Exception:
        v["platform"] = sys.platform
    v["cpu_model"] = _cpu_model()
    v["logical_cores"] = os.cpu_count()
    try:
        v["usable_cores"] = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except Exception:
        v["usable_cores"] = os.cpu_count()
    return v


def machine_info(timeout_s: float = 5.0) -> dict[str, Any]:
    """What a benchmark result must say about where it ran."""
    v = _versions()
    gpu = _gpu(timeout_s)
    info: dict[str, Any] = {
        "cpu": v["cpu_model"], "cores": v["usable_cores"], "platform": v["platform"],
        "gpu": [d["name"] for d in gpu["devices"]] or None,
        "driver": gpu["devices"][0]["driver_version"] if gpu["devices"] else None,
        "versions": {k: v[k] for k in ("onnxruntime", "opencv", "numpy", "python", "realtime_style")},
    }
    try:
        import onnxruntime as ort

        build = getattr(ort, "get_build_info", lambda: "")()
        info["onnxruntime_build"] = build
        info["onnxruntime_providers"] = ort.get_available_providers()
    except Exception as exc:  # noqa: BLE001
        info["onnxruntime_build"] = _err(exc)
    return info


# --------------------------------------------------------------------------
# ONNX Runtime providers
# --------------------------------------------------------------------------


def build_probe_model() -> bytes:
    """Return a tiny serialised ONNX model computing ``y = x + x`` on float[1, 4].

    IR version 8 / opset 17 is accepted by every ONNX Runtime release since 1.13.
    """
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Add", ["x", "x"], ["y"], name="add")
    graph = helper.make_graph([node], "doctor", [x], [y])
    model = helper.make_model(
        graph,
        producer_name="realtime-style-doctor",
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    return model.SerializeToString()


def _provider_lists() -> tuple[list[str], list[str]]:
    import onnxruntime as ort

    available = list(ort.get_available_providers())
    try:
        known = list(ort.get_all_providers())
    except Exception:
        known = list(available)
    return available, known


def _try_session(name: str, model: bytes) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]
    sess = ort.InferenceSession(model, sess_options=opts, providers=providers)
    active = list(sess.get_providers())
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    (y,) = sess.run(None, {"x": x})
    ok_output = bool(np.allclose(y, x + x))
    return {"active": active, "output_ok": ok_output}


def probe_provider(name: str, timeout_s: float = 5.0, *, available: list[str] | None = None) -> dict[str, Any]:
    """Check whether ONNX Runtime execution provider ``name`` really works.

    Returns ``{"name", "compiled_in", "loads", "detail"}``.  ``compiled_in``
    means the provider is listed by ``onnxruntime.get_available_providers()``;
    ``loads`` means an actual session on a tiny model ran with ``name`` as its
    first provider (ONNX Runtime silently falls back to CPU when a provider's
    libraries cannot be loaded).  Never raises.
    """
    result: dict[str, Any] = {"name": str(name), "compiled_in": False, "loads": False, "detail": ""}
    try:
        if available is None:
            available, _ = _provider_lists()
    except Exception as exc:
        result["detail"] = f"onnxruntime unavailable: {_err(exc)}"
        return result

    if name not in available:
        result["detail"] = "not compiled into this onnxruntime build"
        return result
    result["compiled_in"] = True

    try:
        model = build_probe_model()
    except Exception as exc:
        result["detail"] = f"could not build probe model: {_err(exc)}"
        return result

    start = time.monotonic()
    with CapturedOutput() as cap:
        status, value = _run_with_timeout(lambda: _try_session(name, model), timeout_s)
    elapsed = time.monotonic() - start
    log = summarise_ort_log(cap.text)

    if status == "timeout":
        result["detail"] = f"timed out after {timeout_s:g} s while creating a session"
    elif status == "error":
        result["detail"] = _err(value)
        if log and log not in result["detail"]:
            result["detail"] += f" ({log})"
    else:
        active = value.get("active") or []
        if active and active[0] == name:
            if value.get("output_ok"):
                result["loads"] = True
                result["detail"] = f"ok ({elapsed:.2f} s)"
            else:
                result["detail"] = "session created but produced a wrong result"
        else:
            result["detail"] = "fell back to CPU" + (f": {log}" if log else "")
    return result


def _providers(timeout_s: float) -> list[dict[str, Any]]:
    try:
        available, _known = _provider_lists()
    except Exception as exc:
        return [
            {"name": n, "compiled_in": False, "loads": False, "detail": f"onnxruntime unavailable: {_err(exc)}"}
            for n in KEY_PROVIDERS
        ]
    names = list(KEY_PROVIDERS) + [p for p in available if p not in KEY_PROVIDERS]
    out = []
    for name in names:
        try:
            out.append(probe_provider(name, timeout_s, available=available))
        except Exception as exc:  # pragma: no cover - probe_provider never raises
            out.append({"name": name, "compiled_in": name in available, "loads": False, "detail": _err(exc)})
    return out


# --------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------


def _gpu(timeout_s: float) -> dict[str, Any]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {"devices": [], "note": "nvidia-smi not found (no NVIDIA driver installed, or not on PATH)"}
    cmd = [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    # subprocess.run's own timeout kills the child, but then waits for it; a
    # process stuck in the kernel driver would still block, hence the thread.
    status, value = _run_with_timeout(
        lambda: subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        ),
        timeout_s + 2.0,
    )
    if status == "timeout" or isinstance(value, subprocess.TimeoutExpired):
        return {"devices": [], "note": f"nvidia-smi timed out after {timeout_s:g} s"}
    if status == "error":
        return {"devices": [], "note": f"nvidia-smi failed: {_err(value)}"}
    proc = value
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout or "").strip().splitlines()
        return {
            "devices": [],
            "note": f"nvidia-smi exited with {proc.returncode}" + (f": {msg[-1]}" if msg else ""),
        }
    devices = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        parts += [""] * (3 - len(parts))
        devices.append({"name": parts[0], "driver_version": parts[1], "memory_total": parts[2]})
    note = None if devices else "nvidia-smi reported no GPUs"
    return {"devices": devices, "note": note}


# --------------------------------------------------------------------------
# codecs
# --------------------------------------------------------------------------


def _has_codec(name: str, mode: str) -> tuple[bool, str]:
    try:
        import av

        av.codec.Codec(name, mode)
        return True, ""
    except Exception as exc:
        return False, _err(exc)


def _nvenc_smoke_test() -> None:
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("h264_nvenc", "w")
    ctx.width = _NVENC_TEST_SIZE
    ctx.height = _NVENC_TEST_SIZE
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.framerate = Fraction(30, 1)
    ctx.open()
    frame = av.VideoFrame(_NVENC_TEST_SIZE, _NVENC_TEST_SIZE, "yuv420p")
    for plane in frame.planes:
        try:
            plane.update(bytes(plane.buffer_size))
        except Exception:
            pass
    frame.pts = 0
    ctx.encode(frame)
    ctx.encode(None)


class _av_error_logging:
    """Temporarily enable FFmpeg error logging so PyAV exceptions carry the
    real reason (e.g. "Cannot load libcuda.so.1"); restores the previous level."""

    def __enter__(self) -> "_av_error_logging":
        self._prev: Any = None
        self._changed = False
        try:
            import av.logging

            self._prev = av.logging.get_level()
            av.logging.set_level(av.logging.ERROR)
            self._changed = True
        except Exception:
            pass
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._changed:
            try:
                import av.logging

                av.logging.set_level(self._prev)
            except Exception:
                pass


def _nvenc_check(built_in: bool, gpu_found: bool, timeout_s: float) -> tuple[bool, str]:
    if not built_in:
        return False, "h264_nvenc is not built into PyAV's FFmpeg"
    if not gpu_found:
        return False, "no NVIDIA GPU detected (nvidia-smi)"
    with CapturedOutput(), _av_error_logging():
        status, value = _run_with_timeout(_nvenc_smoke_test, timeout_s)
    if status == "ok":
        return True, "encoded a test frame"
    if status == "timeout":
        return False, f"timed out after {timeout_s:g} s"
    return False, _err(value)


def nvenc_usable(timeout_s: float = 10.0) -> tuple[bool, str]:
    """Whether NVENC really encodes here (built in, a GPU present, a test frame encoded), and why."""
    return _nvenc_check(_has_codec("h264_nvenc", "w")[0], bool(_gpu(timeout_s).get("devices")), timeout_s)


def _codecs(gpu_found: bool, timeout_s: float) -> dict[str, Any]:
    encoders: dict[str, bool] = {}
    decoders: dict[str, bool] = {}
    errors: dict[str, str] = {}
    for name in ENCODERS:
        ok, why = _has_codec(name, "w")
        encoders[name] = ok
        if not ok and why and "av" not in errors and why.startswith(("ModuleNotFoundError", "ImportError")):
            errors["av"] = why
    for name in DECODERS:
        ok, _why = _has_codec(name, "r")
        decoders[name] = ok

    nvenc_usable, nvenc_reason = _nvenc_check(encoders.get("h264_nvenc", False), gpu_found, timeout_s)
    out: dict[str, Any] = {
        "encoders": encoders,
        "decoders": decoders,
        "nvenc_usable": nvenc_usable,
        "nvenc_reason": nvenc_reason,
    }
    if errors:
        out["error"] = "; ".join(errors.values())
    return out


# --------------------------------------------------------------------------
# display
# --------------------------------------------------------------------------


def _display() -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        display = os.environ.get("DISPLAY") or ""
        wayland = os.environ.get("WAYLAND_DISPLAY") or ""
        out["available"] = bool(display or wayland)
        out["display"] = display or None
        out["wayland_display"] = wayland or None
    else:
        out["available"] = True
        out["note"] = f"assumed available on {sys.platform}"

    gui_line = None
    gui_backend = None
    gui_details: list[str] = []
    try:
        import cv2

        info = cv2.getBuildInformation()
        lines = info.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("GUI:"):
                gui_line = line.strip()
                gui_backend = line.split(":", 1)[1].strip() or None
                indent = len(line) - len(line.lstrip())
                for sub in lines[i + 1 :]:
                    if not sub.strip():
                        break
                    if len(sub) - len(sub.lstrip()) <= indent:
                        break
                    gui_details.append(" ".join(sub.split()))
                break
    except Exception as exc:
        out["opencv_error"] = _err(exc)
    out["opencv_gui"] = gui_line
    out["opencv_gui_backend"] = gui_backend
    out["opencv_gui_details"] = gui_details
    headless = gui_backend is not None and gui_backend.upper() in ("NONE", "NO")
    out["opencv_has_gui"] = (not headless) if gui_backend is not None else None
    out["preview_possible"] = bool(out["available"]) and not headless
    return out


# --------------------------------------------------------------------------
# cameras
# --------------------------------------------------------------------------


def _camera_candidates(probe_cameras: int) -> tuple[list[int], str | None]:
    indices = list(range(max(0, int(probe_cameras))))
    if not sys.platform.startswith("linux"):
        return indices, None
    nodes = glob.glob("/dev/video*")
    existing = set()
    for node in nodes:
        suffix = node[len("/dev/video") :]
        if suffix.isdigit():
            existing.add(int(suffix))
    chosen = [i for i in indices if i in existing]
    if not nodes:
        return chosen, "no /dev/video* device nodes"
    return chosen, None


def _probe_cameras_into(indices: list[int], found: list[dict[str, Any]], failed: list[dict[str, Any]], done: list[int]) -> None:
    import cv2

    for i in indices:
        cap = None
        try:
            cap = cv2.VideoCapture(i)
            if not cap.isOpened():
                failed.append({"index": i, "reason": "could not open"})
                continue
            ok, frame = cap.read()
            if not ok or frame is None:
                failed.append({"index": i, "reason": "opened but returned no frame"})
                continue
            height, width = int(frame.shape[0]), int(frame.shape[1])
            try:
                fps = float(cap.get(cv2.CAP_PROP_FPS))
            except Exception:
                fps = 0.0
            try:
                backend = str(cap.getBackendName())
            except Exception:
                backend = None
            found.append(
                {"index": i, "width": width, "height": height, "fps": fps if fps == fps else None, "backend": backend}
            )
        except Exception as exc:
            failed.append({"index": i, "reason": _err(exc)})
        finally:
            if cap is not None:
                try:
                    cap.release()
                except Exception:
                    pass
            done.append(i)


def _cameras(probe_cameras: int, timeout_s: float) -> dict[str, Any]:
    indices, note = _camera_candidates(probe_cameras)
    out: dict[str, Any] = {"devices": [], "probed": indices, "failed": [], "timed_out": False, "note": note}
    if not indices:
        if note is None:
            out["note"] = "no camera indices to probe"
        return out
    found: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    done: list[int] = []
    status, value = _run_with_timeout(lambda: _probe_cameras_into(indices, found, failed, done), timeout_s)
    out["devices"] = list(found)
    out["failed"] = list(failed)
    if status == "timeout":
        out["timed_out"] = True
        pending = [i for i in indices if i not in done]
        out["note"] = f"camera probing timed out after {timeout_s:g} s (still waiting on index {pending[0] if pending else '?'})"
    elif status == "error":
        out["note"] = f"camera probing failed: {_err(value)}"
    return out


# --------------------------------------------------------------------------
# model cache directory
# --------------------------------------------------------------------------


def _is_writable(path: str) -> tuple[bool, str]:
    if os.path.isdir(path):
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-", delete=True):
                pass
            return True, ""
        except Exception as exc:
            return False, _err(exc)
    if os.path.exists(path):
        return False, "exists but is not a directory"
    # Does not exist yet: could we create it?  Look at the nearest existing parent.
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        nxt = os.path.dirname(parent)
        if nxt == parent:
            break
        parent = nxt
    if os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK):
        return True, f"does not exist yet; can be created under {parent}"
    return False, f"does not exist and {parent} is not writable"


def _home() -> dict[str, Any]:
    env = os.environ.get("REALTIME_STYLE_HOME")
    if env:
        path, source = os.path.expanduser(env), "REALTIME_STYLE_HOME"
    else:
        import platformdirs

        path, source = platformdirs.user_data_dir("realtime-style"), "platformdirs"
    writable, detail = _is_writable(path)
    return {"path": path, "source": source, "exists": os.path.isdir(path), "writable": writable, "detail": detail}


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def _section(fn: Callable[[], Any], fallback: Callable[[str], Any]) -> Any:
    try:
        return fn()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return fallback(_err(exc))


def collect(probe_cameras: int = 4, timeout_s: float = 5.0) -> dict:
    """Gather diagnostics about this machine; never raises.

    ``timeout_s`` bounds each individual blocking probe (each provider
    session, ``nvidia-smi``, the NVENC test, camera probing as a whole).
    Returns a JSON-serialisable dict with the keys ``versions``,
    ``providers``, ``gpu``, ``codecs``, ``display``, ``cameras`` and ``home``.
    """
    report: dict[str, Any] = {}
    report["versions"] = _section(_versions, lambda e: {"error": e})
    report["providers"] = _section(
        lambda: _providers(timeout_s),
        lambda e: [{"name": n, "compiled_in": False, "loads": False, "detail": e} for n in KEY_PROVIDERS],
    )
    report["gpu"] = _section(lambda: _gpu(timeout_s), lambda e: {"devices": [], "note": e})
    gpu_found = bool(isinstance(report["gpu"], dict) and report["gpu"].get("devices"))
    report["codecs"] = _section(
        lambda: _codecs(gpu_found, timeout_s),
        lambda e: {"encoders": {}, "decoders": {}, "nvenc_usable": False, "nvenc_reason": e, "error": e},
    )
    report["display"] = _section(_display, lambda e: {"available": False, "error": e})
    report["cameras"] = _section(
        lambda: _cameras(probe_cameras, timeout_s),
        lambda e: {"devices": [], "probed": [], "failed": [], "timed_out": False, "note": e},
    )
    report["home"] = _section(_home, lambda e: {"path": None, "writable": False, "error": e})
    try:
        return _jsonable(report)
    except Exception as exc:  # pragma: no cover - defensive
        return {"error": _err(exc)}


def _yn(value: Any) -> str:
    return "yes" if value else "no"


def render_text(report: dict) -> list[str]:
    """Turn a :func:`collect` report into human-readable lines (no printing)."""
    lines: list[str] = []
    try:
        v = report.get("versions") or {}
        lines.append("Versions")
        if "error" in v:
            lines.append(f"  error: {v['error']}")
        for key, label in (
            ("realtime_style", "realtime-style"),
            ("python", "python"),
            ("onnxruntime", "onnxruntime"),
            ("onnx", "onnx"),
            ("numpy", "numpy"),
            ("opencv", "opencv"),
            ("av", "av (PyAV)"),
        ):
            if key in v:
                lines.append(f"  {label} {v[key]}")
        ff = v.get("ffmpeg_libraries") or {}
        if ff:
            lines.append("  ffmpeg libs: " + ", ".join(f"{k} {val}" for k, val in ff.items()))
        if "platform" in v:
            lines.append(f"  platform: {v['platform']}")
        if "cpu_model" in v:
            lines.append(f"  cpu: {v['cpu_model']} ({v.get('usable_cores')} usable of {v.get('logical_cores')} logical cores)")

        lines.append("ONNX Runtime providers")
        for p in report.get("providers") or []:
            name = p.get("name", "?")
            if not p.get("compiled_in"):
                state = "not compiled in"
            elif p.get("loads"):
                state = "compiled in, loads"
            else:
                state = "compiled in, does not load"
            detail = p.get("detail") or ""
            if detail and not p.get("loads"):
                state += f" ({detail})"
            lines.append(f"  {name}: {state}")

        g = report.get("gpu") or {}
        lines.append("GPU")
        devices = g.get("devices") or []
        for d in devices:
            lines.append(f"  {d.get('name')} (driver {d.get('driver_version')}, {d.get('memory_total')})")
        if not devices:
            lines.append(f"  none ({g.get('note') or 'no GPU found'})")

        c = report.get("codecs") or {}
        lines.append("Codecs (PyAV)")
        enc = c.get("encoders") or {}
        if enc:
            lines.append("  encoders: " + ", ".join(f"{k} {_yn(val)}" for k, val in enc.items()))
        dec = c.get("decoders") or {}
        if dec:
            lines.append("  decoders: " + ", ".join(f"{k} {_yn(val)}" for k, val in dec.items()))
        nv = "usable" if c.get("nvenc_usable") else "not usable"
        reason = c.get("nvenc_reason")
        lines.append(f"  NVENC: {nv}" + (f" ({reason})" if reason else ""))
        if c.get("error"):
            lines.append(f"  error: {c['error']}")

        d = report.get("display") or {}
        lines.append("Display")
        if d.get("error"):
            lines.append(f"  error: {d['error']}")
        else:
            where = d.get("wayland_display") or d.get("display") or d.get("note") or ""
            lines.append(f"  display available: {_yn(d.get('available'))}" + (f" ({where})" if where else ""))
            lines.append(f"  OpenCV GUI backend: {d.get('opencv_gui_backend') or 'unknown'}")
            lines.append(f"  preview window possible: {_yn(d.get('preview_possible'))}")

        cam = report.get("cameras") or {}
        lines.append("Cameras")
        for dev in cam.get("devices") or []:
            fps = dev.get("fps")
            fps_txt = f" @ {fps:g} fps" if isinstance(fps, (int, float)) and fps else ""
            lines.append(f"  camera {dev.get('index')}: {dev.get('width')}x{dev.get('height')}{fps_txt}")
        for bad in cam.get("failed") or []:
            lines.append(f"  camera {bad.get('index')}: {bad.get('reason')}")
        if not (cam.get("devices") or cam.get("failed")):
            lines.append(f"  none found ({cam.get('note') or 'nothing probed'})")
        elif cam.get("note"):
            lines.append(f"  note: {cam['note']}")

        h = report.get("home") or {}
        lines.append("Model cache")
        if h.get("error"):
            lines.append(f"  error: {h['error']}")
        else:
            extra = f" ({h['detail']})" if h.get("detail") else ""
            lines.append(f"  {h.get('path')} [{h.get('source')}] writable: {_yn(h.get('writable'))}{extra}")
    except Exception as exc:  # never let rendering fail the command
        lines.append(f"(could not render report: {_err(exc)})")
    return [str(line) for line in lines]
