"""`train`: a new style from one painting (Johnson et al. 2016), on one device or several.

Each step: a batch of random photo crops per process; the network's output; the VGG16
perceptual loss (content, style Gram matrices, total variation; :mod:`.vgg`); optionally the
stability terms under synthetic motion and noise (``temporal_weight``, as in `distill`) and
a PatchGAN critic that tells crops of the style image from outputs (``adversarial_weight``).
Checkpoints are the same files as `distill`'s, so `realtime-style export` takes them.

Under ``torchrun`` the network (and critic) run in DistributedDataParallel: ``batch`` is per
process, each process crops its own share of the photos with its own random stream, rank 0
alone writes checkpoints, samples and logs. Every random draw of a step comes from
``(seed, rank, step)``, so a run is deterministic and ``--resume`` continues it exactly.

Weights: content 1e5, style 1e10 are pytorch/examples' defaults, whose loss conventions these
are (see :mod:`.vgg`). With Adam only the ratios matter: raise ``style_weight`` (×3 at a time)
for more texture, ``content_weight`` for more of the photo. ``tv_weight`` smooths pixel noise.
The stability and adversarial terms are on a 0..1 scale, so they need weights of the order
of the perceptual terms (1e4 .. 1e6) to matter.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from realtime_style.errors import InputError, ModelError
from realtime_style.training import device as devices
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
from realtime_style.training.losses import PatchCritic, stability_loss
from realtime_style.training.vgg import PerceptualLoss, load_vgg16, vgg16_weights
from realtime_style_export.networks import ARCHITECTURES, build

DEFAULT_CONTENT_WEIGHT = 1e5
DEFAULT_STYLE_WEIGHT = 1e10
DEFAULT_TV_WEIGHT = 2e5  # roughly Johnson et al.'s relative strength (an estimate, see README)
ARCHES = ("johnson", "student")


@dataclasses.dataclass
class TrainConfig:
    style_image: str
    data: str
    out: str
    vgg_weights: str | None = None
    arch: str = "johnson"
    steps: int = 40000
    batch: int = 4
    size: int = 256
    lr: float = 1e-3
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    style_size: int = 512
    temporal_weight: float = 0.0
    adversarial_weight: float = 0.0
    seed: int = 0
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 10
    threads: int = 0
    device: str = "auto"
    precision: str = "auto"


def run(config: TrainConfig, resume: bool = False, on_progress: Callable[[Progress], None] | None = None,
        on_note: Callable[[str], None] | None = None) -> Path:
    """Train; returns the checkpoint. Ctrl-C saves a checkpoint, then raises KeyboardInterrupt."""
    if config.arch not in ARCHES:
        raise ModelError(f"--arch must be one of {', '.join(ARCHES)}, not {config.arch!r}")
    multiple = ARCHITECTURES[config.arch].pad_multiple
    if config.size % multiple:
        raise ModelError(f"--size must be a multiple of {multiple} for {config.arch} (got {config.size})")
    procs = devices.start(config.device)
    try:
        return _train(config, procs, resume, on_progress if procs.is_main else None,
                      (on_note or (lambda _m: None)) if procs.is_main else (lambda _m: None))
    finally:
        procs.close()


def _train(config: TrainConfig, procs: devices.Processes, resume: bool, on_progress, note) -> Path:
    out = Path(config.out).with_suffix(".safetensors")
    dev = procs.device
    check_out(out, resume)
    cuda = dev.type == "cuda"
    settings = devices.compute_settings(dev.type, config.precision, cuda and torch.cuda.is_bf16_supported())
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)  # the same initial weights on every process
    style = _style_image(config.style_image, config.style_size)
    weights = procs.main_first(lambda: vgg16_weights(config.vgg_weights, on_note=note))
    data = PhotoCrops(config.data, crop=config.size, shard=(procs.rank, procs.world))
    if data.skipped:
        note(f"skipped {data.skipped} unreadable images in {config.data}")
    if procs.distributed:
        share = "all of them (fewer photos than processes)" if data.total < procs.world else f"{len(data)} each"
        note(f"{procs.world} processes ({procs.backend}, {dev.type}), {config.batch} images per process and step; "
             f"{data.total} photos, {share}")
    note(f"training on {dev} ({settings.label})")

    memory = torch.channels_last if settings.channels_last else torch.contiguous_format
    vgg = load_vgg16(weights).to(dev, memory_format=memory)
    style_t = torch.from_numpy(style).permute(2, 0, 1)[None].float().to(dev)
    with _autocast(dev, settings):
        loss_fn = PerceptualLoss(vgg, style_t, config.content_weight, config.style_weight, config.tv_weight)
    model = build(config.arch).to(dev, memory_format=memory).train()
    critic = PatchCritic().to(dev, memory_format=memory) if config.adversarial_weight > 0 else None
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999)) if critic else None
    scaler = torch.amp.GradScaler("cuda") if settings.grad_scaler else None
    meta = {"source": "realtime-style train", "artwork": Path(config.style_image).stem,
            "license": "see model card", "style_image": Path(config.style_image).name}
    ckpt = Checkpointer(out, model, config.arch, "train", config, meta,
                        {"optimizer": opt, "critic": critic, "critic_optimizer": opt_c, "scaler": scaler},
                        write=procs.is_main)
    step = 0
    if resume:
        step, _state = ckpt.restore(map_location=dev)
        note(f"resumed {out} at step {step}")
    else:
        ckpt.ensure_fresh()
    net, critic_net = model, critic
    if procs.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [dev.index] if cuda else None
        net = DDP(model, device_ids=ids)
        critic_net = DDP(critic, device_ids=ids) if critic is not None else None
    style_crops = PhotoCrops.from_images([style], crop=config.size) if critic is not None else None
    samples = sample_inputs(data.images, config.size)

    def to_dev(x: torch.Tensor) -> torch.Tensor:
        return x.to(dev, non_blocking=True).contiguous(memory_format=memory)

    def forward(step: int):
        rng = np.random.default_rng([config.seed, procs.rank, step])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        x = to_dev(data.batch(rng, config.batch))
        with _autocast(dev, settings):
            y = net(x)
            loss, parts = loss_fn(y, loss_fn.content_features(x))
            if config.temporal_weight > 0:
                parts["stability"] = config.temporal_weight * stability_loss(net, x, y, gen)
                loss = loss + parts["stability"]
            if critic is not None:
                real = to_dev(style_crops.batch(rng, config.batch))
                opt_c.zero_grad()
                c_loss = critic.critic_loss(real, y, net=critic_net)
                _backward(c_loss, scaler)
                _step(opt_c, scaler)
                parts["critic"] = c_loss.detach()
                parts["adversarial"] = config.adversarial_weight * critic.generator_loss(y)
                loss = loss + parts["adversarial"]
        return loss.float(), parts

    def update(step: int, loss: torch.Tensor) -> None:
        opt.zero_grad()
        set_lr(opt, cosine_tail_lr(config.lr, config.steps, step))
        _backward(loss, scaler)
        _step(opt, scaler)
        if scaler is not None:
            scaler.update()

    def sample(_step: int) -> None:
        model.eval()
        with torch.no_grad(), _autocast(dev, settings):
            styled = model(to_dev(samples))
        model.train()
        write_sample_sheet(sample_sheet_path(out), [samples, styled], ["input", "output"])

    path = run_steps(ckpt, step, config.steps, forward, update, checkpoint_every=config.checkpoint_every,
                     sample_every=config.sample_every if procs.is_main else 0, sample=sample,
                     log_every=config.log_every, agree=procs.any, on_progress=on_progress, on_note=note,
                     lr_hint="try a lower --lr or --style-weight")
    digest = procs.check_same_weights(model)
    if procs.distributed:
        note(f"weights identical on all {procs.world} processes (sha256 {digest[:16]})")
    return path


def _backward(loss: torch.Tensor, scaler) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


def _step(opt: torch.optim.Optimizer, scaler) -> None:
    if scaler is not None:
        scaler.step(opt)
    else:
        opt.step()


def _autocast(dev: torch.device, settings: devices.ComputeSettings):
    if settings.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=settings.autocast_dtype)


def _style_image(path: str, style_size: int) -> np.ndarray:
    """The style image as RGB uint8, its long side scaled to ``style_size`` (0: as it is)."""
    from realtime_style.io.images import read_image

    rgb = read_image(path).rgb
    if min(rgb.shape[:2]) < 16:
        raise InputError(f"style image {path} is {rgb.shape[1]}x{rgb.shape[0]}; it needs at least 16 px a side")
    if style_size:
        scale = style_size / max(rgb.shape[:2])
        size = (max(16, round(rgb.shape[1] * scale)), max(16, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return np.ascontiguousarray(rgb)
