"""Reference points for stroke correlation (``metrics.stroke_correlation``): what scores
what, against each ml5 teacher, so a student's figure can be read.

    python benchmarks/stroke_reference.py [--styles wave,scream,udnie,wreck] [--photos 12] [--json OUT]

For each style, on validation photos at the measured size (long side <= 512, sides multiples
of 16), the teacher's output compared with: the input photo itself (no style at all);
another style's teacher (``--other``, default the next style in the list); the teacher on the
photo with uniform +-3 noise; the teacher on a JPEG q50 copy; the teacher's own output moved
by 1 and 2 px; the teacher's output shrunk (area) and enlarged again (cubic) at 1/2, 1/4 and
1/8 size (what a network that makes its detail at that resolution could at best keep); and
the teacher on the photo moved by 4 px, moved back.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from model_card import teacher_engine  # noqa: E402

from realtime_style.engine import StyleEngine  # noqa: E402
from realtime_style.io.images import list_images, read_image  # noqa: E402
from realtime_style.metrics import eval_size, stroke_correlation  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def down_up(img: np.ndarray, factor: int) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def moved(img: np.ndarray, dx: int) -> np.ndarray:
    """``img`` moved right by ``dx`` px (the exposed columns reflected)."""
    return np.ascontiguousarray(cv2.copyMakeBorder(img, 0, 0, dx, 0, cv2.BORDER_REFLECT_101)[:, : img.shape[1]])


def references(engine: StyleEngine, other: StyleEngine, img: np.ndarray, rng: np.random.Generator) -> dict:
    t = engine.stylize(img)
    noisy = np.clip(img.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 50])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    inner = (slice(8, -8), slice(8, -8))
    row = {"photo": stroke_correlation(img, t), "other_teacher": stroke_correlation(other.stylize(img), t),
           "noise_3": stroke_correlation(engine.stylize(noisy), t), "jpeg_q50": stroke_correlation(engine.stylize(jpeg), t),
           "input_moved_4px_back": stroke_correlation(engine.stylize(moved(img, 4))[:, 4:][inner], t[:, :-4][inner])}
    row["moved_1px"] = stroke_correlation(moved(t, 1)[inner], t[inner])  # the same strokes, 1 px off
    row["moved_2px"] = stroke_correlation(moved(t, 2)[inner], t[inner])
    for f in (2, 4, 8):
        row[f"down_up_1/{f}"] = stroke_correlation(down_up(t, f), t)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--styles", default="wave,scream,udnie,wreck")
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    styles = args.styles.split(",")
    files = list_images(SHARED / "images" / "val")
    files = [files[i] for i in sorted(set(np.linspace(0, len(files) - 1, args.photos).round().astype(int).tolist()))]
    imgs = [eval_size(read_image(f).rgb) for f in files]
    engines = {s: teacher_engine(SHARED / "teachers" / "ml5" / s, args.threads) for s in styles}
    report = {"photos": len(imgs), "styles": {}}
    for i, style in enumerate(styles):
        other = styles[(i + 1) % len(styles)]
        rng = np.random.default_rng(0)
        rows = [references(engines[style], engines[other], img, rng) for img in imgs]
        report["styles"][style] = {"other": other, **{k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]}}
        print(style, report["styles"][style], file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
