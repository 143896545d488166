"""The VGG16 loss network (Johnson et al. 2016; Gatys et al. 2016), shared by `train` and
`optimize`.

- Weights: torchvision's ``vgg16`` state dict (keys ``features.N.weight/bias``), either a
  file given with ``--vgg-weights`` or torchvision's public file, downloaded once into
  ``$REALTIME_STYLE_HOME/weights`` and checked the way torchvision checks it (the sha256 of
  the file starts with the hex in its name). torchvision itself is not needed.
- Input: float RGB 0..255 ``[N, 3, H, W]``, divided by 255 and normalised with the ImageNet
  mean and std inside :class:`VGG16Features` (what torchvision's weights expect).
- Taps: relu1_2, relu2_2, relu3_3, relu4_3 (the layers after ``features.3, 8, 15, 22``);
  nothing past relu4_3 is built.
- Losses (:class:`PerceptualLoss`): content = MSE of relu2_2 features; style = sum over the
  four taps of the MSE between Gram matrices ``F F^T / (C H W)``; total variation = mean
  squared difference of neighbouring pixels (0..1 scale), both directions added.

These are exactly pytorch/examples' ``fast_neural_style`` conventions (``normalize_batch``
divides by 255 and applies the ImageNet statistics; its Gram divides by ``C*H*W``), so its
weights carry over unchanged: content 1e5, style 1e10.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from realtime_style.errors import InputError, ModelError
from realtime_style.training.losses import gram

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's vgg16 "D" configuration up to relu4_3: (index of the conv in `features`, in, out).
CONVS = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
         (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512))
POOLS = (4, 9, 16)  # max pools before relu4_3 (torchvision also has 23 and 30)
TAPS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}  # index of the ReLU in `features`
LATER_CONVS = ((24, 512, 512), (26, 512, 512), (28, 512, 512))  # checked when present, not used
CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
HINT = "give torchvision's vgg16 weights (vgg16-397923af.pth) with --vgg-weights PATH"


class VGG16Features(nn.Module):
    """torchvision's ``vgg16().features[:23]`` with the same indices, plus the input
    normalisation; returns the activations at :data:`TAPS`. Frozen (no gradients to its
    weights), always in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        convs = {i: (cin, cout) for i, cin, cout in CONVS}
        for index in range(TAPS["relu4_3"] + 1):
            if index in convs:
                layers.append(nn.Conv2d(*convs[index], 3, padding=1))
            elif index in POOLS:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG16Features":
        return super().train(False)  # a fixed loss network: never in training mode

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0..255 -> (x / 255 - mean) / std."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        names = {index: name for name, index in TAPS.items()}
        h = self.normalise(x)
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in names:
                out[names[index]] = h
        return out


