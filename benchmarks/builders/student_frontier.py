"""Where should a student spend its compute? Candidate architectures trained at one equal
budget, then measured side by side: stroke correlation, low-pass PSNR, texture ratio,
warping error (Sintel, ground-truth flow) and model-only FPS at 640x360 on the CPU.

    python benchmarks/builders/student_frontier.py --style wave --steps 150 --workdir runs/frontier \\
        [--candidates base,h1,h1p] [--jobs 2] [--photos 24] [--json OUT] [--plot OUT.png]

Every candidate starts from the same point (``--init``, default the built-in of the style,
grown by refinement blocks that start at zero, so each begins as exactly that network) and
gets the same steps, batch, crop, seed and losses (``LOSSES``; ``base-oldloss`` keeps the
losses the first built-ins were trained with, the control for the loss change). Training
runs ``--jobs`` candidates at once on one thread each, with the teacher's paintings cached
(``distill --teacher-cache``); measuring starts when all are trained, so the speeds are
taken on a quiet machine, in alternating rounds with the teacher. Finished runs are reused
(delete the workdir to redo them). The starting student is measured beside them ("start").

An earlier round (250 steps of 160-px crops at lr 5e-4) left every candidate below its
starting point: crops of whole-photo paintings teach a mismatch, and that rate undoes a
trained network (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

import model_card
import smoke

from realtime_style.models.synthetic import write_style_model

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"

GROWTH = {  # name: growth of the starting student (export/networks.py StudentNet)
    "base": {},
    "h1": {"head_blocks": 1},
    "h1p16": {"head_blocks": 1, "photo_skip": True, "head_width": 16},
    "h1p": {"head_blocks": 1, "photo_skip": True},
    "m1h1p": {"mid_blocks": 1, "head_blocks": 1, "photo_skip": True},
    "h2p": {"head_blocks": 2, "photo_skip": True},
}
STROKES = {"stroke_weight": 1.0, "lowpass_weight": 1.0, "motion": "large", "temporal_weight": 6.0,
           "detail_weight": 2.0, "gram_weight": 0.0, "feature_weight": 0.0}
LOSSES = {  # suffix: loss weights. "": the stroke recipe; "-feat": with the teacher-feature and Gram terms too
    # (three times the step time); "-oldloss": the first built-ins' losses (the control for the loss change)
    "": STROKES,
    "-feat": {**STROKES, "gram_weight": 50.0, "feature_weight": 1.0},
    "-oldloss": {"stroke_weight": 0.0, "lowpass_weight": 0.0, "motion": "small", "temporal_weight": 6.0,
                 "detail_weight": 1.0, "gram_weight": 50.0, "feature_weight": 1.0},
}
CANDIDATES = {f"{g}{suffix}": (growth, losses) for g, growth in GROWTH.items() for suffix, losses in LOSSES.items()}
DEFAULT = "base,h1,h1p16,h1p,m1h1p"


def train_one(name: str, args) -> Path:
    out = args.workdir / name
    if out.with_suffix(".onnx").is_file():
        return out.with_suffix(".onnx")
    growth, losses = CANDIDATES[name]
    cmd = [sys.executable, "-m", "realtime_style", "distill", "--teacher", str(args.teacher), "--data", str(args.data),
           "--out", str(out), "--steps", str(args.steps), "--batch", str(args.batch), "--crop", str(args.crop),
           "--lr", str(args.lr), "--seed", "0", "--threads", "1", "--init", args.init or args.style,
           "--teacher-cache", str(args.cache), "--sample-every", "0", "--checkpoint-every", str(args.steps)]
    for key, value in {**losses, **growth}.items():
        flag = "--" + key.replace("_", "-")
        cmd += [flag] if value is True else [flag, str(value)]
    if out.with_suffix(".state.pt").is_file():
        cmd.append("--resume")
    log = args.workdir / f"{name}.log"
    with open(log, "w") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    subprocess.run([sys.executable, "-m", "realtime_style", "export", str(out.with_suffix(".safetensors")),
                    str(out.with_suffix(".onnx"))], check=True, capture_output=True, cwd=ROOT)
    return out.with_suffix(".onnx")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default="wave")
    ap.add_argument("--candidates", default=DEFAULT)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--crop", type=int, default=0, help="0: whole photos (see training/teacher_cache.py)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--init", default="", help="student to grow (default: the built-in of --style)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--photos", type=int, default=24, help="validation photos measured")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=ROOT / "runs" / "frontier")
    ap.add_argument("--cache", type=Path, default=None, help="teacher cache (default: WORKDIR/cache-STYLE)")
    ap.add_argument("--teacher", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=SHARED / "images" / "train")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    smoke.add_flag(ap)
    args = ap.parse_args()
    args.val, args.sintel = SHARED / "images" / "val", SHARED / "flow" / "sintel"
    if args.smoke:  # no training (each candidate's export alone takes 15-25 s): the generated model measured
        args.smoke = args.smoke.resolve()
        made = smoke.inputs(args.smoke)
        args.candidates, args.rounds, args.workdir = "", 1, args.smoke / "work"
        args.init = args.teacher = str(write_style_model(made / "tiny.onnx"))
        args.val, args.sintel = smoke.photos(made), smoke.sintel(made)
        args.json, args.plot = args.smoke / "frontier.json", args.smoke / "frontier.png"
    args.teacher = args.teacher or SHARED / "teachers" / "ml5" / args.style
    args.cache = args.cache or args.workdir / f"cache-{args.style}"
    args.workdir.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.candidates.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    if names:  # build the teacher cache once, before the parallel runs share it
        train_cache(args)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        files = dict(zip(names, pool.map(lambda n: train_one(n, args), names)))
    from realtime_style.models import registry

    start = Path(args.init) if args.init else registry.find(args.style)[0]
    report = measure_all({"start": start, **files}, args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.plot:
        plot(report, args.plot)


def train_cache(args) -> None:
    from realtime_style.training.distill import DistillConfig, cached_pairs
    from realtime_style_export.checkpoints import load

    config = DistillConfig(teacher=str(args.teacher), data=str(args.data), out="", teacher_cache=str(args.cache),
                           crop=args.crop)
    cached_pairs(config, load(args.teacher), lambda m: print(m, file=sys.stderr, flush=True))


def measure_all(files: dict[str, Path], args) -> dict:
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.io.images import list_images
    from realtime_style.machine import machine_info

    opts = InferenceOptions(provider="cpu")
    teacher = model_card.teacher_engine(args.teacher) if Path(args.teacher).is_dir() \
        else StyleEngine(args.teacher, opts)  # an ml5 folder or an ONNX file
    engines = {name: StyleEngine(path, opts) for name, path in files.items()}
    fps = model_card.speed({**engines, "teacher": teacher}, args.rounds, {"teacher": 3})
    val = list_images(args.val)
    import numpy as np

    picks = sorted(set(np.linspace(0, len(val) - 1, min(args.photos, len(val))).round().astype(int).tolist()))
    photos = [val[i] for i in picks]
    sintel = args.sintel
    rows = {}
    for name, engine in engines.items():
        fid = model_card.fidelity(engine, teacher, photos, probe_teacher=0)
        stab = model_card.stability(engine, teacher, sintel) if sintel.is_dir() else None
        growth, losses = CANDIDATES.get(name, ({}, {}))
        rows[name] = {"growth": growth, "losses": losses, "fps": fps[name],
                      "speedup": round(fps[name] / fps["teacher"], 1),
                      "stroke_correlation": fid["stroke_correlation_mean"],
                      "lowpass_psnr_db": fid["lowpass_psnr_db_mean"], "texture_ratio": fid["texture_ratio_mean"],
                      "shift_probe": fid["shift_probe_student"],
                      "stroke_border": fid["stroke_correlation_border"],
                      "stroke_inner": fid["stroke_correlation_inner"],
                      "warping_over_teacher": stab["student_over_teacher_mean"] if stab else None}
    info = machine_info()
    return {"style": args.style, "steps": args.steps, "batch": args.batch, "crop": args.crop, "lr": args.lr,
            "init": args.init or f"built-in {args.style}",
            "photos": len(photos), "teacher_fps": fps["teacher"],
            "machine": f"{info['cpu']}, {info['cores']} cores",
            "candidates": rows}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["candidates"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "fps", "model-only FPS at 640x360 (CPU)"),
                           (axes[1], "warping_over_teacher", "warping error / teacher (Sintel, GT flow)")):
        for name, r in rows.items():
            if r[key] is None:
                continue
            ax.scatter(r[key], r["stroke_correlation"], marker="s" if name == "start" else "o")
            ax.annotate(name, (r[key], r["stroke_correlation"]), textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel(label)
        ax.set_ylabel("stroke correlation with the teacher")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{report['style']}: candidates after {report['steps']} equal steps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
