"""Independent float64 numpy reference of the ml5 / Engstrom fast-style-transfer net.

Used by the tests to check the PyTorch/ONNX converter.  Deliberately imports
nothing but numpy and the standard library (no torch, nothing from the project).

Checkpoint: a directory with ``manifest.json`` mapping ``Variable``,
``Variable_1`` ... ``Variable_47`` to ``{"filename", "shape"}``; each file is
raw little-endian float32 in TensorFlow layout (conv kernel [kh, kw, in, out],
transposed-conv kernel [kh, kw, out, in]).  Every layer owns three variables:
kernel, instance-norm shift (beta), instance-norm scale (gamma).
"""
import json
import os

import numpy as np

EPS = 1e-3  # instance-norm epsilon used by the Engstrom / ml5 network

# (kind, kernel shape in TF layout, stride, relu) for the 16 layers, in order.
_RES = [("conv", (3, 3, 128, 128), 1, True), ("conv", (3, 3, 128, 128), 1, False)]
LAYERS = (
    [("conv", (9, 9, 3, 32), 1, True), ("conv", (3, 3, 32, 64), 2, True),
     ("conv", (3, 3, 64, 128), 2, True)]
    + _RES * 5
    + [("tconv", (3, 3, 64, 128), 2, True), ("tconv", (3, 3, 32, 64), 2, True),
       ("conv", (9, 9, 32, 3), 1, False)]
)


def load_ml5_variables(directory):
    """Return the 48 checkpoint variables as float64 arrays, ordered and shape-checked."""
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    expected = []
    for kind, kshape, _, _ in LAYERS:
        c = kshape[2] if kind == "tconv" else kshape[3]  # number of output channels
        expected += [kshape, (c,), (c,)]
    out = []
    for i, shape in enumerate(expected):
        entry = manifest["Variable" if i == 0 else "Variable_%d" % i]
        if tuple(entry["shape"]) != shape:
            raise ValueError("Variable_%d: shape %s, expected %s" % (i, entry["shape"], shape))
        raw = np.fromfile(os.path.join(directory, entry["filename"]), dtype="<f4")
        if raw.size != int(np.prod(shape)):
            raise ValueError("Variable_%d: %d values, expected %s" % (i, raw.size, shape))
        out.append(raw.reshape(shape).astype(np.float64))
    return out


def _same_pad(n_in, n_out, k, stride):
    """TF 'SAME' padding (before, after) for a conv mapping n_in -> n_out."""
    total = max((n_out - 1) * stride + k - n_in, 0)
    return total // 2, total - total // 2


def conv2d_same(x, w, stride):
    """TF conv2d, padding='SAME', no bias.  x [H, W, Cin], w [kh, kw, Cin, Cout]."""
    H, W, _ = x.shape
    kh, kw, _, cout = w.shape
    Ho, Wo = -(-H // stride), -(-W // stride)  # ceil(in / stride)
    (pt, pb), (pl, pr) = _same_pad(H, Ho, kh, stride), _same_pad(W, Wo, kw, stride)
    xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0)))
    y = np.zeros((Ho, Wo, cout))
    # Accumulate one kernel tap at a time: y += x[s*i + a, s*j + b] @ w[a, b].
    for a in range(kh):
        for b in range(kw):
            patch = xp[a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride]
            y += patch @ w[a, b]
    return y


def conv2d_transpose_same(y, w, stride=2):
    """TF conv2d_transpose(output_shape=[stride*H, stride*W, Cout], padding='SAME').

    Exact adjoint of conv2d_same on a (stride*H, stride*W) input: every input pixel
    (i, j) adds y[i, j] @ w[a, b].T to output pixel (s*i + a - pad_top, s*j + b - pad_left);
    contributions falling outside [0, s*H) x [0, s*W) are dropped.
    y [H, W, Cin], w [kh, kw, Cout, Cin].
    """
    H, W, _ = y.shape
    kh, kw, cout, _ = w.shape
    Ho, Wo = stride * H, stride * W
    pt, pl = _same_pad(Ho, H, kh, stride)[0], _same_pad(Wo, W, kw, stride)[0]
    # Scatter into an enlarged buffer (origin shifted by the padding), then crop.
    bh, bw = max(Ho + pt, stride * (H - 1) + kh), max(Wo + pl, stride * (W - 1) + kw)
    buf = np.zeros((bh, bw, cout))
    for a in range(kh):
        for b in range(kw):
            buf[a:a + stride * (H - 1) + 1:stride, b:b + stride * (W - 1) + 1:stride] += y @ w[a, b].T
    return buf[pt:pt + Ho, pl:pl + Wo]


def instance_norm(x, shift, scale):
    """Per-channel normalisation over H, W with population variance."""
    mean = x.mean(axis=(0, 1))
    var = x.var(axis=(0, 1))
    return (x - mean) / np.sqrt(var + EPS) * scale + shift


def ml5_forward(variables, image_rgb):
    """Stylise an HxWx3 RGB image (uint8 or float, 0..255) -> float64 image (unclipped).

    Output is tanh(x) * 150 + 127.5, range (-22.5, 277.5).  Its size is HxWx3 when
    H and W are multiples of 4; in general it is (4*ceil(ceil(H/2)/2), same for W),
    exactly what the TF graph produces (two stride-2 SAME convs, two exact 2x upsamples).
    """
    x = np.asarray(image_rgb, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError("expected an HxWx3 image, got shape %s" % (x.shape,))
    if len(variables) != 3 * len(LAYERS):
        raise ValueError("expected %d variables, got %d" % (3 * len(LAYERS), len(variables)))

    def layer(h, idx):
        kind, _, stride, relu = LAYERS[idx]
        w, shift, scale = variables[3 * idx:3 * idx + 3]
        h = conv2d_same(h, w, stride) if kind == "conv" else conv2d_transpose_same(h, w, stride)
        h = instance_norm(h, shift, scale)
        return np.maximum(h, 0.0) if relu else h

    for i in range(3):                       # conv1..conv3
        x = layer(x, i)
    for r in range(5):                       # residual blocks: x + IN(conv(relu(IN(conv(x)))))
        x = x + layer(layer(x, 3 + 2 * r), 4 + 2 * r)
    for i in range(13, 16):                  # two transposed convs, final 9x9 conv
        x = layer(x, i)
    return np.tanh(x) * 150.0 + 127.5
