"""`distill`: train a fast student to paint like a teacher, and to hold still on video.

Each step: a batch of random photo crops; the teacher's output (on the fly, no grad, or cut
from the teacher's paintings of whole photos made once: ``teacher_cache``); the student's
output; fidelity (pixels + the teacher's own feature and Gram statistics, and with
``stroke_weight`` its band-passed lightness in place), stability (a moved, noisy input must
give the moved output; ``motion="large"`` adds larger moves, blur and occluders) and,
optionally, a PatchGAN critic. ``init`` starts from an existing student (a built-in, an
exported ONNX file or a checkpoint), grown by ``mid_blocks``/``head_blocks`` refinements that
start at zero. Checkpoints (safetensors + JSON, plus optimiser/RNG state for ``--resume``) every
``checkpoint_every`` steps and at the end; sample sheets beside them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from realtime_style.errors import InputError
from realtime_style.training.data import PhotoCrops
from realtime_style.training.loop import (
    Checkpointer,
    Progress,
    check_out,
    cosine_tail_lr,
    run_steps,
    sample_inputs,
    sample_sheet_path,
    seed_everything,
    set_lr,
    write_sample_sheet,
)
from realtime_style.training.losses import (
    MOTIONS,
    PatchCritic,
    detail_loss,
    fidelity_loss,
    lowpass_loss,
    stability_loss,
    stroke_loss,
)
from realtime_style_export.checkpoints import LoadedModel, load
from realtime_style_export.networks import build


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
    # where the strokes are made: refinement blocks at 1/4 and 1/2 resolution (student only)
    mid_blocks: int = 0
    head_blocks: int = 0
    head_width: int = 24
    photo_skip: bool = False
    init: str = ""  # a student to start from: built-in name, .onnx or checkpoint
    stroke_weight: float = 0.0
    lowpass_weight: float = 0.0  # colour and layout: the blurred outputs' L1
    motion: str = "small"  # stability under "small" moves, or "large" ones with blur and occluders
    teacher_cache: str = ""  # folder of the teacher's paintings of whole photos (built when missing)
    cache_photos: int = 400
    margin: int = 16  # cached crops: loss ignored this close to a side inside the photo


def run(config: DistillConfig, resume: bool = False, on_progress: Callable[[Progress], None] | None = None,
        on_note: Callable[[str], None] | None = None) -> Path:
    """Distil; returns the checkpoint. Ctrl-C saves a checkpoint, then raises KeyboardInterrupt."""
    out = Path(config.out).with_suffix(".safetensors")
    note = on_note or (lambda _m: None)
    check_out(out, resume)
    if config.motion not in MOTIONS:
        raise InputError(f"--motion must be one of {', '.join(MOTIONS)}, not {config.motion!r}")
    if config.crop < 32 and not (config.crop == 0 and config.teacher_cache):
        raise InputError("--crop must be at least 32 px (0, whole photos, needs --teacher-cache)")
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    teacher_model = load_teacher(config.teacher)
    teacher = teacher_model.module.eval().requires_grad_(False)
    if config.teacher_cache:
        data = cached_pairs(config, teacher_model, note)
    else:
        data = PhotoCrops(config.data, crop=config.crop)
        if data.skipped:
            note(f"skipped {data.skipped} unreadable images in {config.data}")
    student = build_student(config).train()
    critic = PatchCritic() if config.adversarial_weight > 0 else None
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999)) if critic else None
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    meta = {"teacher": teacher_model.metadata.get("source", str(config.teacher)),
            "license": "see model card", "artwork": teacher_model.metadata.get("artwork", "unknown")}
    ckpt = Checkpointer(out, student, config.arch, "distill", config, meta,
                        {"optimizer": opt, "critic": critic, "critic_optimizer": opt_c})
    step = 0
    if resume:
        step, state = ckpt.restore()
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        gen.set_state(state["torch_rng"])
        note(f"resumed {out} at step {step}")
    else:
        ckpt.ensure_fresh()
    samples = sample_inputs(data.images, config.crop or 160)

    def forward(_step: int):
        if config.teacher_cache:
            x, target, weight = data.batch(rng, config.batch)
        else:
            x, weight = data.batch(rng, config.batch), None
            with torch.no_grad():
                target = teacher(x)
        y = student(x)
        loss, parts = fidelity_loss(teacher, y, target, config.pixel_weight, config.feature_weight, config.gram_weight,
                                    weight=weight)
        if config.stroke_weight > 0:
            parts["stroke"] = stroke_loss(y, target, weight)
            loss = loss + config.stroke_weight * parts["stroke"]
        if config.lowpass_weight > 0:
            parts["lowpass"] = lowpass_loss(y, target, weight)
            loss = loss + config.lowpass_weight * parts["lowpass"]
        if config.detail_weight > 0:
            parts["detail"] = detail_loss(y, target)
            loss = loss + config.detail_weight * parts["detail"]
        if config.temporal_weight > 0:
            parts["stability"] = stability_loss(student, x, y, gen, motion=config.motion)
            loss = loss + config.temporal_weight * parts["stability"]
        if critic is not None:
            opt_c.zero_grad()
            c_loss = critic.critic_loss(target, y)
            c_loss.backward()
            opt_c.step()
            parts["critic"] = c_loss.detach()
            parts["adversarial"] = critic.generator_loss(y)
            loss = loss + config.adversarial_weight * parts["adversarial"]
        return loss, parts

    def update(step: int, loss: torch.Tensor) -> None:
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
        set_lr(opt, cosine_tail_lr(config.lr, config.steps, step))
        opt.step()

    def sample(_step: int) -> None:
        student.eval()
        with torch.no_grad():
            columns = [samples, teacher(samples), student(samples)]
        student.train()
        write_sample_sheet(sample_sheet_path(out), columns, ["input", "teacher", "student"])

    return run_steps(ckpt, step, config.steps, forward, update, checkpoint_every=config.checkpoint_every,
                     sample_every=config.sample_every, sample=sample, on_progress=on_progress, on_note=note,
                     extra_state=lambda: {"numpy_rng": json.dumps(rng.bit_generator.state),
                                          "torch_rng": gen.get_state()})


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


def build_student(config: DistillConfig) -> torch.nn.Module:
    """The network to train: ``init`` (grown as asked) or a fresh ``arch`` network."""
    growth = {"mid_blocks": config.mid_blocks, "head_blocks": config.head_blocks,
              "head_width": config.head_width, "photo_skip": config.photo_skip}
    grows = config.mid_blocks or config.head_blocks
    if grows and config.arch != "student":
        raise InputError("--mid-blocks/--head-blocks grow the student architecture only")
    if not config.init:
        return build(config.arch, **(growth if grows else {}))
    from realtime_style.models import registry

    path = Path(config.init).expanduser()
    if not path.exists():
        path = registry.find(config.init)[0]
    start = load(path)
    if start.arch != config.arch:
        raise InputError(f"--init {config.init} is a {start.arch} network, not {config.arch}")
    return start.module.grown(**growth) if config.arch == "student" else start.module


def cached_pairs(config: DistillConfig, teacher_model: LoadedModel, note: Callable[[str], None]):
    """The teacher cache of this run, built first where photos are missing."""
    from realtime_style.training import teacher_cache
    from realtime_style_export.onnx_export import export_model

    cache = Path(config.teacher_cache)
    teacher_id = teacher_model.metadata.get("source", str(config.teacher))
    teacher_cache.build(lambda: export_model(teacher_model, None, name="teacher")[0], teacher_id, config.data, cache,
                        photos=config.cache_photos, threads=config.threads, on_note=note)
    return teacher_cache.CachedPairs(cache, config.crop, config.margin)
