"""Optical-flow warping and the warping error E_warp of Lai et al. (ECCV 2018).

    E_warp(O_a, O_b) = sum_p M(p) * ||O_a(p) - O_b(p + F(p))||^2 / sum_p M(p)

with F the flow a -> b (computed on the *input* frames, never by the smoother being judged),
RGB in [0, 1], bilinear backward warping with border clamping, and M the non-occluded,
valid pixels. As in Lai et al.'s code, the mask is counted once per colour channel, so the
denominator is (valid pixels x 3): E_warp is a mean squared error per channel.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np

from realtime_style.errors import InputError

FLO_MAGIC = 202021.25
RANGE = "RGB in [0, 1]"
DENOMINATOR = "non-occluded valid pixels x 3 channels"


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """A Middlebury/Sintel ``.flo`` file as an (H, W, 2) float32 array of (u, v) pixels."""
    path = Path(path)
    with open(path, "rb") as fh:
        header = np.fromfile(fh, np.float32, 1)
        if header.size != 1 or header[0] != FLO_MAGIC:
            raise InputError(f"{path} is not a .flo file (bad magic number)")
        w, h = (int(v) for v in np.fromfile(fh, np.int32, 2))
        data = np.fromfile(fh, np.float32, w * h * 2)
    if data.size != w * h * 2:
        raise InputError(f"{path} is truncated: {data.size} of {w * h * 2} values")
    return data.reshape(h, w, 2)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write an (H, W, 2) flow as a Middlebury/Sintel ``.flo`` file."""
    h, w = flow.shape[:2]
    with open(path, "wb") as fh:
        np.array([FLO_MAGIC], np.float32).tofile(fh)
        np.array([w, h], np.int32).tofile(fh)
        flow.astype(np.float32).tofile(fh)


def backward_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at p + flow(p): bilinear, border clamped."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """True where a pixel is occluded or on a motion boundary (Lai et al.'s checks):
    forward-backward |F + B~|^2 > 0.01 (|F|^2 + |B~|^2) + 0.5, or
    |grad u|^2 + |grad v|^2 > 0.01 |F|^2 + 0.002."""
    b_warped = backward_warp(backward, forward)
    fb = np.sum((forward + b_warped) ** 2, axis=2)
    mag = np.sum(forward**2, axis=2) + np.sum(b_warped**2, axis=2)
    occluded = fb > 0.01 * mag + 0.5
    du = np.gradient(forward[..., 0])
    dv = np.gradient(forward[..., 1])
    grad = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    boundary = grad > 0.01 * np.sum(forward**2, axis=2) + 0.002
    return occluded | boundary


@dataclasses.dataclass(frozen=True)
class PairError:
    value: float
    valid_pixels: int


def warping_error(out_a: np.ndarray, out_b: np.ndarray, flow_ab: np.ndarray, valid: np.ndarray) -> PairError:
    """E_warp between two RGB uint8 outputs; ``valid`` marks the pixels to count."""
    a = out_a.astype(np.float32) / 255.0
    b_warped = backward_warp(out_b.astype(np.float32) / 255.0, flow_ab)
    m = valid.astype(np.float32)[..., None]
    n = float(m.sum())
    if n == 0:
        raise InputError("no valid pixels to compare (everything is occluded)")
    return PairError(float((m * (a - b_warped) ** 2).sum() / (3.0 * n)), int(n))
