"""The README's picture of the built-ins: real photos (public domain / CC0, shipped inside
scikit-image), each built-in student beside the teacher it was distilled from.

    pip install scikit-image          # the photos: astronaut (NASA, public domain), coffee (CC0)
    python benchmarks/builders/teacher_student_sheet.py [--out benchmarks/teacher_student.jpg] [--width 300]

Teachers: the ml5 networks, from ``../shared/data/teachers/ml5`` when present, else the ones
`realtime-style models pull NAME` fetched (needs the train extra to export them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import smoke
from contact_sheet import label, write_jpeg
from model_card import teacher_engine as ml5_teacher

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.models import registry
from realtime_style.models.synthetic import write_style_model

ROOT = Path(__file__).resolve().parents[2]

PHOTOS = ("astronaut", "coffee")


def photos(width: int) -> list[np.ndarray]:
    try:
        import skimage.data
    except ImportError:
        raise SystemExit("needs scikit-image for its public-domain photos: pip install scikit-image") from None
    out = []
    for name in PHOTOS:
        img = getattr(skimage.data, name)()[..., :3]
        h = round(img.shape[0] * width / img.shape[1]) // 8 * 8
        out.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
    return out


def teacher_engine(style: str) -> StyleEngine:
    for folder in (ROOT.parent / "shared" / "data" / "teachers" / "ml5" / style,
                   registry.home() / "teachers" / "ml5" / style):
        if (folder / "manifest.json").is_file():
            return ml5_teacher(folder)
    raise SystemExit(f"no ml5 teacher for {style}: run `realtime-style models pull {style}`")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "teacher_student.jpg")
    ap.add_argument("--width", type=int, default=300)
    smoke.add_flag(ap)
    args = ap.parse_args()
    if args.smoke:  # test cards for the photos, the generated model for every teacher
        args.out, args.width = args.smoke.resolve() / "teacher_student.jpg", 64
        folder, tiny = smoke.photos(smoke.inputs(args.smoke), 2), smoke.inputs(args.smoke) / "tiny.onnx"
        write_style_model(tiny)
        pics = [cv2.imread(str(p))[..., ::-1].copy() for p in sorted(folder.iterdir())]
        teacher_of = lambda _style: StyleEngine(tiny, InferenceOptions(provider="cpu"))
    else:
        pics, teacher_of = photos(args.width), teacher_engine
    rows = []
    for name in registry.builtin_names():
        path = registry.find(name)[0]
        student = StyleEngine(path, InferenceOptions(provider="cpu"))
        teacher = teacher_of((registry.info(name).teacher or f"ml5:{name}").split(":", 1)[1])
        cells = []
        for pic in pics:
            cells += [label(pic, "photo") if not rows else pic, label(teacher.stylize(pic), f"teacher ({name})"),
                      label(student.stylize(pic), f"built-in {name}")]
        height = max(c.shape[0] for c in cells)
        rows.append(np.hstack([np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0))) for c in cells]))
    sheet = write_jpeg(args.out, rows)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
