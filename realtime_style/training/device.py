"""Where and how a training run computes: the device, mixed precision, memory layout, and the
processes of a ``torchrun`` launch (DistributedDataParallel).

Mixed precision and channels-last are for CUDA only; the CPU path stays plain fp32.
Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` in the environment) each process
joins the process group (NCCL on GPUs, gloo on CPUs); rank 0 alone writes and logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import os
from typing import Callable, TypeVar

import torch

from realtime_style import errors
from realtime_style.errors import ModelError, StyleError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ComputeSettings:
    """How the forward and backward passes run."""

    autocast_dtype: torch.dtype | None  # None: plain fp32
    grad_scaler: bool  # fp16 needs loss scaling; bf16 has fp32's range and does not
    channels_last: bool

    @property
    def label(self) -> str:
        name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.autocast_dtype]
        return name + (", channels-last" if self.channels_last else "")


def compute_settings(device_type: str, requested: str = "auto", bf16_supported: bool = False) -> ComputeSettings:
    """auto: on CUDA bf16 autocast where the GPU supports it, else fp16 autocast with a gradient
    scaler, channels-last either way; on the CPU plain fp32 (asking for bf16/fp16 there is an
    error). fp32 on CUDA keeps channels-last."""
    if requested not in PRECISIONS:
        raise ModelError(f"--precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if device_type != "cuda":
        if requested in ("bf16", "fp16"):
            raise ModelError(f"--precision {requested} is for CUDA GPUs; on the {device_type.upper()} training runs "
                             "in fp32 (use --precision auto or fp32)")
        return ComputeSettings(None, False, False)
    if requested == "auto":
        requested = "bf16" if bf16_supported else "fp16"
    if requested == "bf16" and not bf16_supported:
        raise ModelError("this GPU has no bfloat16 support; use --precision fp16 (or auto)")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[requested]
    return ComputeSettings(dtype, requested == "fp16", True)


@dataclasses.dataclass
class Processes:
    """This process's place in the run: one process, or one of a ``torchrun`` launch."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None  # "gloo" / "nccl" when a process group was started

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    def any(self, flags: list[bool]) -> list[bool]:
        """Each flag OR-ed over all processes (one all-reduce)."""
        if not self.distributed:
            return flags
        import torch.distributed as dist

        t = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def main_first(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0, then (if it worked) on the others, e.g. a download into a
        shared cache. A StyleError on rank 0 is raised on every rank, so none waits forever."""
        if not self.distributed:
            return fn()
        import torch.distributed as dist

        failure: list = [None]
        result = None
        if self.is_main:
            try:
                result = fn()
            except StyleError as exc:
                failure[0] = (type(exc).__name__, str(exc))
                dist.broadcast_object_list(failure, src=0)
                raise
            except BaseException:
                failure[0] = ("StyleError", "the main process failed (see its message)")
                dist.broadcast_object_list(failure, src=0)
                raise
            dist.broadcast_object_list(failure, src=0)
            return result
        dist.broadcast_object_list(failure, src=0)
        if failure[0] is not None:
            kind, message = failure[0]
            raise getattr(errors, kind, StyleError)(message)
        return fn()

    def check_same_weights(self, module: torch.nn.Module) -> str:
        """The sha256 of ``module``'s parameters, checked equal on every process (DDP keeps
        them equal; a difference is a bug worth stopping for)."""
        digest = weights_digest(module)
        if not self.distributed:
            return digest
        import torch.distributed as dist

        digests: list = [None] * self.world
        dist.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            short = ", ".join(d[:12] for d in digests)
            raise ModelError(f"the {self.world} processes ended with different weights ({short})")
        return digest

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                # Leave cleanly: collect the DDP wrappers (their reducer's pending gloo work holds
                # tensors; freed at interpreter exit instead, they abort the process), wait for
                # every process (one still writing its checkpoint must not lose its peers), then
                # tear the group down.
                gc.collect()
                with contextlib.suppress(Exception):
                    dist.barrier()
                dist.destroy_process_group()
            self.backend = None


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over the parameters' names and float32 bytes, in name order."""
    h = hashlib.sha256()
    for name, p in sorted(module.named_parameters(), key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def pick_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    """auto: CUDA GPU ``local_rank`` when PyTorch sees one, else the CPU; or cpu / cuda."""
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"--device must be auto, cpu or cuda, not {device!r}")
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ModelError("--device cuda: PyTorch sees no CUDA GPU here (a CPU-only torch build, or no driver)")
    if not cuda or device == "cpu":
        return torch.device("cpu")
    if local_rank >= torch.cuda.device_count():
        raise ModelError(f"this process wants GPU {local_rank} but only {torch.cuda.device_count()} are visible; "
                         "use --nproc_per_node at most the number of GPUs")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def start(device: str = "auto") -> Processes:
    """Pick the device and, under ``torchrun``, join the process group (NCCL with CUDA, gloo
    on the CPU); each process of a GPU launch takes GPU ``LOCAL_RANK``."""
    rank = int(os.environ.get("RANK", "0") or 0)
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    dev = pick_device(device, local_rank if world > 1 else 0)
    procs = Processes(rank, world, local_rank, dev)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_available():
            raise ModelError("this PyTorch build has no torch.distributed; run without torchrun")
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend, rank=rank, world_size=world, **kwargs)
        procs.backend = backend
    return procs
