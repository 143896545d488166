"""The README's contact sheet: every built-in style on a picture the project draws itself
(no third-party photo is copied into the repository), plus the strength and colour knobs.

    python benchmarks/builders/contact_sheet.py [--out benchmarks/contact_sheet.jpg] [--width 320]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import smoke

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.fsutil import write_bytes_atomic
from realtime_style.io.live_sources import SyntheticSource
from realtime_style.models import registry

ROOT = Path(__file__).resolve().parents[2]


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    h = max(18, img.shape[0] // 12)
    out[:h] = (out[:h] * 0.35).astype(np.uint8)
    cv2.putText(out, text, (6, int(h * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, h / 34, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_jpeg(path: Path, rows: list[np.ndarray]) -> np.ndarray:
    """Stack the RGB rows into one sheet and write it as JPEG (q88), atomically."""
    sheet = np.vstack(rows)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    write_bytes_atomic(path, buf.tobytes())
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "contact_sheet.jpg")
    ap.add_argument("--width", type=int, default=320)
    smoke.add_flag(ap)
    args = ap.parse_args()
    if args.smoke:
        args.out, args.width = args.smoke.resolve() / "contact_sheet.jpg", 64
    w, h = args.width, args.width * 9 // 16
    picture = SyntheticSource((w * 2, h * 2)).render(45)
    picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
    names = registry.builtin_names()
    if not names:
        raise SystemExit("no built-in styles installed")
    rows = []
    for name in names:
        engine = StyleEngine(registry.find(name)[0], InferenceOptions(provider="cpu"))
        full = engine.stylize(picture)
        half = engine.stylize(picture, strength=0.5)
        colour = engine.stylize(picture, preserve_color=True)
        rows.append(np.hstack([label(picture, "input (drawn by the project)"), label(full, name),
                               label(half, f"{name} --strength 0.5"), label(colour, f"{name} --preserve-color")]))
    sheet = write_jpeg(args.out, rows)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}, styles: {', '.join(names)})")


if __name__ == "__main__":
    main()
