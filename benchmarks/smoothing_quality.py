"""The smoothing acceptance checks on Sintel sequences with ground-truth flow.

    python benchmarks/smoothing_quality.py [--style wave] [--teacher ../shared/data/teachers/ml5/wave]
                                           [--sintel ../shared/data/flow/sintel]

For every sequence folder that has ground-truth .flo files beside its frames (what `eval
--flow gt` reads), the default style is run per frame (--smooth 0) and with the default
smoothing, and the per-frame teacher (exported from its ml5 folder) with no smoothing:
- default / unsmoothed warping error (target <= 0.6), low-pass PSNR of smoothed to
  unsmoothed (ghosting, >= 26 dB) and texture ratio (blur, >= 0.85);
- default style + default smoothing against the per-frame teacher: warping error
  (target <= 0.35) and texture energy (>= 0.75).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.eval_job import evaluate, find_gt_flow  # noqa: E402
from realtime_style.io.images import list_images, read_image  # noqa: E402
from realtime_style.metrics import texture_energy  # noqa: E402
from realtime_style.models import registry  # noqa: E402
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother  # noqa: E402


def sequences(root: Path) -> list[Path]:
    return [d for d in sorted(root.iterdir()) if d.is_dir() and any(find_gt_flow(p) for p in list_images(d))]


def smoothed_texture(seq: Path, student: StyleEngine, teacher: StyleEngine) -> float:
    """Texture energy of the smoothed default output over the teacher's, frame by frame."""
    sm = Smoother(DEFAULT_STRENGTH)
    ratios = []
    for p in list_images(seq):
        img = read_image(p).rgb
        out = sm.smooth(img, student.stylize(img))
        ratios.append(texture_energy(out) / max(texture_energy(teacher.stylize(img)), 1e-9))
    return float(np.mean(ratios))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default=None)
    ap.add_argument("--teacher", type=Path, default=None)
    ap.add_argument("--sintel", type=Path, default=ROOT.parent / "shared" / "data" / "flow" / "sintel")
    args = ap.parse_args()
    style = args.style or registry.default_name()
    opts = InferenceOptions(provider="cpu")
    student = StyleEngine(registry.resolve_style(style), opts)
    teacher_dir = args.teacher or ROOT.parent / "shared" / "data" / "teachers" / "ml5" / style
    from export.checkpoints import load_ml5
    from export.onnx_export import export_model

    teacher_onnx, _ = export_model(load_ml5(teacher_dir), None, name=f"teacher-{style}")
    teacher = StyleEngine(teacher_onnx, opts)
    rows = []
    for seq in sequences(args.sintel):
        smoothed = evaluate(seq, student.stylize, smooth=DEFAULT_STRENGTH, flow="gt").to_json()
        t = evaluate(seq, teacher.stylize, smooth=0.0, flow="gt").to_json()
        rows.append({
            "sequence": seq.name, "pairs": smoothed["pairs"],
            "input": smoothed["warping_error_input"],
            "student_per_frame": smoothed["warping_error_unsmoothed"],
            "student_smoothed": smoothed["warping_error"],
            "teacher_per_frame": t["warping_error"],
            "smoothed_over_unsmoothed": smoothed["ratio_to_unsmoothed"],
            "smoothed_vs_unsmoothed": smoothed["smoothed_vs_unsmoothed"],
            "smoothed_over_teacher": round(smoothed["warping_error"] / t["warping_error"], 3),
            "texture_smoothed_over_teacher": round(smoothed_texture(seq, student, teacher), 3),
        })
    mean = lambda k: round(float(np.mean([r[k] for r in rows])), 3)  # noqa: E731
    report = {"style": style, "smooth": DEFAULT_STRENGTH, "flow": "ground truth", "sequences": rows,
              "mean": {k: mean(k) for k in ("smoothed_over_unsmoothed", "smoothed_over_teacher",
                                            "texture_smoothed_over_teacher")},
              "targets": {"smoothed_over_unsmoothed": "<= 0.6", "lowpass_psnr_db": ">= 26",
                          "texture_ratio": ">= 0.85", "smoothed_over_teacher": "<= 0.35",
                          "texture_smoothed_over_teacher": ">= 0.75"}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
