"""Losses for distillation: fidelity to the teacher (pixels, the teacher's own feature
statistics), temporal stability (synthetic motion and noise), and a PatchGAN critic."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def teacher_features(teacher: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Activations of the teacher's first three layers on ``x`` (float RGB 0..255): the
    texture vocabulary the teacher paints with. Works for the engstrom and johnson nets."""
    if hasattr(teacher, "conv1") and hasattr(teacher.conv1, "norm"):  # engstrom / ml5
        f1 = teacher.conv1(x)
        f2 = teacher.conv2(f1)
        return [f1, f2, teacher.conv3(f2)]
    f1 = teacher.relu(teacher.in1(teacher.conv1(x)))  # johnson / pytorch-examples
    f2 = teacher.relu(teacher.in2(teacher.conv2(f1)))
    return [f1, f2, teacher.relu(teacher.in3(teacher.conv3(f2)))]


def gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def fidelity_loss(teacher, student_out, teacher_out, w_pixel=1.0, w_feature=1.0, w_gram=50.0, weight=None):
    """Pixel L1 (0..1 scale; over the pixels ``weight``, N1HW, keeps) + feature L1 + Gram L1
    on the teacher's layers."""
    if weight is None:
        pixel = F.l1_loss(student_out, teacher_out) / 255.0
    else:
        pixel = (weight * (student_out - teacher_out).abs()).sum() / (weight.sum() * 3 * 255.0 + 1e-6)
    if w_feature == 0 and w_gram == 0:  # the teacher's layers are not run at all
        zero = pixel.new_zeros(())
        return w_pixel * pixel, {"pixel": pixel, "feature": zero, "gram": zero}
    fs = teacher_features(teacher, student_out)
    with torch.no_grad():
        ft = teacher_features(teacher, teacher_out)
    feature = sum(F.l1_loss(a, b) / (b.abs().mean() + 1e-6) for a, b in zip(fs, ft)) / len(fs)
    texture = sum(F.l1_loss(gram(a), gram(b)) / (gram(b).abs().mean() + 1e-6) for a, b in zip(fs, ft)) / len(fs)
    parts = {"pixel": pixel, "feature": feature, "gram": texture}
    return w_pixel * pixel + w_feature * feature + w_gram * texture / 50.0, parts


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).reshape(1, 1, 3, 3)
_GREY = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)


def detail_map(x: torch.Tensor, window: int = 16) -> torch.Tensor:
    """Local detail energy: |Laplacian| of the grey image (0..1 scale), averaged over
    ``window``-pixel neighbourhoods. Says how much texture a region has, not where its
    strokes lie, so matching it sharpens without asking for the teacher's exact phase."""
    grey = (x * _GREY.to(x)).sum(1, keepdim=True) / 255.0
    lap = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), _LAPLACIAN.to(x)).abs()
    return F.avg_pool2d(lap, window, stride=window // 2)


def detail_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, scales: int = 2) -> torch.Tensor:
    """Relative L1 between the local detail energy of student and teacher, at full and
    half resolution (a blurred student has too little; a noisy one too much)."""
    total = student_out.new_zeros(())
    s, t = student_out, teacher_out
    for level in range(scales):
        if level:
            s, t = F.avg_pool2d(s, 2), F.avg_pool2d(t, 2)
        ds, dt = detail_map(s), detail_map(t)
        total = total + F.l1_loss(ds, dt) / (dt.mean() + 1e-6)
    return total / scales


