"""What every training command shares around its own losses: checkpoints and resume state,
the step loop with its NaN stop and Ctrl-C handling, progress, the learning-rate schedule and
sample sheets. ``distill`` and ``train`` each supply a forward function (batch -> loss) and an
update function (loss -> optimiser step); this module does the rest.

Checkpoint layout (``export`` reads the first two):
- ``NAME.safetensors`` + ``NAME.json``: the network's weights, architecture and metadata
  (``realtime_style_export.checkpoints.save_checkpoint``);
- ``NAME.state.pt``: the step, the run's config, and the state of everything else that
  ``--resume`` needs (optimisers, critic, gradient scaler, random generators). Only ever read
  with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch

from realtime_style.errors import ModelError
from realtime_style.fsutil import atomic_path
from realtime_style.interrupt import Interrupt
from realtime_style_export.checkpoints import load_checkpoint, save_checkpoint


@dataclasses.dataclass
class Progress:
    step: int
    steps: int
    losses: dict[str, float]
    seconds_per_step: float

    @property
    def eta_s(self) -> float:
        return (self.steps - self.step) * self.seconds_per_step


def state_path(out: Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def cosine_tail_lr(base_lr: float, steps: int, step: int) -> float:
    """Constant, then a cosine decay to 5 % over the last 30 % of the steps."""
    start = int(steps * 0.7)
    frac = 0.0 if step < start else (step - start) / max(1, steps - start)
    return base_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class Checkpointer:
    """Writes and restores one run's checkpoint (see the module docstring).

    ``parts`` are the objects with ``state_dict``/``load_state_dict`` besides the network
    (e.g. ``{"optimizer": opt, "critic": critic}``; ``None`` values are saved as ``{}``).
    ``kind`` names the command (its config goes into the metadata under that key); a
    checkpoint of one kind cannot be resumed by another. Only the process with
    ``write=True`` (rank 0 under DDP) writes anything.
    """

    def __init__(self, out: str | Path, model: torch.nn.Module, arch: str, kind: str, config: Any,
                 metadata: dict[str, str], parts: dict[str, Any], write: bool = True) -> None:
        self.out = Path(out).with_suffix(".safetensors")
        self.model, self.arch, self.kind = model, arch, kind
        self.config = json.dumps(dataclasses.asdict(config))
        self.metadata, self.parts, self.write = metadata, parts, write

    def ensure_fresh(self) -> None:
        check_out(self.out, resume=False)

    def save(self, step: int, extra: dict | None = None) -> None:
        if not self.write:
            return
        meta = dict(self.metadata, step=str(step), **{self.kind: self.config})
        save_checkpoint(self.out, self.model, self.arch, config=getattr(self.model, "config", None), metadata=meta)
        state = {"step": step, "kind": self.kind, "config": self.config, **(extra or {})}
        state.update({name: part.state_dict() if part is not None else {} for name, part in self.parts.items()})
        with atomic_path(state_path(self.out)) as tmp:
            torch.save(state, tmp)

    def restore(self, map_location: str | torch.device = "cpu") -> tuple[int, dict]:
        """Load the network and every part; returns the step and the whole state dict."""
        out = self.out
        check_out(out, resume=True)
        state = torch.load(state_path(out), map_location="cpu", weights_only=True)
        kind = state.get("kind", "distill")  # state files from before `train` existed
        if kind != self.kind:
            raise ModelError(f"{out} was written by `{kind}`; `{self.kind} --resume` cannot continue it")
        saved = json.loads(state["config"])
        if saved.get("arch") != self.arch:
            raise ModelError(f"{out} is a {saved.get('arch')} network; --arch {self.arch} cannot resume it")
        self.model.load_state_dict(load_checkpoint(out).module.state_dict())
        for name, part in self.parts.items():
            if part is not None and state.get(name):
                part.load_state_dict(state[name])
                if isinstance(part, torch.optim.Optimizer):  # optimiser state follows the params' device
                    _optimizer_to(part, map_location)
        return int(state["step"]), state


def check_out(out: str | Path, resume: bool) -> None:
    """Refuse early (before any slow loading) to overwrite a run, or to resume a missing one."""
    out = Path(out).with_suffix(".safetensors")
    if resume and (not out.exists() or not state_path(out).exists()):
        raise ModelError(f"nothing to resume: {out} or {state_path(out).name} is missing")
    if not resume and out.exists():
        raise ModelError(f"{out} exists; pass --resume to continue it or choose another --out")


def _optimizer_to(opt: torch.optim.Optimizer, device) -> None:
    for per_param in opt.state.values():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor) and key != "step":
                per_param[key] = value.to(device)


def _all_ranks_agree(flags: list[bool]) -> list[bool]:
    return flags


def run_steps(
    checkpointer: Checkpointer,
    step: int,
    steps: int,
    forward: Callable[[int], tuple[torch.Tensor, dict[str, torch.Tensor]]],
    update: Callable[[int, torch.Tensor], None],
    *,
    checkpoint_every: int,
    sample_every: int = 0,
    sample: Callable[[int], None] | None = None,
    log_every: int = 10,
    extra_state: Callable[[], dict] = dict,
    agree: Callable[[list[bool]], list[bool]] = _all_ranks_agree,
    on_progress: Callable[[Progress], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    lr_hint: str = "try a lower --lr",
) -> Path:
    """Run steps ``step+1 .. steps``; return the checkpoint path.

    Each step: ``forward(step)`` gives the loss and its parts; the processes agree whether
    any loss is not finite or any was asked to stop (``agree``: an all-reduce under DDP, so
    every rank leaves at the same step); then ``update(step, loss)``. A non-finite loss stops
    with a ``ModelError`` and leaves the last good checkpoint alone. The first Ctrl-C (or
    SIGTERM, which is what ``torchrun`` forwards) finishes the step, writes a checkpoint and
    raises ``KeyboardInterrupt``; a second Ctrl-C quits at once.
    """
    note = on_note or (lambda _m: None)
    out = checkpointer.out
    stop = threading.Event()
    message = "\nstopping after this step to save a checkpoint (Ctrl-C again to quit at once)\n"
    started, first = time.perf_counter(), step
    with Interrupt(on_first=stop.set, message=message if checkpointer.write else None, sigterm=True):
        while step < steps:
            loss, parts = forward(step)
            bad, stopping = agree([not bool(torch.isfinite(loss.detach())), stop.is_set()])
            if bad:
                value = loss.item() if not math.isfinite(loss.item()) else "not finite on another process"
                raise ModelError(f"the loss became {value} at step {step + 1}; the last good checkpoint is kept "
                                 f"({out if out.exists() else 'none yet'}); {lr_hint}")
            if stopping:
                checkpointer.save(step, extra_state())
                note(f"interrupted at step {step}/{steps}: saved {out}; continue with --resume")
                raise KeyboardInterrupt
            update(step, loss)
            step += 1
            last = step == steps
            if on_progress and (step % log_every == 0 or last):
                spp = (time.perf_counter() - started) / (step - first)
                losses = {k: float(v.detach()) for k, v in {"total": loss, **parts}.items()}
                on_progress(Progress(step, steps, losses, spp))
            if step % checkpoint_every == 0 or last:
                checkpointer.save(step, extra_state())
            if sample is not None and sample_every and (step % sample_every == 0 or last):
                sample(step)
    return out


# -- sample sheets ------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global generators (the initial weights come from torch's)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sample_inputs(images: list[np.ndarray], size: int, count: int = 4) -> torch.Tensor:
    """The first ``count`` photos, centre-cropped to ``size``, as the (N, 3, H, W) float batch a
    sample sheet shows."""
    return torch.from_numpy(np.stack([center_crop(img, size) for img in images[:count]])).permute(0, 3, 1, 2).float()


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Scale ``img`` so its short side is ``size`` and cut the central square."""
    short = min(img.shape[:2])
    scale = size / short
    img = cv2.resize(img, (max(size, round(img.shape[1] * scale)), max(size, round(img.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA)
    y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return np.ascontiguousarray(img[y : y + size, x : x + size])


SHEET_LABEL_HEIGHT = 20  # the band of column labels above a sample sheet, in pixels


def write_sample_sheet(path: Path, columns: list[torch.Tensor], labels: list[str] | None = None) -> None:
    """One row per sample, one column per tensor (each ``[N, 3, H, W]`` RGB 0..255), as PNG;
    ``labels`` name the columns in a band above them (e.g. input | teacher | student)."""
    rows = [torch.cat([c.detach().float().cpu().clamp(0, 255) for c in cells], dim=2) for cells in zip(*columns)]
    sheet = torch.cat(rows, dim=1).permute(1, 2, 0).round().byte().numpy()
    if labels:
        sheet = np.vstack([label_band(labels, [c.shape[3] for c in columns]), sheet])
    ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if ok:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.tobytes())


def label_band(labels: list[str], widths: list[int], height: int = SHEET_LABEL_HEIGHT) -> np.ndarray:
    """A dark RGB band with each label centred over its column."""
    band = np.full((height, sum(widths), 3), 32, np.uint8)
    x = 0
    for text, width in zip(labels, widths):
        scale = 0.45
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        if tw > width - 4:  # a narrow column: smaller text
            scale *= (width - 4) / tw
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.putText(band, text, (x + max(2, (width - tw) // 2), (height + th) // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), 1, cv2.LINE_AA)
        x += width
    return band


def sample_sheet_path(out: Path) -> Path:
    return Path(out).with_name(f"{Path(out).stem}.samples.png")
