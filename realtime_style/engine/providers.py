"""Which ONNX Runtime execution providers to ask for, and with which options.

`get_available_providers()` lists what was compiled in, not what loads: a session is the
only proof, and ORT silently falls back to CPU. So the engine tries candidate chains in
order and keeps the first whose leading provider really appears in `session.get_providers()`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
ORT_NAMES = {"tensorrt": TENSORRT, "cuda": CUDA, "cpu": CPU}
SHORT_NAMES = {v: k for k, v in ORT_NAMES.items()}
GPU_PROVIDERS = (TENSORRT, CUDA)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One attempt: providers with their options, most preferred first."""

    name: str  # short name: tensorrt, cuda or cpu
    providers: tuple[tuple[str, dict], ...]

    @property
    def lead(self) -> str:
        return self.providers[0][0]


def candidates(
    request: str,
    compiled_in: list[str],
    *,
    fp16: bool,
    fixed_shape: bool,
    cache_dir: Path | None,
) -> list[Candidate]:
    """Candidate provider chains for a request, most preferred first.

    ``auto`` yields every compiled-in provider of TensorRT, CUDA, CPU in that order; an
    explicit request yields exactly one candidate (which must then load, or it is an error).
    """
    order = ["tensorrt", "cuda", "cpu"] if request == "auto" else [request]
    out = []
    for short in order:
        name = ORT_NAMES[short]
        if request == "auto" and name not in compiled_in and name != CPU:
            continue
        chain: list[tuple[str, dict]] = [(name, provider_options(name, fp16, fixed_shape, cache_dir))]
        if name == TENSORRT and CUDA in compiled_in:
            # Nodes TensorRT rejects run on CUDA rather than on the CPU.
            chain.append((CUDA, provider_options(CUDA, fp16, fixed_shape, cache_dir)))
        if name != CPU:
            chain.append((CPU, {}))
        out.append(Candidate(short, tuple(chain)))
    return out


def provider_options(name: str, fp16: bool, fixed_shape: bool, cache_dir: Path | None) -> dict:
    if name == CUDA:
        return {
            # Exhaustive search is paid again on every new shape: only worth it for fixed shapes.
            "cudnn_conv_algo_search": "EXHAUSTIVE" if fixed_shape else "HEURISTIC",
            "do_copy_in_default_stream": "1",
        }
    if name == TENSORRT:
        opts = {"trt_fp16_enable": "1" if fp16 else "0"}
        if cache_dir is not None:
            opts.update(
                trt_engine_cache_enable="1",
                trt_engine_cache_path=str(cache_dir),
                trt_timing_cache_enable="1",
                trt_timing_cache_path=str(cache_dir),
            )
        return opts
    return {}
