"""A deterministic, photo-like test image: gradients, shapes, edges and fine texture.

Used wherever a structured image is needed without shipping one: export verification,
fp16 gates, warm-up, demos and tests.
"""

from __future__ import annotations

import cv2
import numpy as np


def card_image(height: int = 256, width: int = 256, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 255 * x / max(width - 1, 1)
    img[..., 1] = 255 * y / max(height - 1, 1)
    img[..., 2] = 127 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    s = min(height, width)
    for _ in range(6):
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(float(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.circle(img, c, max(2, int(s * rng.uniform(0.05, 0.2))), colour, -1, cv2.LINE_AA)
        else:
            d = max(2, int(s * rng.uniform(0.05, 0.25)))
            cv2.rectangle(img, c, (c[0] + d, c[1] + d // 2), colour, -1)
    img += rng.normal(0, 6, img.shape).astype(np.float32)  # film grain: fine texture
    return np.clip(img, 0, 255).astype(np.uint8)
