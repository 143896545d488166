"""Measure a student against its teacher for a model card: speed, fidelity, stability.

    python benchmarks/builders/model_card.py --student S.onnx --teacher T.onnx|ML5_FOLDER \\
        [--val ../shared/data/images/val] [--sintel ../shared/data/flow/sintel] [--json OUT] \\
        [--parts speed,fidelity,stability] [--photos N] [--probe-teacher N] [--threads N]

- speed: model-only FPS of both at 640x360 on the CPU provider, alternating rounds, medians;
- fidelity on the validation photos (at most 512 px, sides multiples of 16): stroke
  correlation (Pearson correlation of the band-passed CIE lightness, Gaussian sigma 1 px
  minus sigma 4 px, student against teacher: ``metrics.stroke_correlation``), low-pass PSNR
  (Gaussian sigma 2 px) and texture-energy ratio (mean |Laplacian|, student / teacher); the
  same two for the outer 16 px of each photo against its interior (artefacts at the border);
  and the shift probe: the photo moved by 1-3 px, stylized, moved back, stroke correlation
  with the unmoved result (how firmly the strokes are tied to the content), for student and teacher;
- stability: warping error E_warp (Lai et al.; RGB in [0, 1]; denominator non-occluded
  valid pixels x 3) of student and teacher on the Sintel pairs with ground-truth flow,
  no run-time smoothing, and the input's own E_warp as the floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import cv2
import numpy as np
import smoke

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.engine.timing import model_fps
from realtime_style.io.images import list_images, read_image
from realtime_style.metrics import border_mask, eval_size, lowpass_psnr, stroke_correlation, texture_ratio
from realtime_style.models.synthetic import write_style_model
from realtime_style.temporal.warping import DENOMINATOR, RANGE, read_flo, warping_error

SINTEL_PAIRS = [  # (frames dir, frame a, frame b, ground-truth dir, flow name)
    ("alley_1_clean", 2, 3, "alley_1_gt", "frame_0002"),
    ("alley_1_final", 2, 3, "alley_1_gt", "frame_0002"),
    ("ambush_4_final_fewseeds", 4, 5, "ambush_4_final_fewseeds/gt", "frame_0004"),
    ("ambush_4_final_fewseeds", 6, 7, "ambush_4_final_fewseeds/gt", "frame_0006"),
]



def teacher_engine(folder: Path, threads: int = 0) -> StyleEngine:
    """An ml5 teacher folder, exported in memory and opened on the CPU (needs the train extra)."""
    from realtime_style_export.checkpoints import load_ml5
    from realtime_style_export.onnx_export import export_model

    data = export_model(load_ml5(folder), None, name=f"teacher-{Path(folder).name}")[0]
    return StyleEngine(data, InferenceOptions(provider="cpu", threads=threads))


SHIFTS = ((1, 0), (0, 2), (3, 3))  # the shift probe's moves (dx, dy) in pixels
BORDER_PX = 16


def speed(engines: dict[str, StyleEngine], rounds: int, runs: dict[str, int] | None = None) -> dict[str, float]:
    """Model-only FPS at 640x360 of several engines in alternating rounds (medians)."""
    results: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            results[name].append(model_fps(engine, 360, 640, runs=(runs or {}).get(name, 30), warmup=1))
    return {k: round(statistics.median(v), 2) for k, v in results.items()}


def shift_probe(engine: StyleEngine, img: np.ndarray, out: np.ndarray) -> float:
    """Mean stroke correlation of ``out`` with the stylization of ``img`` moved by each of
    ``SHIFTS`` and moved back (compared away from the edges the move exposes)."""
    h, w = img.shape[:2]
    scores = []
    for dx, dy in SHIFTS:
        pad = cv2.copyMakeBorder(img, dy, 0, dx, 0, cv2.BORDER_REFLECT_101)
        moved = engine.stylize(np.ascontiguousarray(pad[:h, :w]))  # the content moved right/down
        back = moved[dy:, dx:]
        scores.append(stroke_correlation(back[8:-8, 8:-8], out[: h - dy, : w - dx][8:-8, 8:-8]))
    return float(np.mean(scores))


class Memo(dict):
    """The teacher's outputs, kept so that several students are measured against one run of it."""

    def get_or(self, key, make):
        if key not in self:
            self[key] = make()
        return self[key]