# -- weights ------------------------------------------------------------------------------------
def load_vgg16(path: str | Path) -> VGG16Features:
    """A :class:`VGG16Features` with the weights in ``path`` (torchvision's ``vgg16`` state dict
    as ``.pth``, or the same keys in a ``.safetensors`` file). Extra keys (the rest of
    ``features``, ``classifier.*``) are ignored; missing keys or wrong shapes are refused."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"VGG16 weights {path} do not exist; {HINT}")
    state = _read_state(path)
    net = VGG16Features()
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        found = sorted({m.group(0) for k in state for m in [re.match(r"^[^.]+", k)] if m})
        raise ModelError(f"{path} is not torchvision's vgg16 state dict: {len(missing)} keys missing "
                         f"(e.g. {missing[0]}; the file has {', '.join(found[:4]) or 'no'} keys); {HINT}")
    expected = dict((k, tuple(v.shape)) for k, v in own.items())
    for i, cin, cout in LATER_CONVS:
        expected[f"features.{i}.weight"], expected[f"features.{i}.bias"] = (cout, cin, 3, 3), (cout,)
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            raise ModelError(f"{path}: {key} has shape {list(state[key].shape)}, vgg16 has {list(shape)} "
                             f"(another network?); {HINT}")
    tensors = {k: state[k].float() for k in own}
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise ModelError(f"{path} holds NaN or infinite weights; {HINT}")
    net.load_state_dict(tensors)
    return net


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            try:  # memory-mapped: the classifier (400 MB) is never read
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # files in the legacy (non-zip) format cannot be mapped
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a PyTorch state dict that loads with weights_only=True "
                         f"({type(exc).__name__}); {HINT}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} is not a state dict of tensors; {HINT}")
    return state


def random_state(seed: int = 0, classifier: bool = True) -> dict[str, torch.Tensor]:
    """A random state dict in torchvision's ``vgg16`` format (tests, benchmarks): every conv of
    :data:`CONVS` and :data:`LATER_CONVS` with its real shape (He-initialised, so activations keep
    their scale), and (small stand-ins for) the classifier keys a real file also carries."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, cin, cout in CONVS + LATER_CONVS:
        state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
        state[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.01
    if classifier:
        state["classifier.6.weight"] = torch.zeros(1000, 16)
        state["classifier.6.bias"] = torch.zeros(1000)
    return state


def write_random(path: Path, seed: int = 0, **kwargs) -> Path:
    """:func:`random_state` saved with ``torch.save`` (59 MB), as torchvision's file is."""
    torch.save(random_state(seed, **kwargs), path)
    return path


def weights_dir() -> Path:
    from realtime_style.models.registry import home

    return home() / "weights"


def vgg16_weights(path: str | None = None, on_note: Callable[[str], None] | None = None,
                  on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
    """The weights file to use: ``path`` when given; else torchvision's file from the cache,
    downloaded there first if needed (``REALTIME_STYLE_MIRROR``, a directory or base URL with
    ``torchvision/FILE``, replaces the public URL for offline machines)."""
    if path:
        resolved = Path(path).expanduser()
        if not resolved.is_file():
            raise InputError(f"--vgg-weights {path} does not exist")
        return resolved
    from realtime_style.models.pull import fetch_file

    name = VGG16_URL.rsplit("/", 1)[1]
    target = weights_dir() / name
    if target.is_file():
        return target
    m = re.search(r"-([a-f0-9]{6,})\.", name)
    if not m:
        raise ModelError(f"{VGG16_URL}: no hash prefix in the file name to check it against")
    mirror = os.environ.get("REALTIME_STYLE_MIRROR", "").strip()
    src = VGG16_URL
    if mirror:
        src = f"{mirror.rstrip('/')}/torchvision/{name}" if "://" in mirror else \
            str(Path(mirror).expanduser() / "torchvision" / name)
    if on_note:
        on_note(f"downloading the VGG16 loss network weights (528 MB, once) from {src} to {target}")
    if on_bytes is None and on_note is not None:
        on_bytes = _every_tenth(on_note)
    return fetch_file(src, target, sha256_prefix=m.group(1), on_bytes=on_bytes,
                      hint=f"no VGG16 weights in the cache; {HINT} (or set REALTIME_STYLE_MIRROR)")


def _every_tenth(note: Callable[[str], None]) -> Callable[[int, int | None], None]:
    """A download progress report: one note per tenth of the file (when its size is known)."""
    shown = [0]

    def report(done: int, total: int | None) -> None:
        if total and done * 10 // total > shown[0]:
            shown[0] = done * 10 // total
            note(f"downloaded {done / 1e6:.0f} of {total / 1e6:.0f} MB")

    return report


# -- losses ---------------------------------------------------------------------------------------
def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """``F F^T / (C H W)`` per image, in float32 whatever the features' dtype (the sums of
    squares overflow fp16 and lose bits in bf16), with autocast off."""
    with torch.autocast(f.device.type, enabled=False):
        return gram(f.float())


def total_variation(y: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertical plus horizontal neighbours, RGB on a 0..1 scale."""
    y = y.float() / 255.0
    return ((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2).mean() + ((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2).mean()


class PerceptualLoss(nn.Module):
    """Johnson et al.'s loss: content (relu2_2), style (Gram matrices at four taps) and total
    variation, each times its weight. The style targets are the Gram matrices of one style
    image (``[1, 3, H, W]`` RGB 0..255), computed once."""

    def __init__(self, vgg: VGG16Features, style_image: torch.Tensor, content_weight: float,
                 style_weight: float, tv_weight: float) -> None:
        super().__init__()
        self.vgg = vgg
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        with torch.no_grad():
            feats = vgg(style_image)
            for name in STYLE_LAYERS:
                self.register_buffer(f"target_{name}", gram_matrix(feats[name]), persistent=False)

    def content_features(self, x: torch.Tensor) -> torch.Tensor:
        """The content target of ``x`` (no gradient)."""
        with torch.no_grad():
            return self.vgg(x)[CONTENT_LAYER]

    def forward(self, y: torch.Tensor, content: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``y``: the stylized images (0..255); ``content``: :meth:`content_features` of their
        inputs. Returns the weighted total and the weighted parts."""
        feats = self.vgg(y)
        parts = {"content": self.content_weight * F.mse_loss(feats[CONTENT_LAYER].float(), content.float())}
        style = y.new_zeros((), dtype=torch.float32)
        for name in STYLE_LAYERS:
            g = gram_matrix(feats[name])
            target = getattr(self, f"target_{name}")
            style = style + F.mse_loss(g, target.expand_as(g))
        parts["style"] = self.style_weight * style
        if self.tv_weight:
            parts["tv"] = self.tv_weight * total_variation(y)
        return sum(parts.values()), parts
