"""The inference options shared by `image`, `convert`, `live`, `eval` and `bench`."""

from __future__ import annotations

import dataclasses

PROVIDERS = ("auto", "tensorrt", "cuda", "cpu")
PRECISIONS = ("auto", "fp32", "fp16")


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    provider: str = "auto"  # auto: the fastest provider that really loads
    precision: str = "auto"  # auto: fp16 on a GPU provider, fp32 on CPU
    max_side: int = 0  # longest side the network sees; 0 = the source size
    strength: float = 1.0  # 1 = full style, 0 = the source unchanged
    preserve_color: bool = False  # keep the source's colours (luminance transfer)
    threads: int = 0  # CPU threads per inference; 0 = automatic
    # Frames inferred at once (file conversion): 0 = automatic, i.e. on the CPU provider one
    # single-threaded inference per core (faster than one multi-threaded one: benchmarks/RESULTS.md,
    # section "2026-11-21 · `convert` throughput against model-only speed (issue 3)"), else 1.
    workers: int = 1
    # Every frame has one size (video, live, bench): on CUDA, an exhaustive cuDNN algorithm
    # search pays off once per size; for photos of many sizes the heuristic choice is better.
    one_size: bool = False
    # With one_size on a GPU: also a session made for each frame size (a CUDA graph, an exact
    # TensorRT profile). False keeps the general session only (`bench --no-per-size`: the comparison).
    per_size: bool = True
    # ONNX Runtime's CPU threads spin while they wait for work: the fastest when the network
    # has the cores to itself, but CPU time lost to a stage that shares them (live smoothing;
    # benchmarks/RESULTS.md, section
    # "2026-11-22 · Smoothing, third round: a finer flow started from the last one, and the cost floor (issue 6)").
    spin: bool = True
    # threads=0 on the CPU: every core on an idle machine, fewer when the load average says other
    # jobs hold cores (ONNX Runtime splits each inference evenly, so one thread on a taken core
    # holds the others up). False: ONNX Runtime's own default, whatever the load.
    auto_threads: bool = True

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.max_side < 0:
            raise ValueError("max-side must be 0 (source size) or a positive number of pixels")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError("strength must be between 0 and 1")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or positive")
        if self.workers < 0:
            raise ValueError("workers must be 0 (automatic) or positive")
