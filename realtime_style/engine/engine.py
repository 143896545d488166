"""The style engine: one ONNX model, one session, frames of any size in and out."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from realtime_style.engine import adjust, geometry
from realtime_style.engine.options import InferenceOptions
from realtime_style.engine.providers import GPU_PROVIDERS, SHORT_NAMES, TENSORRT, Candidate, candidates
from realtime_style.engine.session import (
    SessionFactory,
    check_output_size,
    check_signature,
    cpu_session,
    first_line,
    open_session,
    ort_module,
    read_model_bytes,
    run,
)
from realtime_style.errors import ModelError, ProviderError
from realtime_style.metrics import psnr

FP16_MIN_PSNR_DB = 40.0  # an fp16 graph is used only if it stays this close to fp32


class StyleEngine:
    """Stylizes RGB uint8 frames of any size; the output has the source's size.

    ``strength`` and ``preserve_color`` are given per call (``stylize``); without them the
    options' values apply. Nothing about how a frame is stylized is changed on a shared
    engine. ``on_note`` hears each thing the user should know (an fp16 gate fell back, a
    per-size session failed, device buffers could not be bound, ...) the moment it happens;
    ``notes`` keeps them, in order, as a read-only history.
    """

    def __init__(
        self,
        model: str | Path | bytes,
        options: InferenceOptions = InferenceOptions(),
        *,
        cache_dir: Path | None = None,
        session_factory: SessionFactory | None = None,
        compiled_in: Callable[[], list[str]] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.last_model_s = 0.0
        self.notes: list[str] = []  # what on_note heard, in order (read it; _note adds to it)
        self._on_note = on_note
        self.fallbacks: list[str] = []  # providers that `auto` tried and that did not load
        # What each check measured, in dB from its reference (inf: identical): "fp16" (the CUDA
        # fp16 graph against fp32), "tensorrt_fp16" (the fp16 engine against fp32 on the CPU),
        # "per_size WxH" (a per-size session's first frame); a check that failed to run is absent.
        self.gates: dict[str, float] = {}
        self._factory = session_factory
        data, self.source = read_model_bytes(model)
        available = (compiled_in or ort_module().get_available_providers)()
        if options.precision == "fp16" and options.provider == "cpu":
            raise ProviderError("fp16 runs only on a GPU provider (cuda or tensorrt); use --precision fp32 on CPU")
        want_fp16 = options.precision != "fp32"
        errors = []
        for cand in candidates(options.provider, available, fp16=want_fp16, fixed_shape=options.one_size,
                               cache_dir=cache_dir):
            workers, threads = self._parallelism(cand.lead)
            try:
                session = open_session(data, cand, threads, self._factory, options.spin)
            except ProviderError as exc:
                if options.provider != "auto":
                    raise
                errors.append(str(exc))
                continue
            break
        else:  # pragma: no cover - the CPU candidate raises ModelError instead
            raise ProviderError("; ".join(errors) or "no execution provider loaded")
        self.signature = check_signature(session, self.source)
        self.providers_active = list(session.get_providers())
        if self.providers_active[0] not in GPU_PROVIDERS:  # on a GPU the first frame's shape is checked
            check_output_size(session, self.signature, self.source)
        self.workers, self.threads = workers, threads
        self.provider = SHORT_NAMES.get(self.providers_active[0], self.providers_active[0])
        self.fallbacks = errors
        self.precision = self.signature.metadata.get("precision", "fp32")
        if options.precision == "fp16" and self.providers_active[0] not in GPU_PROVIDERS:
            raise ProviderError("fp16 was asked for but no GPU provider loaded; use --precision fp32")
        self._graph = self._fp32_graph = data  # the graph the session runs (the fp16 copy on CUDA, when it passes)
        self._cpu_reference = None
        if want_fp16 and self.providers_active[0] == TENSORRT:
            cand, session = self._gate_tensorrt_fp16(data, cand, session)
        elif want_fp16 and self.providers_active[0] in GPU_PROVIDERS and self.precision != "fp16":
            session = self._try_fp16(data, cand, session)
        self._session = session
        self._binding = None
        self._sized = None
        if self.providers_active[0] in GPU_PROVIDERS:
            self._binding = self._device_binding(session)
            if options.one_size and options.per_size:
                from realtime_style.engine.sized import SizedSessions

                self._sized = SizedSessions(self._graph, cand, threads, self._factory, self._device_binding,
                                            self._note, options.spin, gates=self.gates)
        meta = self.signature.metadata
        self.multiple = max(1, int(meta.get("pad_multiple", 4)))
        self.min_side = max(1, int(meta.get("min_side", 16)))
        self._plans: dict[tuple[int, int], geometry.FramePlan] = {}

    @property
    def strength(self) -> float:
        """The default strength (the options'); a frame's own is given to ``stylize``."""
        return self.options.strength

    @property
    def preserve_color(self) -> bool:
        """The default colour preservation (the options'); a frame's own is given to ``stylize``."""
        return self.options.preserve_color

    def _note(self, message: str) -> None:
        self.notes.append(message)
        if self._on_note is not None:
            self._on_note(message)

    def _parallelism(self, provider: str) -> tuple[int, int]:
        """(frames at once, CPU threads per inference) for a candidate provider."""
        opts = self.options
        if provider in GPU_PROVIDERS:
            return max(1, opts.workers), opts.threads
        workers = opts.workers or (1 if opts.threads else usable_cores())
        threads = opts.threads or (max(1, usable_cores() // workers) if workers > 1 else 0)
        if threads == 0 and opts.auto_threads:  # `bench` reports the choice and the load
            threads = auto_threads(usable_cores())
        return workers, threads

    # -- inference -------------------------------------------------------------------
    def plan(self, height: int, width: int) -> geometry.FramePlan:
        key = (height, width)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:
                self._plans.clear()
            plan = self._plans[key] = geometry.plan_frame(
                height,
                width,
                max_side=self.options.max_side,
                multiple=self.multiple,
                min_side=self.min_side,
                fixed_hw=self.signature.fixed_hw,
            )
        return plan

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Model only: a prepared (1, H, W, 3) uint8 batch through the network (on a GPU
        provider through device-resident buffers, see device_io; with one frame size, through
        a session made for that size, see sized)."""
        if self._sized is not None:
            out = self._sized.run(batch, self._sized_reference)
            if out is not None:
                return out
            self._sized = None  # it failed or disagreed, and said so in the notes
        return self._infer_general(batch)

    def per_size_session(self, height: int, width: int) -> bool:
        """Whether frames of this size run on a session made for the size (GPU, one-size runs)."""
        plan = self.plan(height, width)
        return self._sized is not None and self._sized.has((1, *plan.padded_hw, 3))

    def _sized_reference(self, batch: np.ndarray) -> np.ndarray:
        """What a new per-size session must match on its first frame: on CUDA the general
        session; on TensorRT the fp32 graph on the CPU (running the general session there would
        build a second TensorRT engine for a shape no frame will use again)."""
        if self.providers_active[0] != TENSORRT:
            return self._infer_general(batch)
        return run(self._cpu_fp32(), batch)

    def _cpu_fp32(self):
        """The fp32 graph on the CPU, the reference of the TensorRT checks (made once)."""
        if self._cpu_reference is None:
            self._cpu_reference = cpu_session(self._fp32_graph)
        return self._cpu_reference

    def _device_binding(self, session):
        from realtime_style.engine.device_io import DeviceBinding

        # Sessions say where their buffers live (a test's fake GPU session computes on the CPU).
        return DeviceBinding(session, ort_module().OrtValue, getattr(session, "device_type", "cuda"))

    def _infer_general(self, batch: np.ndarray) -> np.ndarray:
        if self._binding is not None:
            try:
                return self._binding.run(batch)
            except Exception as exc:  # noqa: BLE001 - fall back to plain runs, and say so
                self._binding = None
                self._note(f"device buffers could not be bound ({first_line(exc)}); using plain session runs")
        return run(self._session, batch)

    def stylize(self, frame: np.ndarray, *, strength: float | None = None,
                preserve_color: bool | None = None) -> np.ndarray:
        """One RGB uint8 frame, blended over the source at ``strength`` (0..1) and with the
        source's colours if ``preserve_color``; either left out: the options' value."""
        if strength is None:
            strength = self.options.strength
        if preserve_color is None:
            preserve_color = self.options.preserve_color
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
        plan = self.plan(frame.shape[0], frame.shape[1])
        batch = geometry.prepare(frame, plan)
        t0 = time.perf_counter()
        raw = self.infer(batch)
        self.last_model_s = time.perf_counter() - t0  # the network alone (live overlay, stats)
        if raw.shape != batch.shape:
            raise ModelError(f"{self.source} turned a {batch.shape[2]}x{batch.shape[1]} frame into "
                             f"{raw.shape[2]}x{raw.shape[1]}; a style model must return its input's size")
        out = geometry.restore(raw, plan)
        if preserve_color:
            out = adjust.preserve_color(out, frame)
        return adjust.blend_strength(out, frame, strength)

    def warmup(self, height: int, width: int, runs: int = 1) -> None:
        """Run a few frames of this size so the first real frame is not slow."""
        from realtime_style.testcard import card_image

        frame = card_image(height, width)
        for _ in range(runs):
            self.stylize(frame)

    # -- fp16 on TensorRT and CUDA ---------------------------------------------------------
    def _probe(self) -> np.ndarray:
        from realtime_style.testcard import card_image

        h, w = self.signature.fixed_hw or (256, 256)
        return card_image(h, w)[None]

    def _gate_tensorrt_fp16(self, data: bytes, cand, session):
        """TensorRT builds its engine in fp16 (trt_fp16_enable): keep it only if it matches
        the fp32 graph run on the CPU; otherwise rebuild in fp32 and say why."""
        probe = self._probe()
        try:
            db = psnr(run(self._cpu_fp32(), probe), run(session, probe))
        except Exception as exc:  # noqa: BLE001 - a failed check is a failed gate
            db, why = 0.0, f"the check failed: {first_line(exc)}"
        else:
            self.gates["tensorrt_fp16"] = db
            why = f"its output is {db:.1f} dB from fp32 (< {FP16_MIN_PSNR_DB:.0f} dB)"
        if db >= FP16_MIN_PSNR_DB:
            self.precision = "fp16"
            return cand, session
        fp32 = Candidate(cand.name, tuple((name, {**opts, "trt_fp16_enable": "0"} if name == TENSORRT else opts)
                                          for name, opts in cand.providers))
        self._note(f"TensorRT fp16 {why}; running fp32")
        return fp32, open_session(data, fp32, self.threads, self._factory, self.options.spin)

    def _try_fp16(self, data: bytes, cand, fp32_session):
        """Convert the graph to fp16 and keep it only if it matches fp32 (instance norm is
        the known risk); otherwise keep fp32 and say why."""
        import onnx

        from realtime_style.models.fp16 import convert_to_fp16

        try:
            half = convert_to_fp16(onnx.load_from_string(data)).SerializeToString()
            session = open_session(half, cand, self.threads, self._factory, self.options.spin)
            probe = self._probe()
            db = psnr(run(fp32_session, probe), run(session, probe))
        except Exception as exc:  # noqa: BLE001 - any failure means: stay on fp32
            self._note(f"fp16 conversion failed ({exc}); running fp32")
            return fp32_session
        self.gates["fp16"] = db
        if db < FP16_MIN_PSNR_DB:
            self._note(f"fp16 output is {db:.1f} dB from fp32 (< {FP16_MIN_PSNR_DB:.0f} dB); running fp32")
            return fp32_session
        self.precision = "fp16"
        self._graph = half
        return session



def busy_cores(samples: int = 3, interval_s: float = 0.005) -> float | None:
    """How many cores other work holds right now: on Linux the runnable tasks of /proc/loadavg
    (its 4th field, less this reader), the median of a few samples; elsewhere the 1-minute load
    average (which lags: a job that ended a minute ago still counts); None where neither exists."""
    counts = []
    try:
        for i in range(samples):
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
            if i + 1 < samples:
                time.sleep(interval_s)
        return float(sorted(counts)[len(counts) // 2])
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        return None


def auto_threads(cores: int, busy: float | None = None) -> int:
    """Threads for one inference on ``cores`` cores: 0 (ONNX Runtime's default, every core) when
    they are free, else the cores other work leaves free (``busy_cores``), at least one. On a
    shared 2-core machine with one core taken, 1 thread ran 1.5x ONNX Runtime's default
    (benchmarks/RESULTS.md, "Threads when another job holds a core")."""
    if busy is None:
        busy = busy_cores()
        if busy is None:
            return 0
    free = cores - int(busy + 0.5)
    return 0 if free >= cores else max(1, free)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