def fidelity(student: StyleEngine, teacher: StyleEngine, photos: list[Path], probe_teacher: int = 12,
             memo: Memo | None = None) -> dict:
    """Strokes, colour and layout, texture, borders and the shift probe on ``photos`` (the
    teacher's shift probe, which is slow, on ``probe_teacher`` of them spread evenly)."""
    memo = Memo() if memo is None else memo
    probed = set(np.linspace(0, len(photos) - 1, min(probe_teacher, len(photos))).round().astype(int).tolist()) \
        if probe_teacher else set()
    rows = {k: [] for k in ("stroke", "lowpass", "texture", "stroke_border", "stroke_inner", "lowpass_border",
                            "lowpass_inner", "shift_student", "shift_teacher")}
    for i, path in enumerate(photos):
        img = eval_size(read_image(path).rgb)
        s, t = student.stylize(img), memo.get_or(("photo", str(path)), lambda img=img: teacher.stylize(img))
        edge = border_mask(img.shape, BORDER_PX)
        rows["stroke"].append(stroke_correlation(s, t))
        rows["lowpass"].append(lowpass_psnr(s, t))
        rows["texture"].append(texture_ratio(s, t))
        rows["stroke_border"].append(stroke_correlation(s, t, edge))
        rows["stroke_inner"].append(stroke_correlation(s, t, ~edge))
        rows["lowpass_border"].append(lowpass_psnr(s, t, mask=edge))
        rows["lowpass_inner"].append(lowpass_psnr(s, t, mask=~edge))
        rows["shift_student"].append(shift_probe(student, img, s))
        if i in probed:
            rows["shift_teacher"].append(memo.get_or(("shift", str(path)),
                                                     lambda img=img, t=t: shift_probe(teacher, img, t)))
    mean = lambda k, d=3: round(float(np.mean(rows[k])), d) if rows[k] else None
    return {"images": len(rows["stroke"]), "max_side": 512, "multiple": 16,
            "stroke_correlation_mean": mean("stroke"),
            "stroke_correlation_min": round(float(np.min(rows["stroke"])), 3),
            "lowpass_psnr_db_mean": mean("lowpass", 2), "lowpass_psnr_db_min": round(float(np.min(rows["lowpass"])), 2),
            "texture_ratio_mean": mean("texture"), "texture_ratio_min": round(float(np.min(rows["texture"])), 3),
            "texture_ratio_max": round(float(np.max(rows["texture"])), 3), "sigma_px": 2,
            "border_px": BORDER_PX, "stroke_correlation_border": mean("stroke_border"),
            "stroke_correlation_inner": mean("stroke_inner"), "lowpass_psnr_db_border": mean("lowpass_border", 2),
            "lowpass_psnr_db_inner": mean("lowpass_inner", 2),
            "shift_probe_student": mean("shift_student"), "shift_probe_teacher": mean("shift_teacher"),
            "shift_probe_teacher_images": len(rows["shift_teacher"]),
            "shifts_px": [list(d) for d in SHIFTS]}


PARTS = ("speed", "fidelity", "stability")


def measure(student: StyleEngine, teacher: StyleEngine, val: Path | None, sintel: Path | None, rounds: int,
            photos: int = 0, parts: tuple[str, ...] = PARTS, probe_teacher: int = 12, memo: Memo | None = None
            ) -> dict:
    """``photos``: use only that many validation photos, spread over the folder (0: all);
    ``parts``: which of speed, fidelity, stability to measure."""
    report: dict = {}
    if "speed" in parts:
        fps = speed({"student": student, "teacher": teacher}, rounds, {"teacher": 3})
        report["speed"] = {"size": "640x360", "provider": student.provider, "student_fps": fps["student"],
                           "teacher_fps": fps["teacher"], "speedup": round(fps["student"] / fps["teacher"], 1)}
    if "fidelity" in parts and val and val.is_dir():
        files = list_images(val)
        if photos and photos < len(files):
            files = [files[i] for i in sorted(set(np.linspace(0, len(files) - 1, photos).round().astype(int)))]
        report["fidelity"] = fidelity(student, teacher, files, probe_teacher, memo)
    if "stability" in parts and sintel and sintel.is_dir():
        report["stability"] = stability(student, teacher, sintel, memo)
    return report


