"""Post-ops on a stylized frame: colour preservation and style strength."""

from __future__ import annotations

import cv2
import numpy as np


def preserve_color(stylized: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Luminance transfer: the stylized frame's luma with the source's chroma (YCrCb)."""
    out = cv2.cvtColor(source, cv2.COLOR_RGB2YCrCb)
    out[:, :, 0] = cv2.cvtColor(stylized, cv2.COLOR_RGB2YCrCb)[:, :, 0]
    return cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB)


def blend_strength(stylized: np.ndarray, source: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` 1 gives the stylized frame, 0 the source, exactly; between, a linear mix."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return source.copy()
    return cv2.addWeighted(stylized, strength, source, 1.0 - strength, 0.0)
