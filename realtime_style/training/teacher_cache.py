"""Teacher outputs computed once, for distillation runs that would otherwise run the teacher's
forward pass on every step (about half of a step's cost).

The teacher paints each photo whole, at the size the fidelity measures use (long side at
most ``max_side``, sides multiples of 16: ``realtime_style.metrics.eval_size``), once, on
ONNX Runtime. A step then takes whole photos and their paintings (``crop=0``), or random
crops of them at the same place. Whole photos are what the teacher painted and what the
measures judge: a style network normalises its features over the whole picture (instance
norm), so a crop is painted differently from the same pixels inside the photo, and a
student trained on crops of whole-photo paintings is taught a mismatch. Both are measured in
``benchmarks/RESULTS.md``, section
"2026-12-01 · Built-ins that keep the strokes: the measure, the training setup, the frontier (issue 14)",
subsection "Training on crops of whole-photo paintings teaches a mismatch". With crops, the loss ignores
a margin along the sides of a crop that lie inside the photo, where the teacher saw context
the crop does not have; along the photo's own border the margin is kept.

Layout of a cache folder: ``manifest.json`` (teacher, photo folder, size rule, the photo
list) and ``NNNNN.npz`` per photo (``photo`` and ``teacher``, uint8 RGB H x W x 3). Building
is resumable: photos already written are skipped; a manifest for another teacher or photo
set is an error, never silently mixed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from realtime_style.errors import InputError
from realtime_style.fsutil import atomic_path
from realtime_style.io.images import IMAGE_SUFFIXES
from realtime_style.metrics import eval_size

FORMAT = "realtime-style/teacher-cache/1"


def _manifest(teacher_id: str, data: Path, files: list[Path], max_side: int) -> dict:
    return {"format": FORMAT, "teacher": teacher_id, "data": str(data.resolve()), "max_side": max_side,
            "photos": [p.name for p in files]}


def choose_photos(data: Path, count: int) -> list[Path]:
    """``count`` photos spread evenly over the folder's sorted listing (all when fewer)."""
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"no photos in {data} (looked for {', '.join(IMAGE_SUFFIXES)})")
    if count >= len(files):
        return files
    picks = np.linspace(0, len(files) - 1, count).round().astype(int)
    return [files[i] for i in sorted(set(picks.tolist()))]


def build(teacher_onnx: bytes | str | Path | Callable[[], bytes], teacher_id: str, data: str | Path,
          cache: str | Path, *, photos: int = 400, max_side: int = 512, threads: int = 0,
          on_note: Callable[[str], None] | None = None) -> Path:
    """Fill ``cache`` with the teacher's paintings of ``photos`` photos of ``data``. The
    teacher may be a callable giving the ONNX bytes: it is called only if a photo is missing."""
    from realtime_style.engine import InferenceOptions, StyleEngine

    note = on_note or (lambda _m: None)
    data, cache = Path(data), Path(cache)
    if not data.is_dir():
        raise InputError(f"training data {data} is not a directory")
    files = choose_photos(data, photos)
    manifest = _manifest(teacher_id, data, files, max_side)
    path = cache / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: old.get(k) for k in manifest} != manifest:
            raise InputError(f"{cache} holds a teacher cache of another teacher or photo set "
                             f"({old.get('teacher')}, {old.get('data')}, {len(old.get('photos', []))} photos); "
                             f"use another --teacher-cache folder")
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    todo = [(i, f) for i, f in enumerate(files) if not (cache / f"{i:05d}.npz").is_file()]
    if not todo:
        return cache
    if callable(teacher_onnx):
        teacher_onnx = teacher_onnx()
    engine = StyleEngine(teacher_onnx, InferenceOptions(provider="cpu", threads=threads))
    note(f"painting {len(todo)} of {len(files)} photos with the teacher into {cache} (once)")
    for done, (i, f) in enumerate(todo, 1):
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None or min(bgr.shape[:2]) < 16:
            continue  # unreadable: left out of the cache (counted at load)
        photo = eval_size(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)
        with atomic_path(cache / f"{i:05d}.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, photo=photo, teacher=engine.stylize(photo))
        if done % 50 == 0:
            note(f"teacher cache: {done}/{len(todo)}")
    return cache


class CachedPairs:
    """Cached photos and their teacher paintings: whole (``crop=0``; a batch is of photos of
    one size, the size drawn in proportion to how many photos have it) or random aligned crops."""

    def __init__(self, cache: str | Path, crop: int, margin: int = 16) -> None:
        cache = Path(cache)
        manifest = json.loads((cache / "manifest.json").read_text())
        self.teacher_id = manifest["teacher"]
        self.crop, self.margin = crop, margin
        self.photos: list[np.ndarray] = []
        self.paintings: list[np.ndarray] = []
        for i in range(len(manifest["photos"])):
            f = cache / f"{i:05d}.npz"
            if not f.is_file():
                continue
            with np.load(f) as z:
                if min(z["photo"].shape[:2]) >= max(crop, 32):
                    self.photos.append(z["photo"])
                    self.paintings.append(z["teacher"])
        if not self.photos:
            raise InputError(f"{cache} has no cached photo of at least {crop} px")
        self.images = self.photos  # what sample sheets are cut from
        self.by_size: dict[tuple[int, int], list[int]] = {}
        for k, p in enumerate(self.photos):
            self.by_size.setdefault(p.shape[:2], []).append(k)

    def __len__(self) -> int:
        return len(self.photos)

    def batch(self, rng: np.random.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``size`` crops: photos and teacher paintings (float RGB 0..255, NCHW) and the
        loss weights (N, 1, H, W): 0 within ``margin`` of a crop side inside the photo."""
        if not self.crop:
            return self._whole(rng, size)
        c, m = self.crop, self.margin
        xs = np.empty((size, c, c, 3), np.uint8)
        ts = np.empty((size, c, c, 3), np.uint8)
        ws = np.zeros((size, 1, c, c), np.float32)
        for i in range(size):
            k = int(rng.integers(len(self.photos)))
            photo, painting = self.photos[k], self.paintings[k]
            h, w = photo.shape[:2]
            y, x = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
            xs[i], ts[i] = photo[y : y + c, x : x + c], painting[y : y + c, x : x + c]
            top, left = (0 if y == 0 else m), (0 if x == 0 else m)
            bottom, right = (c if y + c == h else c - m), (c if x + c == w else c - m)
            ws[i, 0, top:bottom, left:right] = 1.0
        return _nchw(xs), _nchw(ts), torch.from_numpy(ws)

    def _whole(self, rng: np.random.Generator, size: int):
        sizes = list(self.by_size)
        counts = np.array([len(self.by_size[s]) for s in sizes], np.float64)
        group = self.by_size[sizes[int(rng.choice(len(sizes), p=counts / counts.sum()))]]
        picks = [group[int(rng.integers(len(group)))] for _ in range(size)]
        xs = np.stack([self.photos[k] for k in picks])
        ts = np.stack([self.paintings[k] for k in picks])
        return _nchw(xs), _nchw(ts), torch.ones(size, 1, *xs.shape[1:3])


def _nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).float()
