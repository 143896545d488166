"""Image comparison measures shared by export verification, fp16 gates and tests."""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def format_db(db: float) -> str:
    return "identical" if math.isinf(db) else f"{db:.1f} dB"


# -- fidelity of a stylization to its teacher (see the project notes: plain PSNR punishes
#    re-synthesised texture and rewards blur, so colour/layout and texture are judged apart)
def _grey_at_most(img: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    scale = max_side / max(img.shape[:2])
    if scale < 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return img


def lowpass_psnr(candidate: np.ndarray, reference: np.ndarray, sigma: float = 2.0, max_side: int = 512) -> float:
    """PSNR after a Gaussian blur (sigma px) at <= max_side: colour and layout, not texture phase."""
    import cv2

    a, b = _grey_at_most(candidate, max_side), _grey_at_most(reference, max_side)
    blur = lambda im: cv2.GaussianBlur(im.astype(np.float32), (0, 0), sigma)  # noqa: E731
    return psnr(blur(a), blur(b))


def texture_energy(img: np.ndarray, max_side: int = 512) -> float:
    """Mean absolute Laplacian of the grey image at <= max_side."""
    import cv2

    grey = cv2.cvtColor(_grey_at_most(img, max_side), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def texture_ratio(candidate: np.ndarray, reference: np.ndarray, max_side: int = 512) -> float:
    """Texture energy of the candidate over the reference's: < 1 blurred, > 1 noisier."""
    return texture_energy(candidate, max_side) / max(texture_energy(reference, max_side), 1e-9)