def random_warp(n: int, generator: torch.Generator, max_shift: float = 0.03, max_zoom: float = 0.04,
                max_rot_deg: float = 2.0) -> torch.Tensor:
    """Random small affine transforms (normalised coordinates) for ``affine_grid``."""
    r = lambda: torch.rand(n, generator=generator) * 2 - 1
    angle = r() * math.radians(max_rot_deg)
    zoom = 1 + r() * max_zoom
    tx, ty = r() * max_shift * 2, r() * max_shift * 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def warp(x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``x`` by ``theta``; also return the mask of pixels that came from inside."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(x[:, :1])
    mask = F.grid_sample(ones, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out, mask


MOTIONS = {  # random_warp ranges: "large" has moves of up to ~10 % of the crop, as fast video has
    "small": {"max_shift": 0.03, "max_zoom": 0.04, "max_rot_deg": 2.0},
    "large": {"max_shift": 0.10, "max_zoom": 0.10, "max_rot_deg": 6.0},
}


def stability_loss(student, x, student_out, generator: torch.Generator, noise_std: float = 4.0,
                   motion: str = "small"):
    """The stylization of a moved, slightly noisy input should be the moved stylization:
    || S(T(x) + n) - T(S(x)) || on the pixels T keeps (0..1 scale).

    ``motion="large"``: larger moves, and in half of the crops a short motion blur of the
    moved input (along a random axis) and an occluder (a rectangle of another crop pasted
    on top, left out of the loss with a margin), as real footage has."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, not {motion!r}")
    n = x.shape[0]
    theta = random_warp(n, generator, **MOTIONS[motion]).to(x)  # drawn on the CPU: the same on every device
    moved, mask = warp(x, theta)
    noise = torch.randn(x.shape, generator=generator).to(x) * noise_std
    if motion == "large":
        moved, mask = _blur_and_occlude(moved, mask, generator)
    out_moved = student((moved + noise).clamp(0, 255))
    target, _ = warp(student_out, theta)
    mask = F.max_pool2d(1 - mask, 9, stride=1, padding=4)  # keep clear of the borders
    keep = 1 - mask
    return (keep * (out_moved - target).abs()).sum() / (keep.sum() * 3 * 255.0 + 1e-6)


def _blur_and_occlude(moved: torch.Tensor, mask: torch.Tensor, generator: torch.Generator):
    n, _, h, w = moved.shape
    out, mask = moved.clone(), mask.clone()
    draws = torch.rand(n, 6, generator=generator)
    for i in range(n):
        if draws[i, 0] < 0.5:  # a 3- or 5-tap motion blur, horizontal or vertical
            taps = 3 if draws[i, 1] < 0.5 else 5
            shape = (1, taps) if draws[i, 2] < 0.5 else (taps, 1)
            kernel = torch.full((3, 1, *shape), 1.0 / taps, dtype=out.dtype, device=out.device)
            pad = (shape[1] // 2, shape[1] // 2, shape[0] // 2, shape[0] // 2)
            out[i] = F.conv2d(F.pad(out[i : i + 1], pad, mode="replicate"), kernel, groups=3)[0]
        if draws[i, 3] < 0.5 and n > 1:  # an occluder: part of the next crop, pasted on top
            bh = max(4, int(h * (0.15 + 0.2 * float(draws[i, 4]))))
            bw = max(4, int(w * (0.15 + 0.2 * float(draws[i, 5]))))
            y = int(torch.randint(0, h - bh + 1, (1,), generator=generator))
            x0 = int(torch.randint(0, w - bw + 1, (1,), generator=generator))
            out[i, :, y : y + bh, x0 : x0 + bw] = moved[(i + 1) % n, :, y : y + bh, x0 : x0 + bw]
            mask[i, :, y : y + bh, x0 : x0 + bw] = 0  # not compared (the border margin widens it)
    return out, mask


class PatchCritic(nn.Module):
    """A small PatchGAN: real = teacher outputs, fake = student outputs (LSGAN loss)."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, cin = [], 3
        for i, cout in enumerate((width, width * 2, width * 4)):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.InstanceNorm2d(cout, affine=True) if i else nn.Identity(),
                       nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x / 127.5 - 1.0)

    def critic_loss(self, real, fake, net: nn.Module | None = None):
        """``net``: this critic wrapped in DistributedDataParallel, so that the calls go
        through the wrapper and the gradients are averaged over the processes."""
        net = self if net is None else net
        return ((net(real) - 1) ** 2).mean() + (net(fake.detach()) ** 2).mean()

    def generator_loss(self, fake):
        return ((self(fake) - 1) ** 2).mean()


# -- strokes: the teacher's band-passed lightness, in place ------------------------------------
def lightness(x: torch.Tensor) -> torch.Tensor:
    """CIE L (0..100) of float RGB 0..255, NCHW -> N1HW: sRGB decoding, D65 luminance, the
    CIE cube root, as OpenCV's ``COLOR_RGB2LAB`` computes it on float images."""
    c = (x / 255.0).clamp(0, 1)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055).clamp_min(1e-8) ** 2.4)
    y = (lin * _LUMA.to(x)).sum(1, keepdim=True)
    return torch.where(y > 0.008856, 116.0 * y.clamp_min(1e-8) ** (1.0 / 3.0) - 16.0, 903.3 * y)


