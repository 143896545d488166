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


def fidelity_loss(teacher, student_out, teacher_out, w_pixel=1.0, w_feature=1.0, w_gram=50.0):
    """Pixel L1 (0..1 scale) + feature L1 + Gram L1 on the teacher's layers."""
    pixel = F.l1_loss(student_out, teacher_out) / 255.0
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
    r = lambda: torch.rand(n, generator=generator) * 2 - 1  # noqa: E731
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


def stability_loss(student, x, student_out, generator: torch.Generator, noise_std: float = 4.0):
    """The stylization of a moved, slightly noisy input should be the moved stylization:
    || S(T(x) + n) - T(S(x)) || on the pixels T keeps (0..1 scale)."""
    theta = random_warp(x.shape[0], generator).to(x)  # drawn on the CPU: the same on every device
    moved, mask = warp(x, theta)
    noise = torch.randn(x.shape, generator=generator).to(x) * noise_std
    out_moved = student((moved + noise).clamp(0, 255))
    target, _ = warp(student_out, theta)
    mask = F.max_pool2d(1 - mask, 9, stride=1, padding=4)  # keep clear of the borders
    keep = 1 - mask
    return (keep * (out_moved - target).abs()).sum() / (keep.sum() * 3 * 255.0 + 1e-6)


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
