"""Training photos: random scaled crops, flips; unreadable files skipped and counted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from realtime_style.errors import InputError
from realtime_style.io.images import IMAGE_SUFFIXES


class PhotoCrops:
    """Decodes every photo once (downscaled so the short side is at most ``max_side``).

    ``shard=(rank, world)``: every process decodes the whole folder (so all agree on what is
    readable and on the skipped count) but keeps only every ``world``-th readable photo from
    ``rank`` on, like a ``DistributedSampler``; with fewer photos than processes each keeps all.
    """

    def __init__(self, directory: str | Path, crop: int = 256, max_side: int = 512,
                 shard: tuple[int, int] = (0, 1)) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise InputError(f"training data {directory} is not a directory")
        files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"no photos in {directory} (looked for {', '.join(IMAGE_SUFFIXES)})")
        self.crop = crop
        self.images: list[np.ndarray] = []
        self.skipped = 0
        rank, world = shard
        readable: list[Path] = []
        for path in files:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < 16:
                self.skipped += 1
                continue
            readable.append(path)
            if world > 1 and (len(readable) - 1) % world != rank:
                continue  # another process's photo (taken back below if there are too few)
            self.images.append(self._prepare(img, max_side))
        if not readable:
            raise InputError(f"no readable photos in {directory} ({self.skipped} files could not be read)")
        self.total = len(readable)
        if world > 1 and len(readable) < world:
            self.images = [self._prepare(cv2.imread(str(p), cv2.IMREAD_COLOR), max_side) for p in readable]

    @staticmethod
    def _prepare(img: np.ndarray, max_side: int) -> np.ndarray:
        scale = max_side / min(img.shape[:2])
        if scale < 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    @classmethod
    def from_images(cls, images: list[np.ndarray], crop: int) -> "PhotoCrops":
        """Crops of images already in memory (RGB uint8), e.g. of a style image."""
        self = cls.__new__(cls)
        self.crop, self.images, self.skipped, self.total = crop, list(images), 0, len(images)
        return self

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, rng: np.random.Generator, size: int) -> torch.Tensor:
        """``size`` random crops as float RGB 0..255, NCHW."""
        out = np.empty((size, self.crop, self.crop, 3), np.uint8)
        for i in range(size):
            img = self.images[int(rng.integers(len(self.images)))]
            short = min(img.shape[:2])
            scale = rng.uniform(max(self.crop / short, 0.5), max(self.crop / short, 1.0) * 1.25)
            h, w = max(self.crop, round(img.shape[0] * scale)), max(self.crop, round(img.shape[1] * scale))
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            y, x = int(rng.integers(h - self.crop + 1)), int(rng.integers(w - self.crop + 1))
            crop = img[y : y + self.crop, x : x + self.crop]
            out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
        return torch.from_numpy(out).permute(0, 3, 1, 2).float()
