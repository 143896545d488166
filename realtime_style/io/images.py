"""Still images in and out, with their alpha and bit depth kept.

Frames inside the project are RGB uint8 ``(H, W, 3)`` arrays. An image file becomes a
:class:`Picture`: that RGB frame plus what must come back on writing (alpha, 16-bit depth,
grayscale).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np

from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import write_bytes_atomic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Not images but videos: what a user may hand to `image` by mistake (pointed to `convert`), and
# what `batch` looks for in a folder.
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
                  ".mts", ".m2ts", ".3gp", ".ogv")
_ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")
_DEEP_SUFFIXES = (".png", ".tif", ".tiff")


@dataclasses.dataclass
class Picture:
    rgb: np.ndarray  # (H, W, 3) uint8, what the network sees
    alpha: np.ndarray | None = None  # (H, W) in the source's depth, passed through
    depth16: bool = False  # the source was 16 bits per channel
    grayscale: bool = False  # the source had one colour channel


def read_image(path: str | os.PathLike) -> Picture:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an image")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise InputError(f"{path} is empty")
    # JPEGs carry no alpha: decode them so that EXIF orientation is applied.
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if is_jpeg else cv2.IMREAD_UNCHANGED
    img = cv2.imdecode(data, flags)
    if img is None or img.size == 0:
        raise InputError(f"{path} is not an image OpenCV can decode")
    return picture_from_array(img, source=str(path))


def picture_from_array(img: np.ndarray, source: str = "image") -> Picture:
    """Turn an OpenCV-decoded array (gray, BGR or BGRA; 8/16-bit or float) into a Picture."""
    depth16 = img.dtype == np.uint16
    if img.dtype == np.uint8:
        pass
    elif img.dtype == np.uint16:
        pass
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(np.nan_to_num(img) * 255.0, 0, 255).round().astype(np.uint8)
    else:
        raise InputError(f"{source}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    alpha = None
    if channels == 4:
        alpha = img[:, :, 3].copy()
        colour = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_BGR2RGB)
    elif channels == 3:
        colour = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif channels == 2:  # gray + alpha
        alpha = img[:, :, 1].copy()
        colour = np.repeat(img[:, :, :1], 3, axis=2)
    elif channels == 1:
        colour = np.repeat(img, 3, axis=2)
    else:
        raise InputError(f"{source}: unsupported channel count {channels}")
    if depth16:
        colour = (colour.astype(np.uint32) * 255 + 32767) // 65535
    return Picture(
        rgb=np.ascontiguousarray(colour.astype(np.uint8)),
        alpha=alpha,
        depth16=depth16,
        grayscale=channels in (1, 2),
    )


def encode_image(pic: Picture, suffix: str) -> bytes:
    """Encode ``pic`` for a file of this suffix, keeping alpha and 16-bit depth where the
    format can hold them. Grayscale sources come back in colour: style adds colour."""
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(
            f"unknown image format {suffix or '(none)'}; use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    deep = pic.depth16 and suffix in _DEEP_SUFFIXES
    bgr = cv2.cvtColor(pic.rgb, cv2.COLOR_RGB2BGR)
    if deep:
        bgr = bgr.astype(np.uint16) * 257
    if pic.alpha is not None and suffix in _ALPHA_SUFFIXES:
        alpha = pic.alpha
        if deep and alpha.dtype != np.uint16:
            alpha = alpha.astype(np.uint16) * 257
        elif not deep and alpha.dtype == np.uint16:
            alpha = ((alpha.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        bgr = np.dstack([bgr, alpha])
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 95]
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise OutputError(f"OpenCV could not encode a {suffix} image")
    return buf.tobytes()


def write_image(path: str | os.PathLike, pic: Picture) -> None:
    """Write atomically: a temporary file beside ``path``, renamed on success."""
    path = Path(path)
    write_bytes_atomic(path, encode_image(pic, path.suffix))


def list_images(directory: str | os.PathLike) -> list[Path]:
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
