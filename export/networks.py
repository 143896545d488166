"""Style networks. Each maps float RGB 0..255 ``[N, 3, H, W]`` to float RGB ~0..255.

- ``johnson``: pytorch/examples ``fast_neural_style`` TransformerNet, with its state-dict
  keys, so their published ``.pth`` files load.
- ``engstrom``: lengstrom/fast-style-transfer (the ml5 teachers), TensorFlow "SAME" padding,
  transposed convolutions, instance norm with eps 1e-3, output ``tanh(x) * 150 + 127.5``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F


# -- Johnson / pytorch-examples ---------------------------------------------------------
class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        return x + self.in2(self.conv2(self.relu(self.in1(self.conv1(x)))))


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, upsample: int | None = None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=float(self.upsample), mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """Johnson et al. 2016 as in pytorch/examples (RGB 0..255 in and out, no tanh).

    The defaults are pytorch/examples' network; ``channels`` and ``res_blocks`` make
    narrower or shallower variants with the same layout and key names.
    """

    pad_multiple = 4

    def __init__(self, channels: tuple[int, int, int] = (32, 64, 128), res_blocks: int = 5):
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = ConvLayer(3, c1, 9, 1)
        self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = ConvLayer(c1, c2, 3, 2)
        self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = ConvLayer(c2, c3, 3, 2)
        self.in3 = nn.InstanceNorm2d(c3, affine=True)
        self.res_blocks = res_blocks
        for i in range(1, res_blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(c3))
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = ConvLayer(c1, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, self.res_blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


# -- Engstrom / ml5 -----------------------------------------------------------------------
ML5_EPS = 1e-3


class SameConv(nn.Module):
    """Conv + instance norm (+ ReLU) with TensorFlow "SAME" zero padding.

    Stride-2 layers pad (0, 1) on each axis, which is TensorFlow's choice for even sides;
    the runtime pads frames to a multiple of 4 so every stride-2 input is even.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, bias=False)
        self.norm = nn.InstanceNorm2d(cout, affine=True, eps=ML5_EPS)
        self.relu = relu
        total = k - stride  # (out - 1) * stride + k - in, with in = out * stride
        self.pads = (total // 2, total - total // 2) * 2  # left, right, top, bottom

    def forward(self, x):
        h, w = x.shape[-2], x.shape[-1]
        if self.conv.stride[0] == 2 and isinstance(h, int) and (h % 2 or w % 2):
            raise ValueError(f"engstrom network needs sides that are multiples of 4 (got {w}x{h} at a stride-2 layer)")
        y = self.norm(self.conv(F.pad(x, self.pads)))
        return F.relu(y) if self.relu else y


class SameConvTranspose(nn.Module):
    """TensorFlow ``conv2d_transpose`` stride 2, "SAME": output exactly twice the input.

    The full transposed convolution is ``2n + 1`` long; TensorFlow keeps ``[0, 2n)``.
    """

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, k, 2, bias=False)
        self.norm = nn.InstanceNorm2d(cout, affine=True, eps=ML5_EPS)

    def forward(self, x):
        y = self.conv(x)[:, :, :-1, :-1]
        return F.relu(self.norm(y))

    def subpixel(self) -> "SubpixelUpsample":
        return SubpixelUpsample(self)


# Which tap of the 3-tap transposed kernel feeds output phase a (0 even, 1 odd) from the
# window's row r (0: input row m - 1, 1: input row m). Output 2m takes x[m]·w0 + x[m-1]·w2,
# output 2m + 1 takes x[m]·w1; the full transposed output (2n + 1 long) cropped to [0, 2n).
_PHASE_TAPS = ((2, 0), (None, 1))


