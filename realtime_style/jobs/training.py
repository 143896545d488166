"""`train`, `distill` and `optimize`: the PyTorch commands.

Their options are the config dataclasses of ``realtime_style.training`` (imported here only
after checking that torch is installed). Under torchrun every process runs the job; only
rank 0 reports, the others end quietly with the same exit code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from realtime_style.errors import QuietExit, StyleError

Note = Callable[[str], None]


def _torch():
    from realtime_style_export import require_torch

    require_torch()


def torchrun_rank() -> int:
    """This process's rank under torchrun (0 otherwise): only rank 0 reports."""
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0


def leave_process_group() -> None:
    """After a finished torchrun process (checkpoint written, group destroyed): exit now.
    Gloo's worker threads can still hold tensors that interpreter shutdown frees without the
    GIL, aborting the process (SIGABRT) after a good run; nothing is left to clean up."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def train(*, resume: bool, on_progress: Callable, on_note: Note, **fields) -> Path | None:
    """Train a network on a painting (``TrainConfig`` fields). None on a torchrun rank other than 0."""
    _torch()
    from realtime_style.training.train import TrainConfig, run

    config = TrainConfig(**fields)
    if torchrun_rank() > 0:
        try:
            run(config, resume=resume)
        except StyleError:
            raise QuietExit(1) from None
        except KeyboardInterrupt:
            raise QuietExit(130) from None
        leave_process_group()
        return None
    return run(config, resume=resume, on_progress=on_progress, on_note=on_note)


def distill(*, resume: bool, on_progress: Callable, on_note: Note, **fields) -> Path:
    """Distil a teacher into a student (``DistillConfig`` fields)."""
    _torch()
    from realtime_style.training.distill import DistillConfig, run

    return run(DistillConfig(**fields), resume=resume, on_progress=on_progress, on_note=on_note)


def optimize(*, on_progress: Callable, on_note: Note, **fields):
    """Optimise one photo's pixels (``OptimizeConfig`` fields); the ``OptimizeResult``."""
    _torch()
    from realtime_style.training.optimize import OptimizeConfig, run

    return run(OptimizeConfig(**fields), on_progress=on_progress, on_note=on_note)
