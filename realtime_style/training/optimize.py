"""`optimize`: Gatys et al. (2016) style transfer by optimising the picture itself.

The image (RGB in 0..1) starts as the content photo and is moved by L-BFGS (with a strong
Wolfe line search) or Adam to lower the same VGG16 perceptual loss that `train` uses
(:class:`~realtime_style.training.vgg.PerceptualLoss`). ``scales`` > 1 starts at a lower
resolution (halving per scale) and upsamples each result as the start of the next, which
lays out the large structures cheaply and helps large images. A "step" is one evaluation
of the loss and its gradient (L-BFGS may take several per iteration), ``steps`` per scale.

Default weights: content 1e5, style 1e11, a style/content ratio of 1e6 as in the PyTorch
tutorial's Gatys implementation, whose conventions (content at conv2_2, MSE of Gram matrices
normalised by C·H·W) are the closest to ours; `train` uses 1e5 because a feed-forward network
averages over many photos.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from realtime_style.errors import InputError, ModelError, OutputError
from realtime_style.training import device as devices
from realtime_style.training.loop import Progress
from realtime_style.training.vgg import PerceptualLoss, load_vgg16, vgg16_weights

DEFAULT_CONTENT_WEIGHT = 1e5
DEFAULT_STYLE_WEIGHT = 1e11
DEFAULT_TV_WEIGHT = 2e5
OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclasses.dataclass
class OptimizeConfig:
    content: str
    style: str
    out: str
    vgg_weights: str | None = None
    steps: int = 300
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: DEFAULT_LR[optimizer]
    size: int = 512  # long side of the result (0: the content's own size)
    scales: int = 1
    style_size: int = 0  # long side of the style image at the last scale (0: the same as the result)
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    preserve_color: bool = False
    overwrite: bool = False
    device: str = "auto"
    threads: int = 0
    log_every: int = 10


@dataclasses.dataclass
class OptimizeResult:
    path: Path
    size: tuple[int, int]  # (width, height)
    first_loss: float
    final_loss: float
    seconds: float


def run(config: OptimizeConfig, on_progress: Callable[[Progress], None] | None = None,
        on_note: Callable[[str], None] | None = None) -> OptimizeResult:
    from realtime_style.engine.adjust import preserve_color
    from realtime_style.io.images import IMAGE_SUFFIXES, Picture, read_image, write_image

    out = Path(config.out)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise OutputError(f"{out}: unknown image format; use one of {', '.join(IMAGE_SUFFIXES)}")
    if out.exists() and not config.overwrite:
        raise OutputError(f"{out} exists; pass --overwrite to replace it")
    if config.optimizer not in OPTIMIZERS:
        raise ModelError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {config.optimizer!r}")
    if config.scales < 1:
        raise ModelError("--scales must be at least 1")
    content = read_image(config.content).rgb
    style = read_image(config.style).rgb
    for what, img in (("content", content), ("style", style)):
        if min(img.shape[:2]) < 16:
            raise InputError(f"the {what} image is {img.shape[1]}x{img.shape[0]}; it needs at least 16 px a side")
    if config.threads:
        torch.set_num_threads(config.threads)
    dev = devices.pick_device(config.device)
    vgg = load_vgg16(vgg16_weights(config.vgg_weights, on_note=on_note)).to(dev)
    final_long = config.size or max(content.shape[:2])
    longs = [max(32, round(final_long / 2 ** (config.scales - 1 - k))) for k in range(config.scales)]
    for what, img, long_side in (("photo", content, longs[0]),
                                 ("style image", style, (config.style_size or final_long) * longs[0] / final_long)):
        if min(img.shape[:2]) * long_side / max(img.shape[:2]) < 16:
            raise InputError(f"the {what} would be under 16 px on its short side at the first scale; "
                             "raise --size or --style-size, or lower --scales")
    lr = config.lr if config.lr is not None else DEFAULT_LR[config.optimizer]
    total = config.steps * config.scales
    done, first, last = 0, math.nan, math.nan
    started = time.perf_counter()
    image = None
    for long_side in longs:
        target = _resize_long(content, long_side)
        style_long = round((config.style_size or final_long) * long_side / final_long)
        style_t = _tensor(_resize_long(style, max(16, style_long)), dev)
        loss_fn = PerceptualLoss(vgg, style_t, config.content_weight, config.style_weight, config.tv_weight)
        content_t = _tensor(target, dev)
        content_feats = loss_fn.content_features(content_t)
        if image is None:
            start = content_t / 255.0
        else:
            start = F.interpolate(image, size=content_t.shape[-2:], mode="bicubic", align_corners=False)
        param = start.clamp(0, 1).detach().contiguous().requires_grad_(True)

        def evaluate() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            nonlocal done, first, last
            loss, parts = loss_fn(param * 255.0, content_feats)  # noqa: B023 - called within this scale only
            if not torch.isfinite(loss):
                raise ModelError(f"the loss became {loss.item()} at step {done + 1}; lower --lr or the weights")
            done += 1
            last = float(loss.detach())
            first = last if math.isnan(first) else first
            if on_progress and (done % config.log_every == 0 or done == total):
                spp = (time.perf_counter() - started) / done
                losses = {k: float(v.detach()) for k, v in {"total": loss, **parts}.items()}
                on_progress(Progress(min(done, total), total, losses, spp))
            return loss, parts

        budget = done + config.steps
        if config.optimizer == "adam":
            opt = torch.optim.Adam([param], lr=lr)
            while done < budget:
                opt.zero_grad()
                loss, _ = evaluate()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    param.clamp_(0, 1)
        else:
            opt = torch.optim.LBFGS([param], lr=lr, max_iter=config.steps, history_size=50,
                                    line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad()  # noqa: B023 - called within this scale only
                loss, _ = evaluate()
                loss.backward()
                return loss

            while done < budget:
                before = done
                for group in opt.param_groups:  # stop close to the budget (a line search may overrun a little)
                    group["max_iter"] = group["max_eval"] = budget - done
                opt.step(closure)
                if done - before <= 1:  # converged: the gradient or the change fell below tolerance
                    break
        image = param.detach().clamp(0, 1)
    result = (image[0].permute(1, 2, 0) * 255.0).round().byte().cpu().numpy()
    if config.preserve_color:
        result = preserve_color(result, _resize_long(content, longs[-1])[: result.shape[0], : result.shape[1]])
    write_image(out, Picture(rgb=np.ascontiguousarray(result)))
    return OptimizeResult(out, (result.shape[1], result.shape[0]), first, last, time.perf_counter() - started)


def _resize_long(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return img
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _tensor(img: np.ndarray, dev: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().contiguous().to(dev)