class SubpixelUpsample(nn.Module):
    """The same layer as ``SameConvTranspose`` written as a 2x2 convolution to 4 x cout
    channels (input padded one zero row and column at the top and left) and a pixel shuffle.

    Exact in arithmetic (each output is the same sum of the same products); for export only:
    ONNX Runtime's CPU ConvTranspose runs at about a tenth of its Conv's speed, and the crop
    after it was a separate copy (benchmarks/RESULTS.md, section
    "2026-11-21 · Engstrom transposed convolutions exported as sub-pixel convolutions (issue 7)").
    """

    def __init__(self, layer: SameConvTranspose):
        super().__init__()
        w = layer.conv.weight.detach()  # (cin, cout, 3, 3)
        cin, cout = w.shape[:2]
        kernel = torch.zeros(cout, 2, 2, cin, 2, 2, dtype=w.dtype)  # (c, a, b, ci, r, s)
        for a, rows in enumerate(_PHASE_TAPS):
            for b, cols in enumerate(_PHASE_TAPS):
                for r, kr in enumerate(rows):
                    for s, ks in enumerate(cols):
                        if kr is not None and ks is not None:
                            kernel[:, a, b, :, r, s] = w[:, :, kr, ks].t()
        self.conv = nn.Conv2d(cin, 4 * cout, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(kernel.reshape(4 * cout, cin, 2, 2))
        self.norm = layer.norm

    def forward(self, x):
        y = F.pixel_shuffle(self.conv(F.pad(x, (1, 0, 1, 0))), 2)
        return F.relu(self.norm(y))


class EngstromResidual(nn.Module):
    def __init__(self, channels: int = 128):
        super().__init__()
        self.a = SameConv(channels, channels, 3, 1)
        self.b = SameConv(channels, channels, 3, 1, relu=False)

    def forward(self, x):
        return x + self.b(self.a(x))


class EngstromNet(nn.Module):
    pad_multiple = 4

    def __init__(self):
        super().__init__()
        self.conv1 = SameConv(3, 32, 9, 1)
        self.conv2 = SameConv(32, 64, 3, 2)
        self.conv3 = SameConv(64, 128, 3, 2)
        self.res = nn.Sequential(*(EngstromResidual(128) for _ in range(5)))
        self.up1 = SameConvTranspose(128, 64)
        self.up2 = SameConvTranspose(64, 32)
        self.out = SameConv(32, 3, 9, 1, relu=False)

    def layers(self) -> list[nn.Module]:
        """The 16 conv layers in checkpoint order (kernel, beta, gamma each)."""
        blocks = [m for r in self.res for m in (r.a, r.b)]
        return [self.conv1, self.conv2, self.conv3, *blocks, self.up1, self.up2, self.out]

    def forward(self, x):
        y = self.up2(self.up1(self.res(self.conv3(self.conv2(self.conv1(x))))))
        return torch.tanh(self.out(y)) * 150.0 + 127.5

    def for_export(self) -> "EngstromNet":
        """A copy computing the same function in the operators ONNX Runtime runs fastest:
        the transposed convolutions as sub-pixel convolutions (``SubpixelUpsample``)."""
        twin = copy.deepcopy(self)
        twin.up1, twin.up2 = self.up1.subpixel(), self.up2.subpixel()
        return twin


# -- Students: built for real time on a CPU ---------------------------------------------------
class ConvNormAct(nn.Module):
    """3x3 conv with zero padding inside the conv (no separate Pad op: on ONNX Runtime's
    CPU provider reflection pads break its blocked memory layout, and took 12 % of a Johnson
    network's time, benchmarks/RESULTS.md, section
    "2026-11-21 · CPU baseline: the imported ml5 teacher (issue 2)"), a norm, ReLU.

    ``norm``: "instance" (per-image contrast normalisation, what style networks rely on;
    ORT runs it outside its blocked layout, so it is kept to the small 1/8-scale tensors),
    "batch" (folded into the conv weights at export: free at run time) or None.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, norm: str | None = "instance", act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, padding=1)
        self.norm = {"instance": lambda: nn.InstanceNorm2d(cout, affine=True),
                     "batch": lambda: nn.BatchNorm2d(cout), None: nn.Identity}[norm]()
        self.act = nn.ReLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class StudentResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.a = ConvNormAct(channels, channels)
        self.b = ConvNormAct(channels, channels, act=False)

    def forward(self, x):
        return x + self.b(self.a(x))


def _icnr_(conv: nn.Conv2d, scale: int) -> None:
    """ICNR initialisation (Aitken et al. 2017): the scale x scale sub-pixel filters of each
    output channel start identical, so pixel shuffle starts as a nearest upsampling and
    training does not begin from a checkerboard."""
    with torch.no_grad():
        sub = conv.weight[:: scale * scale].clone()
        conv.weight.copy_(sub.repeat_interleave(scale * scale, dim=0))
        conv.bias.copy_(conv.bias[:: scale * scale].repeat_interleave(scale * scale))


class Refine(nn.Module):
    """A residual refinement at one resolution: conv (+ extra input channels) -> ReLU -> conv,
    added to the features. No norm (ORT's CPU provider keeps plain convs in its fast blocked
    layout). The second conv starts at zero, so a network grown by adding this block computes
    exactly what it did before (``StudentNet.grown``)."""

    def __init__(self, channels: int, width: int, extra: int = 0):
        super().__init__()
        self.a = nn.Conv2d(channels + extra, width, 3, padding=1)
        self.b = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.b.weight)
        nn.init.zeros_(self.b.bias)

    def forward(self, y, extra: torch.Tensor | None = None):
        z = y if extra is None else torch.cat([y, extra], 1)
        return y + self.b(F.relu(self.a(z)))


class StudentNet(nn.Module):
    """A fast feed-forward style network for CPUs.

    Three stride-2 stages take the picture to 1/8 resolution, where residual blocks do most
    of the work; two nearest-upsample stages (with skips from the way down) return to 1/2
    resolution, where one conv predicts a 2x2 block of RGB per position (pixel shuffle), so
    no convolution runs at full resolution. About 8 k multiply-accumulates per output pixel
    with the default widths (Johnson: 154 k). Input normalised inside (x / 127.5 - 1);
    output ``tanh * 127.5 + 127.5``.

    Where strokes are made (``benchmarks/builders/student_frontier.py`` compares these):
    ``mid_blocks`` residual refinements at 1/4 resolution after the first upsampling, and
    ``head_blocks`` at 1/2 resolution before the output conv (``head_width`` channels
    inside), which with ``photo_skip`` also see the photo itself at 1/2 resolution
    (space-to-depth, 12 channels): the fine edges the strokes follow. ``batch_norm=False`` is
    the folded form (each batch norm merged into its conv, as export does anyway): what a
    grown network trains from, so that growing changes nothing until training does.
    """

    pad_multiple = 8

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), res_blocks: int = 4, *,
                 batch_norm: bool = True, mid_blocks: int = 0, head_blocks: int = 0, head_width: int = 24,
                 photo_skip: bool = False):
        super().__init__()
        w1, w2, w3 = widths
        self.config = {"widths": list(widths), "res_blocks": res_blocks, "batch_norm": batch_norm,
                       "mid_blocks": mid_blocks, "head_blocks": head_blocks, "head_width": head_width,
                       "photo_skip": photo_skip}
        norm = "batch" if batch_norm else None
        self.down1 = ConvNormAct(3, w1, 2, norm=norm)
        self.down2 = ConvNormAct(w1, w2, 2, norm=norm)
        self.down3 = ConvNormAct(w2, w3, 2)
        self.res = nn.Sequential(*(StudentResidual(w3) for _ in range(res_blocks)))
        self.up3 = ConvNormAct(w3, w2, norm=norm)
        self.mid = nn.ModuleList(Refine(w2, w2) for _ in range(mid_blocks))
        self.up2 = ConvNormAct(w2, w1, norm=norm)
        self.head = nn.ModuleList(Refine(w1, head_width, 12 if photo_skip else 0) for _ in range(head_blocks))
        self.out = nn.Conv2d(w1, 3 * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        _icnr_(self.out, 2)

    def forward(self, x):
        x = x / 127.5 - 1.0
        d1 = self.down1(x)
        d2 = self.down2(d1)
        y = self.res(self.down3(d2))
        y = self.up3(F.interpolate(y, scale_factor=2.0, mode="nearest")) + d2
        for block in self.mid:
            y = block(y)
        y = self.up2(F.interpolate(y, scale_factor=2.0, mode="nearest")) + d1
        photo = F.pixel_unshuffle(x, 2) if self.config["photo_skip"] and len(self.head) else None
        for block in self.head:
            y = block(y, photo)
        return torch.tanh(self.shuffle(self.out(y))) * 127.5 + 127.5

    def folded(self) -> "StudentNet":
        """The same function (in eval mode) with every batch norm merged into its conv."""
        twin = StudentNet(**{**self.config, "batch_norm": False})
        state = {k: v for k, v in self.state_dict().items() if ".norm." not in k or "down3" in k or "res." in k}
        for name in ("down1", "down2", "up3", "up2"):
            layer = getattr(self, name)
            if isinstance(layer.norm, nn.BatchNorm2d):
                bn = layer.norm
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                state[f"{name}.conv.weight"] = layer.conv.weight * scale.reshape(-1, 1, 1, 1)
                state[f"{name}.conv.bias"] = (layer.conv.bias - bn.running_mean) * scale + bn.bias
        twin.load_state_dict({k: v.detach().clone() for k, v in state.items()})
        return twin

    def grown(self, mid_blocks: int = 0, head_blocks: int = 0, head_width: int = 24,
              photo_skip: bool = False) -> "StudentNet":
        """This network (folded) with refinement blocks added at 1/4 and 1/2 resolution; the
        new blocks start at zero, so the grown network computes exactly the same function."""
        base = self.folded() if self.config["batch_norm"] else self
        cfg = {**base.config, "mid_blocks": mid_blocks, "head_blocks": head_blocks, "head_width": head_width,
               "photo_skip": photo_skip}
        twin = StudentNet(**cfg)
        own = twin.state_dict()
        kept = {k: v for k, v in base.state_dict().items() if k in own and own[k].shape == v.shape}
        twin.load_state_dict({**own, **{k: v.detach().clone() for k, v in kept.items()}})
        return twin


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "johnson": TransformerNet,
    "engstrom": EngstromNet,
    "student": StudentNet,
}


def build(arch: str, **config) -> nn.Module:
    try:
        cls = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}") from None
    return cls(**config)
