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


def lowpass_psnr(candidate: np.ndarray, reference: np.ndarray, sigma: float = 2.0, max_side: int = 512,
                 mask: np.ndarray | None = None) -> float:
    """PSNR after a Gaussian blur (sigma px) at <= max_side: colour and layout, not texture
    phase. ``mask`` (boolean H x W, at the size measured) limits it to some pixels."""
    import cv2

    a, b = _grey_at_most(candidate, max_side), _grey_at_most(reference, max_side)
    blur = lambda im: cv2.GaussianBlur(im.astype(np.float32), (0, 0), sigma)
    a, b = blur(a), blur(b)
    return psnr(a[mask], b[mask]) if mask is not None else psnr(a, b)


def texture_energy(img: np.ndarray, max_side: int = 512) -> float:
    """Mean absolute Laplacian of the grey image at <= max_side."""
    import cv2

    grey = cv2.cvtColor(_grey_at_most(img, max_side), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def texture_ratio(candidate: np.ndarray, reference: np.ndarray, max_side: int = 512) -> float:
    """Texture energy of the candidate over the reference's: < 1 blurred, > 1 noisier."""
    return texture_energy(candidate, max_side) / max(texture_energy(reference, max_side), 1e-9)


# -- strokes: does the candidate paint the teacher's strokes in the teacher's places? -------
STROKE_SIGMAS = (1.0, 4.0)  # the band: Gaussian sigma 1 px minus sigma 4 px, on CIE L


def eval_size(img: np.ndarray, max_side: int = 512, multiple: int = 16) -> np.ndarray:
    """A photo as the fidelity measures see it: scaled (area) so its long side is at most
    ``max_side``, then centre-cropped to sides that are multiples of ``multiple`` (at least
    one multiple), so student and teacher meet the same pixels without any padding."""
    import cv2

    img = _grey_at_most(img, max_side)
    h, w = img.shape[:2]
    hh, ww = max(multiple, h - h % multiple), max(multiple, w - w % multiple)
    if hh > h or ww > w:
        return cv2.resize(img, (ww, hh), interpolation=cv2.INTER_CUBIC)
    y, x = (h - hh) // 2, (w - ww) // 2
    return np.ascontiguousarray(img[y : y + hh, x : x + ww])


def stroke_band(img: np.ndarray, sigmas: tuple[float, float] = STROKE_SIGMAS) -> np.ndarray:
    """The band-passed lightness: L of CIE Lab (OpenCV ``COLOR_RGB2LAB`` on float RGB in
    [0, 1], so L is 0..100), Gaussian ``sigmas[0]`` minus Gaussian ``sigmas[1]``."""
    import cv2

    rgb = np.ascontiguousarray(img[..., :3]).astype(np.float32) / 255.0
    light = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0]
    fine = cv2.GaussianBlur(light, (0, 0), sigmas[0])
    coarse = cv2.GaussianBlur(light, (0, 0), sigmas[1])
    return fine - coarse


def stroke_correlation(candidate: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pearson correlation of the two images' stroke bands (``stroke_band``) over the whole
    picture, or over ``mask`` (a boolean H x W): 1 means the same strokes in the same
    places, 0 unrelated texture. Both images must have one size (see ``eval_size``)."""
    if candidate.shape[:2] != reference.shape[:2]:
        raise ValueError(f"sizes differ: {candidate.shape[:2]} and {reference.shape[:2]}")
    a, b = stroke_band(candidate).astype(np.float64), stroke_band(reference).astype(np.float64)
    if mask is not None:
        a, b = a[mask], b[mask]
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else 0.0


def border_mask(shape: tuple[int, ...], width: int = 16) -> np.ndarray:
    """True on the outer ``width`` pixels of an H x W picture (the border band)."""
    h, w = shape[:2]
    mask = np.ones((h, w), bool)
    mask[width : h - width, width : w - width] = False
    return mask