def measure_many(students: dict[str, StyleEngine], teacher: StyleEngine, val: Path | None, sintel: Path | None,
                 rounds: int, photos: int = 0, parts: tuple[str, ...] = PARTS, probe_teacher: int = 12) -> dict:
    """``measure`` for the first student, with the others under ``baselines``: all against the
    same teacher outputs, and every speed in the same alternating rounds."""
    memo = Memo()
    rest = tuple(p for p in parts if p != "speed")
    reports = {k: measure(e, teacher, val, sintel, rounds, photos, rest, probe_teacher, memo)
               for k, e in students.items()}
    if "speed" in parts:
        fps = speed({**students, "teacher": teacher}, rounds, {"teacher": 3})
        for k, r in reports.items():
            r["speed"] = {"size": "640x360", "provider": teacher.provider, "student_fps": fps[k],
                          "teacher_fps": fps["teacher"], "speedup": round(fps[k] / fps["teacher"], 1)}
    first = next(iter(students))
    report = reports.pop(first)
    if reports:
        report["baselines"] = reports
    return {"speed": report.pop("speed"), **report} if "speed" in report else report


def stability(student: StyleEngine, teacher: StyleEngine, sintel: Path, memo: Memo | None = None) -> dict:
    """Warping error of student and teacher (no smoothing) on the Sintel pairs, GT flow."""
    memo = Memo() if memo is None else memo
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
        e_t = memo.get_or(("sintel", scene, a, b),
                          lambda ia=ia, ib=ib, f=f, valid=valid:
                          warping_error(teacher.stylize(ia), teacher.stylize(ib), f, valid).value)
        pairs.append({"pair": f"{scene} {a}->{b}", "input": round(e_in, 6), "student": round(e_s, 6),
                      "teacher": round(e_t, 6), "student_over_teacher": round(e_s / e_t, 3)})
    return {"flow": "ground truth (Sintel)", "range": RANGE, "denominator": DENOMINATOR, "pairs": pairs,
            "student_over_teacher_mean": round(float(np.mean([p["student_over_teacher"] for p in pairs])), 3)}


def _phases(recipe: dict) -> list[dict]:
    ft = recipe.get("finetune", [])
    return [ft] if isinstance(ft, dict) else ft


def _stage1_text(recipe: dict) -> str:
    d = recipe["distill"]
    text = (f"stage 1: `realtime-style distill` from scratch, {d['steps']} steps, batch {d['batch']}, "
            f"{d['crop']} px crops, lr {d['lr']}, seed {d['seed']}; loss weights: temporal {d['temporal_weight']}, "
            f"gram {d['gram_weight']}, detail {d['detail_weight']}, adversarial {d['adversarial_weight']}")
    return text + "".join(f"; then resumed to {phase['steps']} steps with "
                          + ", ".join(f"{k.replace('_weight', '')} {v}" for k, v in phase.items() if k != "steps")
                          for phase in _phases(recipe))


def _stage2_text(recipe: dict) -> str:
    st = recipe.get("strokes")
    if not st:
        return ""
    growth = ", ".join(f"{k} {v}" for k, v in st.items() if k in ("mid_blocks", "head_blocks", "head_width",
                                                                   "photo_skip"))
    return (f"; stage 2: the stage-1 student grown ({growth}; new blocks start at zero) and trained on "
            f"{st['steps']} steps, batch {st['batch']}, {st['crop']} px crops of the teacher's paintings of "
            f"{st.get('cache_photos', 400)} whole photos (`--teacher-cache`), lr {st['lr']}, seed {st['seed']}; "
            f"loss weights: stroke {st['stroke_weight']}, temporal {st['temporal_weight']} ({st['motion']} motion: "
            f"moves, zooms and turns with blur and occluders), gram {st['gram_weight']}, detail {st['detail_weight']}")


