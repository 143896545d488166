"""`distill`: train a fast student to paint like a teacher, and to hold still on video.

Each step: a batch of random photo crops; the teacher's output (on the fly, no grad); the
student's output; fidelity (pixels + the teacher's own feature and Gram statistics),
stability (a moved, noisy input must give the moved output) and, optionally, a PatchGAN
critic. Checkpoints (safetensors + JSON, plus optimiser/RNG state for ``--resume``) every
``checkpoint_every`` steps and at the end; sample sheets beside them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from export.checkpoints import LoadedModel, load, load_checkpoint, save_checkpoint
from export.networks import build
from realtime_style.errors import InputError, ModelError
from realtime_style.fsutil import atomic_path
from realtime_style.training.data import PhotoCrops
from realtime_style.training.losses import PatchCritic, detail_loss, fidelity_loss, stability_loss


@dataclasses.dataclass
class DistillConfig:
    teacher: str
    data: str
    out: str
    arch: str = "student"
    steps: int = 2000
    batch: int = 4
    crop: int = 192
    lr: float = 1e-3
    temporal_weight: float = 1.0
    adversarial_weight: float = 0.0
    pixel_weight: float = 1.0
    feature_weight: float = 1.0
    gram_weight: float = 50.0
    detail_weight: float = 2.0
    seed: int = 0
    checkpoint_every: int = 250
    sample_every: int = 250
    threads: int = 0


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
    return out.with_suffix(".state.pt")


def run(config: DistillConfig, resume: bool = False, on_progress: Callable[[Progress], None] | None = None,
        on_note: Callable[[str], None] | None = None) -> Path:
    out = Path(config.out).with_suffix(".safetensors")
    note = on_note or (lambda _m: None)
    if config.threads:
        torch.set_num_threads(config.threads)
    _seed_everything(config.seed)
    teacher_model = load_teacher(config.teacher)
    teacher = teacher_model.module.eval().requires_grad_(False)
    data = PhotoCrops(config.data, crop=config.crop)
    if data.skipped:
        note(f"skipped {data.skipped} unreadable images in {config.data}")
    student = build(config.arch).train()
    critic = PatchCritic() if config.adversarial_weight > 0 else None
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999)) if critic else None
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    step = 0
    if resume:
        step, rng, gen = _resume(out, student, opt, critic, opt_c, config)
        note(f"resumed {out} at step {step}")
    elif out.exists():
        raise ModelError(f"{out} exists; pass --resume to continue it or choose another --out")
    samples = torch.from_numpy(np.stack([_center(img, config.crop) for img in data.images[:4]])).permute(0, 3, 1, 2).float()
    meta = {"teacher": teacher_model.metadata.get("source", str(config.teacher)),
            "license": "see model card", "artwork": teacher_model.metadata.get("artwork", "unknown")}
    started = time.perf_counter()
    while step < config.steps:
        x = data.batch(rng, config.batch)
        with torch.no_grad():
            target = teacher(x)
        y = student(x)
        loss, parts = fidelity_loss(teacher, y, target, config.pixel_weight, config.feature_weight, config.gram_weight)
        if config.detail_weight > 0:
            parts["detail"] = detail_loss(y, target)
            loss = loss + config.detail_weight * parts["detail"]
        if config.temporal_weight > 0:
            parts["stability"] = stability_loss(student, x, y, gen)
            loss = loss + config.temporal_weight * parts["stability"]
        if critic is not None:
            opt_c.zero_grad()
            c_loss = critic.critic_loss(target, y)
            c_loss.backward()
            opt_c.step()
            parts["critic"] = c_loss.detach()
            parts["adversarial"] = critic.generator_loss(y)
            loss = loss + config.adversarial_weight * parts["adversarial"]
        if not torch.isfinite(loss):
            raise ModelError(f"the loss became {loss.item()} at step {step + 1}; the last good checkpoint is kept "
                             f"({out if out.exists() else 'none yet'}); try a lower --lr")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
        _set_lr(opt, config, step)
        opt.step()
        step += 1
        if on_progress and (step % 10 == 0 or step == config.steps):
            spp = (time.perf_counter() - started) / step
            losses = {k: float(v.detach()) for k, v in {"total": loss, **parts}.items()}
            on_progress(Progress(step, config.steps, losses, spp))
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(out, student, opt, critic, opt_c, config, step, rng, gen, meta)
        if config.sample_every and (step % config.sample_every == 0 or step == config.steps):
            _sample_sheet(out, step, samples, teacher, student)
    return out


def load_teacher(spec: str) -> LoadedModel:
    """A teacher by path (ml5 folder, .pth, our checkpoint) or by name (an ml5 teacher that
    `models pull` put under the home's teachers folder)."""
    from realtime_style.models.registry import home

    path = Path(spec).expanduser()
    if not path.exists():
        cached = home() / "teachers" / "ml5" / spec
        if not cached.exists():
            raise InputError(f"teacher {spec!r} not found: give the path of an ml5 folder or .pth file "
                             f"(or fetch the ml5 teachers with `realtime-style models pull {spec}`)")
        path = cached
    return load(path)


def _set_lr(opt, config: DistillConfig, step: int) -> None:
    """Constant, then a cosine decay over the last 30 % of the steps."""
    start = int(config.steps * 0.7)
    frac = 0.0 if step < start else (step - start) / max(1, config.steps - start)
    for group in opt.param_groups:
        group["lr"] = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _center(img: np.ndarray, size: int) -> np.ndarray:
    short = min(img.shape[:2])
    scale = size / short
    img = cv2.resize(img, (max(size, round(img.shape[1] * scale)), max(size, round(img.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA)
    y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return np.ascontiguousarray(img[y : y + size, x : x + size])


def _save(out, student, opt, critic, opt_c, config, step, rng, gen, meta) -> None:
    record_meta = dict(meta, step=str(step), distill=json.dumps(dataclasses.asdict(config)))
    save_checkpoint(out, student, config.arch, metadata=record_meta)
    state = {
        "step": step,
        "optimizer": opt.state_dict(),
        "critic": critic.state_dict() if critic else {},
        "critic_optimizer": opt_c.state_dict() if opt_c else {},
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": gen.get_state(),
        "config": json.dumps(dataclasses.asdict(config)),
    }
    with atomic_path(state_path(out)) as tmp:
        torch.save(state, tmp)


def _resume(out: Path, student, opt, critic, opt_c, config):
    if not out.exists() or not state_path(out).exists():
        raise ModelError(f"nothing to resume: {out} or {state_path(out).name} is missing")
    student.load_state_dict(load_checkpoint(out).module.state_dict())
    state = torch.load(state_path(out), map_location="cpu", weights_only=True)
    saved = json.loads(state["config"])
    if saved["arch"] != config.arch:
        raise ModelError(f"{out} is a {saved['arch']} student; --arch {config.arch} cannot resume it")
    opt.load_state_dict(state["optimizer"])
    if critic is not None and state["critic"]:
        critic.load_state_dict(state["critic"])
        opt_c.load_state_dict(state["critic_optimizer"])
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    gen = torch.Generator()
    gen.set_state(state["torch_rng"])
    return int(state["step"]), rng, gen


def _sample_sheet(out: Path, step: int, samples: torch.Tensor, teacher, student) -> None:
    """Rows: input | teacher | student, for fixed crops of the first training photos."""
    was_training = student.training
    student.eval()
    with torch.no_grad():
        t, s = teacher(samples), student(samples)
    student.train(was_training)
    rows = [torch.cat([a, b, c], dim=2) for a, b, c in zip(samples, t.clamp(0, 255), s.clamp(0, 255))]
    sheet = torch.cat(rows, dim=1).permute(1, 2, 0).round().byte().numpy()
    path = out.with_name(f"{out.stem}.samples.png")
    ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if ok:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.tobytes())
