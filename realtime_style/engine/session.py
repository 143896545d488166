"""An ONNX Runtime session for one style model, with its signature checked.

A style model has exactly one input ``input`` and one output ``output``, both uint8
``[1, H, W, 3]`` RGB; H and W are dynamic unless the model was exported for a fixed size.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np

from realtime_style.engine.ortlog import CapturedOutput, summarise_ort_log
from realtime_style.engine.providers import CPU, Candidate
from realtime_style.errors import ModelError, ProviderError

SessionFactory = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class Signature:
    fixed_hw: tuple[int, int] | None  # (H, W) for a static export, None when dynamic
    metadata: dict[str, str]


def ort_module():
    import onnxruntime

    return onnxruntime


def session_options(threads: int, spin: bool = True):
    ort = ort_module()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # failed provider loads are reported by us, not by ORT's log
    if threads > 0:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def open_session(
    model: bytes,
    candidate: Candidate,
    threads: int,
    factory: SessionFactory | None = None,
    spin: bool = True,
):
    """Create a session for ``candidate``; raise ProviderError unless its lead provider loaded."""
    factory = factory or ort_module().InferenceSession
    names = [p for p, _ in candidate.providers]
    options = [o for _, o in candidate.providers]
    gpu = candidate.lead != CPU
    log = CapturedOutput() if gpu else contextlib.nullcontext()
    try:
        with log:
            session = factory(model, sess_options=session_options(threads, spin), providers=names,
                              provider_options=options)
    except Exception as exc:  # ORT raises bare RuntimeError/Fail subclasses
        if not gpu:  # the CPU provider always loads: the model is at fault
            raise ModelError(f"not a valid ONNX style model: {first_line(exc)}") from exc
        raise ProviderError(f"{candidate.name} provider failed to start: {first_line(exc)}") from exc
    active = list(session.get_providers())
    if gpu and candidate.lead not in active:
        why = summarise_ort_log(log.text) or "no reason given"
        raise ProviderError(
            f"{candidate.name} provider did not load ({why}); "
            "`realtime-style doctor` shows what each provider needs"
        )
    return session


def cpu_session(model: bytes, threads: int = 0):
    """A plain CPU session (verification, import checks): the CPU provider always loads."""
    return open_session(model, Candidate("cpu", ((CPU, {}),)), threads)


def check_signature(session, source: str) -> Signature:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    want = "one uint8 input 'input' and one uint8 output 'output', both [1, H, W, 3] RGB"
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{source} has {len(inputs)} inputs and {len(outputs)} outputs; a style model has {want}")
    fixed = None
    for arg, expected in ((inputs[0], "input"), (outputs[0], "output")):
        shape = list(arg.shape)
        if arg.name != expected or arg.type != "tensor(uint8)" or len(shape) != 4 or shape[3] != 3:
            raise ModelError(
                f"{source}: {arg.name} is {arg.type} {shape}; a style model has {want} "
                "(import other ONNX files with `models import --format onnx` only if they follow this contract)"
            )
        if shape[0] not in (1, None) and not isinstance(shape[0], str):
            raise ModelError(f"{source}: batch dimension is {shape[0]}, expected 1")
        if arg is inputs[0] and isinstance(shape[1], int) and isinstance(shape[2], int):
            fixed = (shape[1], shape[2])
    meta = session.get_modelmeta()
    return Signature(fixed_hw=fixed, metadata=dict(meta.custom_metadata_map or {}))


def probe_size(signature: Signature) -> tuple[int, int]:
    """(H, W) of the probe frame: the fixed size, else a small non-square one that suits the
    model's padding multiple and minimum side (non-square, so a transposed output shows)."""
    if signature.fixed_hw:
        return signature.fixed_hw
    meta = signature.metadata
    multiple = max(1, int(meta.get("pad_multiple", 4) or 4))
    min_side = max(1, int(meta.get("min_side", 16) or 16))

    def align(n: int) -> int:
        return -(-max(n, min_side) // multiple) * multiple

    h = align(48)
    return h, align(h + 32)


def check_output_size(session, signature: Signature, source: str) -> tuple[int, int]:
    """Run the model once on a small probe frame and refuse it unless the output is uint8 of
    the input's size (the model contract; the engine crops back assuming it). Returns (H, W)."""
    h, w = probe_size(signature)
    from realtime_style.testcard import card_image

    try:
        out = run(session, np.ascontiguousarray(card_image(h, w)[None]))
    except Exception as exc:  # ORT's errors are bare RuntimeErrors
        raise ModelError(f"{source} fails on a {w}x{h} probe frame: {first_line(exc)}") from exc
    if out.dtype != np.uint8 or out.shape != (1, h, w, 3):
        got = f"{out.shape[2]}x{out.shape[1]}" if out.ndim == 4 else f"shape {list(out.shape)}"
        raise ModelError(f"{source} turns a {w}x{h} frame into {got} {out.dtype}; a style model must return "
                         "uint8 RGB of its input's size (see the model contract in the README)")
    return h, w


def run(session, batch: np.ndarray) -> np.ndarray:
    return session.run(["output"], {"input": batch})[0]


def read_model_bytes(model: str | Path | bytes) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), "model"
    path = Path(model)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"model file {path} does not exist") from exc
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    if not data:
        raise ModelError(f"model file {path} is empty")
    return data, str(path)


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (ORT's run to pages), for a one-line note."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
