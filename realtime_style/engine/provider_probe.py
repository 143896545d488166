"""Which ONNX Runtime execution providers really work here, proved by running a session.

``get_available_providers()`` only lists what was compiled in; ORT silently falls back to
the CPU when a provider's libraries are missing. So each provider gets a real session on a
tiny model, under a timeout (a GPU driver can hang), with ORT's log captured for the reason.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from realtime_style.engine.ortlog import CapturedOutput, summarise_ort_log
from realtime_style.engine.providers import CPU, CUDA, TENSORRT
from realtime_style.probing import describe_error, run_with_timeout

#: Providers that are always reported, whether compiled in or not.
KEY_PROVIDERS = (TENSORRT, CUDA, CPU)


@dataclasses.dataclass(frozen=True)
class ProviderStatus:
    """``compiled_in``: listed by ``get_available_providers()``; ``loads``: a session with it
    first really ran on it; ``detail``: why not, or how long it took."""

    name: str
    compiled_in: bool
    loads: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def unavailable(reason: str) -> list[ProviderStatus]:
    """The key providers, none usable, for ``reason`` (e.g. ONNX Runtime does not import)."""
    return [ProviderStatus(name, False, False, reason) for name in KEY_PROVIDERS]


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


def _available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _try_session(name: str, model: bytes) -> tuple[list[str], bool]:
    """(the providers the session got, whether it computed x + x correctly)."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = [name] if name == CPU else [name, CPU]
    sess = ort.InferenceSession(model, sess_options=opts, providers=providers)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    (y,) = sess.run(None, {"x": x})
    return list(sess.get_providers()), bool(np.allclose(y, x + x))


def probe_provider(name: str, timeout_s: float = 5.0, *, available: list[str] | None = None) -> ProviderStatus:
    """Check whether ONNX Runtime execution provider ``name`` really works.

    ``available`` is ``get_available_providers()`` when the caller already has it. A provider
    that fails to load, raises or hangs (past ``timeout_s``) is reported in ``detail``, not raised.
    """
    if available is None:
        try:
            available = _available_providers()
        except ImportError as exc:
            return ProviderStatus(name, False, False, f"onnxruntime unavailable: {describe_error(exc)}")
    if name not in available:
        return ProviderStatus(name, False, False, "not compiled into this onnxruntime build")
    try:
        model = build_probe_model()
    except ImportError as exc:
        return ProviderStatus(name, True, False, f"could not build probe model: {describe_error(exc)}")

    start = time.monotonic()
    with CapturedOutput() as cap:
        status, value = run_with_timeout(lambda: _try_session(name, model), timeout_s)
    elapsed = time.monotonic() - start
    log = summarise_ort_log(cap.text)

    if status == "timeout":
        return ProviderStatus(name, True, False, f"timed out after {timeout_s:g} s while creating a session")
    if status == "error":
        detail = describe_error(value)
        return ProviderStatus(name, True, False, detail + (f" ({log})" if log and log not in detail else ""))
    active, output_ok = value
    if not active or active[0] != name:
        return ProviderStatus(name, True, False, "fell back to CPU" + (f": {log}" if log else ""))
    if not output_ok:
        return ProviderStatus(name, True, False, "session created but produced a wrong result")
    return ProviderStatus(name, True, True, f"ok ({elapsed:.2f} s)")


def probe_providers(timeout_s: float) -> list[ProviderStatus]:
    """The key providers, then any other compiled-in ones, each probed (``timeout_s`` each)."""
    try:
        available = _available_providers()
    except ImportError as exc:
        return unavailable(f"onnxruntime unavailable: {describe_error(exc)}")
    names = list(KEY_PROVIDERS) + [p for p in available if p not in KEY_PROVIDERS]
    return [probe_provider(name, timeout_s, available=available) for name in names]
