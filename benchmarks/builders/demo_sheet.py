"""`make demo`'s contact sheet: every built-in style on real photos that a package ships.

    python benchmarks/builders/demo_sheet.py [--out demo_output/styles.jpg] [--width 360]

The photos are scikit-image's (`pip install scikit-image`, in the `bench` extra), each free to use:
astronaut (Eileen Collins, NASA: public domain), coffee (Rachel Michetti: CC0), chelsea the cat
(Stefan van der Walt: CC0) and rocket (DSCOVR launch, SpaceX: public domain). Without
scikit-image it uses the scene the project draws and says so. One row per photo: the photo,
then each built-in at full strength. Nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import smoke
from contact_sheet import label, write_jpeg

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.io.live_sources import SyntheticSource
from realtime_style.models import registry

PHOTOS = {  # scikit-image name: the credit shown under it
    "astronaut": "astronaut (NASA, public domain)",
    "coffee": "coffee (R. Michetti, CC0)",
    "chelsea": "chelsea (S. van der Walt, CC0)",
    "rocket": "rocket (SpaceX, public domain)",
}


def fit(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height and crop the middle (every cell the same size)."""
    scale = max(width / img.shape[1], height / img.shape[0])
    resized = cv2.resize(img, (max(width, round(img.shape[1] * scale)), max(height, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    y, x = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


def photos(width: int, height: int) -> tuple[list[tuple[str, np.ndarray]], str]:
    """(credit, RGB photo) pairs, and where they come from."""
    try:
        import skimage.data
    except ImportError:
        scene = SyntheticSource((width * 2, height * 2)).render(45)
        return [("a scene the project draws", fit(scene, width, height))], \
            "the drawn scene (pip install scikit-image for real photos)"
    out = [(credit, fit(getattr(skimage.data, name)()[..., :3], width, height)) for name, credit in PHOTOS.items()]
    return out, "scikit-image's photos (public domain and CC0)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("demo_output") / "styles.jpg")
    ap.add_argument("--width", type=int, default=360, help="width of one picture on the sheet")
    smoke.add_flag(ap)
    args = ap.parse_args()
    if args.smoke:
        args.out, args.width = args.smoke.resolve() / "styles.jpg", 64
    w, h = args.width, args.width * 3 // 4
    names = registry.builtin_names()
    if not names:
        raise SystemExit("no built-in styles installed")
    default = registry.default_name()
    engines = {n: StyleEngine(registry.find(n)[0], InferenceOptions(provider="cpu")) for n in names}
    pictures, where = photos(w, h)
    rows = []
    for credit, photo in pictures:
        cells = [label(photo, credit)]
        cells += [label(engines[n].stylize(photo), n + (" (default)" if n == default else "")) for n in names]
        rows.append(np.hstack(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet = write_jpeg(args.out, rows)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}): {', '.join(names)} on {where}")


if __name__ == "__main__":
    main()
