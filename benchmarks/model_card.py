"""Measure a student against its teacher for a model card: speed, fidelity, stability.

    python benchmarks/model_card.py --student S.onnx --teacher T.onnx \\
        [--val ../shared/data/images/val] [--sintel ../shared/data/flow/sintel] [--json OUT]

- speed: model-only FPS of both at 640x360 on the CPU provider, alternating rounds, medians;
- fidelity on the validation photos (at most 512 px): low-pass PSNR (Gaussian sigma 2 px)
  and texture-energy ratio (mean |Laplacian|, student / teacher);
- stability: warping error E_warp (Lai et al.; RGB in [0, 1]; denominator non-occluded
  valid pixels x 3) of student and teacher on the Sintel pairs with ground-truth flow,
  no run-time smoothing, and the input's own E_warp as the floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.engine.timing import model_fps  # noqa: E402
from realtime_style.io.images import list_images, read_image  # noqa: E402
from realtime_style.metrics import lowpass_psnr, texture_ratio  # noqa: E402
from realtime_style.temporal.warping import DENOMINATOR, RANGE, read_flo, warping_error  # noqa: E402

SINTEL_PAIRS = [  # (frames dir, frame a, frame b, ground-truth dir, flow name)
    ("alley_1_clean", 2, 3, "alley_1_gt", "frame_0002"),
    ("alley_1_final", 2, 3, "alley_1_gt", "frame_0002"),
    ("ambush_4_final_fewseeds", 4, 5, "ambush_4_final_fewseeds/gt", "frame_0004"),
    ("ambush_4_final_fewseeds", 6, 7, "ambush_4_final_fewseeds/gt", "frame_0006"),
]


def at_most(img: np.ndarray, side: int) -> np.ndarray:
    scale = side / max(img.shape[:2])
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img


def measure(student: StyleEngine, teacher: StyleEngine, val: Path | None, sintel: Path | None, rounds: int) -> dict:
    report: dict = {}
    s_runs, t_runs = [], []
    for _ in range(rounds):
        s_runs.append(model_fps(student, 360, 640, runs=30, warmup=1))
        t_runs.append(model_fps(teacher, 360, 640, runs=3, warmup=1))
    report["speed"] = {"size": "640x360", "provider": student.provider,
                       "student_fps": round(statistics.median(s_runs), 2),
                       "teacher_fps": round(statistics.median(t_runs), 2),
                       "speedup": round(statistics.median(s_runs) / statistics.median(t_runs), 1)}
    if val and val.is_dir():
        lp, tr = [], []
        for path in list_images(val):
            img = at_most(read_image(path).rgb, 512)
            s, t = student.stylize(img), teacher.stylize(img)
            lp.append(lowpass_psnr(s, t))
            tr.append(texture_ratio(s, t))
        report["fidelity"] = {"images": len(lp), "lowpass_psnr_db_mean": round(float(np.mean(lp)), 2),
                              "lowpass_psnr_db_min": round(float(np.min(lp)), 2),
                              "texture_ratio_mean": round(float(np.mean(tr)), 3),
                              "texture_ratio_min": round(float(np.min(tr)), 3),
                              "texture_ratio_max": round(float(np.max(tr)), 3),
                              "sigma_px": 2, "max_side": 512}
    if sintel and sintel.is_dir():
        pairs = []
        for scene, a, b, gt, flow in SINTEL_PAIRS:
            fa, fb = sintel / scene / f"frame_{a:04d}.png", sintel / scene / f"frame_{b:04d}.png"
            if not fa.is_file():
                continue
            ia, ib = read_image(fa).rgb, read_image(fb).rgb
            f = read_flo(sintel / gt / f"{flow}.flo")
            occ = cv2.imread(str(sintel / gt / f"occlusions_{flow}.png"), 0) > 127
            inv = cv2.imread(str(sintel / gt / f"invalid_{flow}.png"), 0) > 127
            valid = ~occ & ~inv
            e_in = warping_error(ia, ib, f, valid).value
            e_s = warping_error(student.stylize(ia), student.stylize(ib), f, valid).value
            e_t = warping_error(teacher.stylize(ia), teacher.stylize(ib), f, valid).value
            pairs.append({"pair": f"{scene} {a}->{b}", "input": round(e_in, 6), "student": round(e_s, 6),
                          "teacher": round(e_t, 6), "student_over_teacher": round(e_s / e_t, 3)})
        report["stability"] = {"flow": "ground truth (Sintel)", "range": RANGE, "denominator": DENOMINATOR,
                               "pairs": pairs,
                               "student_over_teacher_mean": round(float(np.mean([p["student_over_teacher"]
                                                                                 for p in pairs])), 3)}
    return report


def _phases(recipe: dict) -> list[dict]:
    ft = recipe.get("finetune", [])
    return [ft] if isinstance(ft, dict) else ft


def render_markdown(name: str, report: dict) -> str:
    """The model card shipped beside a built-in: what it is, how it was made, what it measured."""
    recipe, training = report["recipe"], report["training"]
    speed, fid, stab = report["speed"], report["fidelity"], report["stability"]
    lines = [
        f"# {name}: model card",
        "",
        f"- **Artwork:** {recipe['artwork']}",
        f"- **Teacher:** `{recipe['teacher']}` (ml5js/ml5-data-and-models, Engstrom architecture)",
        f"- **Licence:** {recipe['license']}",
        f"- **Network:** `{training['arch']}` (see `export/networks.py`), exported to ONNX with uint8 RGB in/out",
        f"- **Data:** the training photos of `{recipe['data']}` (random scaled crops of {training['crop']} px, flips)",
        f"- **Training:** `realtime-style distill`, {recipe['distill']['steps']} steps, batch {training['batch']}, "
        f"lr {training['lr']}, seed {training['seed']}; loss weights: temporal {recipe['distill']['temporal_weight']}, "
        f"gram {recipe['distill']['gram_weight']}, detail {recipe['distill']['detail_weight']}, "
        f"adversarial {recipe['distill']['adversarial_weight']}"
        + "".join(f"; then resumed to {phase['steps']} steps with "
                  + ", ".join(f"{k.replace('_weight', '')} {v}" for k, v in phase.items() if k != "steps")
                  for phase in _phases(recipe))
        + (" (steadier on video)" if _phases(recipe) else ""),
        f"- **Recipe:** `realtime_style/models/recipes/{name}.json`; reproduce with "
        f"`python benchmarks/reproduce_builtin.py {name} --install`",
        "",
        "## Measured (`benchmarks/model_card.py`, CPU provider)",
        "",
        f"| | student | teacher |",
        f"|---|---|---|",
        f"| model-only FPS at {speed['size']} | {speed['student_fps']} | {speed['teacher_fps']} |",
        "",
        f"Speed-up: **{speed['speedup']}x** (alternating rounds, medians; {report.get('machine', 'this machine')}).",
        "",
        f"Fidelity to the teacher on {fid['images']} validation photos (at most {fid['max_side']} px): "
        f"low-pass PSNR (Gaussian sigma {fid['sigma_px']} px) mean **{fid['lowpass_psnr_db_mean']} dB** "
        f"(min {fid['lowpass_psnr_db_min']}); texture-energy ratio mean **{fid['texture_ratio_mean']}** "
        f"(min {fid['texture_ratio_min']}, max {fid['texture_ratio_max']}).",
        "",
        f"Stability: warping error E_warp ({stab['range']}; denominator {stab['denominator']}; "
        f"{stab['flow']} flow), no run-time smoothing:",
        "",
        "| pair | input (floor) | student | teacher | student / teacher |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {p['pair']} | {p['input']} | {p['student']} | {p['teacher']} | {p['student_over_teacher']} |"
              for p in stab["pairs"]]
    lines += ["", f"Mean student / teacher: **{stab['student_over_teacher_mean']}**.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--student", required=True)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--val", type=Path, default=Path("../shared/data/images/val"))
    ap.add_argument("--sintel", type=Path, default=Path("../shared/data/flow/sintel"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    opts = InferenceOptions(provider="cpu")
    report = measure(StyleEngine(args.student, opts), StyleEngine(args.teacher, opts), args.val, args.sintel,
                     args.rounds)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
