"""The builders' ``--smoke DIR``: a quick run on tiny generated inputs (under ``DIR/inputs``),
its artefacts written under DIR, never into the repository or from ``../shared``
(tests/test_benchmark_scripts.py runs every builder this way)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--smoke", type=Path, default=None, metavar="DIR",
                    help="a quick run on tiny generated inputs, everything written under DIR")


def inputs(smoke: Path) -> Path:
    """``DIR/inputs``, made."""
    path = smoke.resolve() / "inputs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def photos(directory: Path, count: int = 3, size: tuple[int, int] = (96, 64)) -> Path:
    """A folder of ``count`` test-card photos, ``size`` (width, height)."""
    import cv2

    from realtime_style.testcard import card_image

    folder = directory / "photos"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"p{i}.png"), card_image(size[1], size[0], seed=i)[..., ::-1])
    return folder


def sintel(directory: Path, size: tuple[int, int] = (96, 64)) -> Path:
    """A Sintel-layout folder with the first of ``model_card.SINTEL_PAIRS`` (alley_1_clean 2->3):
    a test card and the same moved 1 px right, the exact flow, no occluded or invalid pixels."""
    import cv2
    import numpy as np

    from realtime_style.temporal.warping import write_flo
    from realtime_style.testcard import card_image

    root = directory / "sintel"
    frames, gt = root / "alley_1_clean", root / "alley_1_gt"
    frames.mkdir(parents=True, exist_ok=True)
    gt.mkdir(exist_ok=True)
    w, h = size
    card = card_image(h, w + 1, seed=5)
    cv2.imwrite(str(frames / "frame_0002.png"), card[:, 1:][..., ::-1])
    cv2.imwrite(str(frames / "frame_0003.png"), card[:, :-1][..., ::-1])
    write_flo(gt / "frame_0002.flo", np.dstack([np.ones((h, w)), np.zeros((h, w))]).astype(np.float32))
    none = np.zeros((h, w), np.uint8)
    cv2.imwrite(str(gt / "occlusions_frame_0002.png"), none)
    cv2.imwrite(str(gt / "invalid_frame_0002.png"), none)
    return root
