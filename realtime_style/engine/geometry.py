"""How a frame of any size becomes what the network needs, and back.

A frame is scaled (``max_side``; a minimum side for tiny images; a fixed size for static
exports), then reflection-padded up to the network's size multiple. ``restore`` undoes both
so the output has exactly the source's size.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class FramePlan:
    src_hw: tuple[int, int]
    net_hw: tuple[int, int]  # after scaling, before padding
    pad: tuple[int, int, int, int]  # top, bottom, left, right

    @property
    def padded_hw(self) -> tuple[int, int]:
        top, bottom, left, right = self.pad
        return self.net_hw[0] + top + bottom, self.net_hw[1] + left + right

    @property
    def scaled(self) -> bool:
        return self.net_hw != self.src_hw


def plan_frame(
    h: int,
    w: int,
    *,
    max_side: int = 0,
    multiple: int = 4,
    min_side: int = 16,
    fixed_hw: tuple[int, int] | None = None,
) -> FramePlan:
    if h < 1 or w < 1:
        raise ValueError(f"empty frame {w}x{h}")
    if fixed_hw is not None:
        return FramePlan((h, w), fixed_hw, (0, 0, 0, 0))
    scale = 1.0
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
    if min(h, w) * scale < min_side:  # too small for the network's receptive field
        scale = min_side / min(h, w)
    nh, nw = (h, w) if scale == 1.0 else (max(min_side, round(h * scale)), max(min_side, round(w * scale)))
    ph, pw = -nh % multiple, -nw % multiple
    return FramePlan((h, w), (nh, nw), (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2))


def prepare(frame: np.ndarray, plan: FramePlan) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> contiguous (1, H', W', 3) batch for the network."""
    img = frame
    if plan.scaled:
        shrink = plan.net_hw[0] * plan.net_hw[1] < plan.src_hw[0] * plan.src_hw[1]
        img = cv2.resize(img, plan.net_hw[::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    top, bottom, left, right = plan.pad
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(img)[None]


def restore(batch: np.ndarray, plan: FramePlan) -> np.ndarray:
    """(1, H', W', 3) network output -> RGB uint8 of the source's size."""
    img = batch[0]
    top, _, left, _ = plan.pad
    nh, nw = plan.net_hw
    img = img[top : top + nh, left : left + nw]
    if plan.scaled:
        shrink = plan.net_hw[0] * plan.net_hw[1] > plan.src_hw[0] * plan.src_hw[1]
        img = cv2.resize(img, plan.src_hw[::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return np.ascontiguousarray(img)