def render_markdown(name: str, report: dict) -> str:
    """The model card shipped beside a built-in: what it is, how it was made, what it measured."""
    recipe = report["recipe"]
    speed, fid, stab = report["speed"], report["fidelity"], report["stability"]
    arch = report.get("architecture", {})
    lines = [
        f"# {name}: model card",
        "",
        f"- **Artwork:** {recipe['artwork']}",
        f"- **Teacher:** `{recipe['teacher']}` (ml5js/ml5-data-and-models, Engstrom architecture)",
        f"- **Licence:** {recipe['license']}",
        f"- **Network:** `student` (see `export/networks.py`; {json.dumps(arch.get('config', {}))}), exported to "
        f"ONNX with uint8 RGB in/out. {recipe.get('why', '')}".rstrip(),
        f"- **Data:** the training photos of `{recipe['data']}`",
        f"- **Training:** {_stage1_text(recipe)}{_stage2_text(recipe)}.",
        f"- **Recipe:** `realtime_style/models/recipes/{name}.json`; reproduce with "
        f"`python benchmarks/builders/reproduce_builtin.py {name} --install`",
        "",
        "## Measured (`benchmarks/builders/model_card.py`, CPU provider)",
        "",
        "| | student | teacher |",
        "|---|---|---|",
        f"| model-only FPS at {speed['size']} | {speed['student_fps']} | {speed['teacher_fps']} |",
        f"| shift probe: strokes kept when the photo moves 1-3 px | {fid['shift_probe_student']} | "
        f"{fid['shift_probe_teacher']} |",
        "",
        f"Speed-up: **{speed['speedup']}x** (alternating rounds, medians; {report.get('machine', 'this machine')}).",
        "",
        f"Fidelity to the teacher on {fid['images']} validation photos (at most {fid['max_side']} px, sides multiples "
        f"of {fid['multiple']}): stroke correlation (band-passed CIE lightness, Gaussian sigma 1 px minus 4 px) "
        f"mean **{fid['stroke_correlation_mean']}** (min {fid['stroke_correlation_min']}); low-pass PSNR "
        f"(Gaussian sigma {fid['sigma_px']} px) mean **{fid['lowpass_psnr_db_mean']} dB** "
        f"(min {fid['lowpass_psnr_db_min']}); texture-energy ratio mean **{fid['texture_ratio_mean']}** "
        f"(min {fid['texture_ratio_min']}, max {fid['texture_ratio_max']}).",
        "",
        f"Borders: the outer {fid['border_px']} px against the interior: stroke correlation "
        f"{fid['stroke_correlation_border']} vs {fid['stroke_correlation_inner']}, low-pass PSNR "
        f"{fid['lowpass_psnr_db_border']} vs {fid['lowpass_psnr_db_inner']} dB.",
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
    ap.add_argument("--student", default=None, help="the student's .onnx (required)")
    ap.add_argument("--teacher", default=None, help="the teacher's .onnx or ml5 folder (required)")
    ap.add_argument("--val", type=Path, default=Path("../shared/data/images/val"))
    ap.add_argument("--sintel", type=Path, default=Path("../shared/data/flow/sintel"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=0, help="validation photos measured, spread evenly (0: all)")
    ap.add_argument("--probe-teacher", type=int, default=12, help="photos of the teacher's (slow) shift probe")
    ap.add_argument("--parts", default=",".join(PARTS), help="any of speed,fidelity,stability")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--baseline", action="append", default=[],
                    help="another student measured the same way, against the same teacher outputs (repeatable)")
    ap.add_argument("--json")
    smoke.add_flag(ap)
    args = ap.parse_args()
    if args.smoke:  # the generated model as student and teacher, three test cards, no Sintel
        made = smoke.inputs(args.smoke)
        args.student = args.teacher = str(write_style_model(made / "tiny.onnx"))
        args.val, args.sintel, args.rounds = smoke.photos(made), made / "no-sintel", 1
        args.json = args.json or str(args.smoke.resolve() / "result.json")
    elif args.student is None or args.teacher is None:
        ap.error("the following arguments are required: --student, --teacher")
    opts = InferenceOptions(provider="cpu", threads=args.threads)
    teacher = teacher_engine(args.teacher, args.threads) if Path(args.teacher).is_dir() \
        else StyleEngine(args.teacher, opts)  # an ml5 folder or an ONNX file
    students = {"student": StyleEngine(args.student, opts), **{b: StyleEngine(b, opts) for b in args.baseline}}
    report = measure_many(students, teacher, args.val, args.sintel, args.rounds, args.photos,
                          tuple(args.parts.split(",")), args.probe_teacher)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
