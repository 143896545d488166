"""One GPU session per frame size, for runs where every frame has one size (video, live,
bench): on CUDA with CUDA graphs (the whole network captured once and replayed as one
launch), on TensorRT with an exact optimisation profile (one engine per size, cached under
the models home) and TensorRT's CUDA graph. Both need the frame in fixed device buffers,
which DeviceBinding keeps. Each sized session is checked on its first frame against a
reference the engine gives (the general session, or the fp32 graph on the CPU) and dropped,
with a note, if it disagrees or fails; the general session then carries on.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from realtime_style.engine.providers import CUDA, TENSORRT, Candidate
from realtime_style.engine.session import first_line, open_session
from realtime_style.metrics import psnr

MAX_SIZES = 4  # sized sessions kept at once (each holds a graph or an engine on the GPU)
AGREE_DB = 40.0  # a sized session must match the reference this closely on its first frame


def sized_candidate(candidate: Candidate, shape: tuple[int, ...]) -> Candidate:
    """The candidate's provider chain with the options that fix it to one input shape."""
    dims = "input:" + "x".join(str(d) for d in shape)
    chain = []
    for name, options in candidate.providers:
        options = dict(options)
        if name == TENSORRT:
            options.update(trt_profile_min_shapes=dims, trt_profile_opt_shapes=dims, trt_profile_max_shapes=dims,
                           trt_cuda_graph_enable="1")
        elif name == CUDA and candidate.lead == CUDA:
            options["enable_cuda_graph"] = "1"  # (behind TensorRT, CUDA only runs what TensorRT rejects)
        chain.append((name, options))
    return Candidate(candidate.name, tuple(chain))


class SizedSessions:
    def __init__(self, model: bytes, candidate: Candidate, threads: int, factory, make_binding: Callable,
                 on_note: Callable[[str], None], spin: bool = True, gates: dict[str, float] | None = None) -> None:
        self._gates = gates if gates is not None else {}  # each first-frame check's dB, by size
        self._model, self._candidate, self._threads, self._factory = model, candidate, threads, factory
        self._spin = spin
        self._make_binding = make_binding
        self._note = on_note
        self._bindings: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self.disabled = False

    def has(self, shape: tuple[int, ...]) -> bool:
        return not self.disabled and tuple(shape) in self._bindings

    def run(self, batch: np.ndarray, reference: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
        """The output of this size's session, or None once sized sessions are off."""
        if self.disabled:
            return None
        binding = self._bindings.get(batch.shape)
        try:
            if binding is not None:
                self._bindings.move_to_end(batch.shape)
                return binding.run(batch)
            return self._first(batch, reference)
        except Exception as exc:  # noqa: BLE001 - any failure: the general session carries on
            self.disabled = True
            self._bindings.clear()
            self._note(f"per-size {self._candidate.name} session for {batch.shape[2]}x{batch.shape[1]} failed "
                       f"({first_line(exc)}); using the general session")
            return None

    def _first(self, batch: np.ndarray, reference: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        session = open_session(self._model, sized_candidate(self._candidate, batch.shape), self._threads,
                               self._factory, self._spin)
        binding = self._make_binding(session)
        out = binding.run(batch).copy()
        db = psnr(reference(batch), out)
        self._gates[f"per_size {batch.shape[2]}x{batch.shape[1]}"] = db
        if db < AGREE_DB:
            raise RuntimeError(f"its output is {db:.1f} dB from the reference (< {AGREE_DB:.0f} dB)")
        self._bindings[batch.shape] = binding
        while len(self._bindings) > MAX_SIZES:
            self._bindings.popitem(last=False)
        return out