_LUMA = torch.tensor([0.212671, 0.715160, 0.072169]).reshape(1, 3, 1, 1)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian with reflected borders and OpenCV's kernel length for float images
    (``round(8 sigma + 1) | 1`` taps)."""
    n = max(3, int(round(sigma * 8 + 1)) | 1)
    r = n // 2
    t = torch.arange(n, dtype=x.dtype, device=x.device) - r
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.reshape(1, 1, 1, n).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.reshape(1, 1, n, 1).repeat(c, 1, 1, 1), groups=c)


STROKE_BANDS = ((0.5, 1.0), (1.0, 4.0), (4.0, 8.0))  # the middle one is the measured band


def stroke_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, weight: torch.Tensor | None = None,
                bands=STROKE_BANDS) -> torch.Tensor:
    """Strokes in the teacher's places: for each band-pass of the lightness (difference of
    Gaussians), the L1 distance to the teacher's band relative to its mean magnitude, plus
    one minus their Pearson correlation per crop (the measure of ``metrics.stroke_correlation``),
    over the pixels ``weight`` (N1HW, 0 or 1) keeps."""
    ls = lightness(student_out)
    with torch.no_grad():  # the teacher's side needs no gradient
        lt = lightness(teacher_out.detach())
        targets = [gaussian_blur(lt, fine) - gaussian_blur(lt, coarse) for fine, coarse in bands]
    w = torch.ones_like(ls) if weight is None else weight.to(ls)
    total = ls.new_zeros(())
    for (fine, coarse), bt in zip(bands, targets):
        bs = gaussian_blur(ls, fine) - gaussian_blur(ls, coarse)
        count = w.sum((1, 2, 3)).clamp_min(1.0)
        l1 = (w * (bs - bt).abs()).sum((1, 2, 3)) / count
        scale = (w * bt.abs()).sum((1, 2, 3)) / count + 1e-3
        mean_s, mean_t = (w * bs).sum((1, 2, 3)) / count, (w * bt).sum((1, 2, 3)) / count
        cs, ct = (bs - mean_s.reshape(-1, 1, 1, 1)) * w, (bt - mean_t.reshape(-1, 1, 1, 1)) * w
        corr = (cs * ct).sum((1, 2, 3)) / torch.sqrt((cs * cs).sum((1, 2, 3)) * (ct * ct).sum((1, 2, 3)) + 1e-6)
        total = total + (l1 / scale).mean() + (1 - corr).mean()
    return total / len(bands)


def lowpass_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, weight: torch.Tensor | None = None,
                 sigma: float = 2.0) -> torch.Tensor:
    """Colour and layout: L1 between the Gaussian-blurred (``sigma`` px) outputs, in units of
    8 levels, over the pixels ``weight`` keeps (the measure is low-pass PSNR at the same sigma)."""
    with torch.no_grad():
        bt = gaussian_blur(teacher_out.detach(), sigma)
    diff = (gaussian_blur(student_out, sigma) - bt).abs()
    if weight is None:
        return diff.mean() / 8.0
    return (weight * diff).sum() / (weight.sum() * 3 * 8.0 + 1e-6)
