"""Reproduce a built-in style from its recipe: distil, export, measure, write the card.

    python benchmarks/builders/reproduce_builtin.py wave [--workdir runs] [--resume] [--steps N]
                                                         [--stage1 FILE.onnx]
                                                         [--install]   # copy into realtime_style/models/builtin

Reads ``realtime_style/models/recipes/NAME.json``. Stage 1 (``distill``: the run; an optional
``finetune``: more steps with other loss weights, resumed from the end of the first) made the
first built-ins. Stage 2 (``strokes``, where present) grows that student by refinement blocks
that start at zero and trains it on with the stroke loss, large synthetic motion and the
teacher's paintings cached (``distill --init --teacher-cache``). ``--stage1`` starts stage 2
from an existing stage-1 export instead of redoing stage 1 (the first built-ins are that
export: ``git show 0ab4664:realtime_style/models/builtin/NAME.onnx``). The teacher comes from
`models pull` (or ``--teacher-dir``); training photos from the recipe's ``data`` (or ``--data``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import model_card
import smoke

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.models.synthetic import write_ml5_folder, write_style_model
from realtime_style.training.distill import DistillConfig
from realtime_style_export.checkpoints import load_checkpoint
from realtime_style_export.onnx_export import export_model

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
RECIPES = ROOT / "realtime_style" / "models" / "recipes"
BUILTIN = ROOT / "realtime_style" / "models" / "builtin"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?", default=None, help="the recipe (required)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "runs")
    ap.add_argument("--teacher-dir", type=Path, default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--stage1", type=Path, default=None, help="a stage-1 export to start stage 2 from")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--compare", type=Path, default=None,
                    help="another model (e.g. the built-in it replaces) measured beside it, into the card's JSON")
    ap.add_argument("--measure-only", action="store_true", help="measure the finished runs again; no training")
    ap.add_argument("--train-only", action="store_true", help="train (or resume) and export; measure later")
    smoke.add_flag(ap)
    args = ap.parse_args()
    if args.name is None and not args.smoke:
        ap.error("the following arguments are required: name")
    recipe = json.loads((RECIPES / f"{args.name or 'wave'}.json").read_text())
    val, sintel = SHARED / "images" / "val", SHARED / "flow" / "sintel"
    if args.smoke:  # a random teacher, three test cards, a few steps of each stage; never --install
        args.smoke, made = args.smoke.resolve(), smoke.inputs(args.smoke)
        recipe = smoke_recipe(recipe)
        args.name, args.install, args.workdir = recipe["name"], False, args.smoke / "work"
        args.teacher_dir = args.teacher_dir or write_ml5_folder(made / "ml5-teacher")
        args.data = str(smoke.photos(made))
        val, sintel = smoke.photos(made), smoke.sintel(made)
    style = recipe["teacher"].split(":", 1)[1]
    teacher = args.teacher_dir or (SHARED / "teachers" / "ml5" / style)
    if not Path(teacher).is_dir():
        from realtime_style.models.pull import download_teacher

        teacher = download_teacher(style)
    args.workdir.mkdir(parents=True, exist_ok=True)
    progress = lambda p: p.step % 100 == 0 and print(f"step {p.step}/{p.steps} "
                                                     f"loss {p.losses['total']:.4f} ETA {p.eta_s/60:.0f} min",
                                                     file=sys.stderr, flush=True)
    data = args.data or str((ROOT / recipe["data"]).resolve())
    meta = {"teacher": recipe["teacher"], "artwork": recipe["artwork"], "license": recipe["license"],
            "source": f"realtime-style distill, recipe {args.name}.json"}
    if args.measure_only:  # the runs are there: take their checkpoints as they are
        run = lambda config, resume, on_progress: Path(config.out).with_suffix(".safetensors")
    else:
        from realtime_style.training.distill import run
    if args.stage1 is None:
        cfg = dict(recipe["distill"])
        if args.steps and "strokes" not in recipe:
            cfg["steps"] = args.steps
        config = DistillConfig(teacher=str(teacher), data=data, out=str(args.workdir / args.name),
                               checkpoint_every=250, sample_every=500, threads=args.threads, **cfg)
        ckpt = run(config, resume=args.resume, on_progress=progress)
        phases = recipe.get("finetune", [])
        for phase in [phases] if isinstance(phases, dict) else phases:  # more steps, other weights, resumed
            config = dataclasses.replace(config, **phase)
            ckpt = run(config, resume=True, on_progress=progress)
        stage1 = args.workdir / f"{args.name}.stage1.onnx"
        if not args.measure_only and not (args.smoke and "strokes" not in recipe):  # smoke: only stage 2 needs it
            export_model(load_checkpoint(ckpt), stage1, name=args.name, metadata=meta)
    else:
        if "strokes" not in recipe:
            raise SystemExit(f"--stage1 starts stage 2, and recipe {args.name}.json has none (no 'strokes')")
        stage1 = args.stage1
    if "strokes" in recipe:
        cfg = dict(recipe["strokes"])
        if args.steps:
            cfg["steps"] = args.steps
        resume = args.resume and (args.workdir / f"{args.name}-strokes.state.pt").is_file()
        config = DistillConfig(teacher=str(teacher), data=data, out=str(args.workdir / f"{args.name}-strokes"),
                               init=str(stage1), teacher_cache=str(args.workdir / f"cache-{args.name}"),
                               checkpoint_every=100, sample_every=500, threads=args.threads, **cfg)
        ckpt = run(config, resume=resume, on_progress=progress)
    loaded = load_checkpoint(ckpt)
    onnx_path = args.workdir / f"{args.name}.onnx"
    export_model(loaded, onnx_path, name=args.name, metadata=meta)
    if args.train_only:
        return
    opts = InferenceOptions(provider="cpu")
    students = {"student": StyleEngine(onnx_path, opts)}
    if args.compare:
        students[str(args.compare)] = StyleEngine(args.compare, opts)
    # smoke: the generated model stands in for the exported teacher (the export takes 15-25 s)
    judge = StyleEngine(write_style_model(args.smoke / "inputs" / "tiny.onnx"), opts) if args.smoke \
        else model_card.teacher_engine(teacher)
    report = model_card.measure_many(students, judge, val, sintel, rounds=1 if args.smoke else 3)
    report["recipe"] = recipe
    report["architecture"] = {"config": getattr(loaded.module, "config", {})}
    report["training"] = {k: v for k, v in dataclasses.asdict(config).items()
                          if k not in ("teacher", "data", "out", "threads")}
    from realtime_style.machine import machine_info

    info = machine_info()
    report["machine"] = f"{info['cpu']}, {info['cores']} cores"
    (args.workdir / f"{args.name}.card.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    card = model_card.render_markdown(args.name, report)
    (args.workdir / f"{args.name}.md").write_text(card)
    if args.install:
        shutil.copy(onnx_path, BUILTIN / f"{args.name}.onnx")
        (BUILTIN / f"{args.name}.md").write_text(card)


def smoke_recipe(recipe: dict) -> dict:
    """``recipe`` shrunk to a few steps of one photo (both stages, when it has two)."""
    small = {"steps": 2, "batch": 1, "crop": 32}
    out = {**recipe, "distill": {**recipe["distill"], **small}}
    if "finetune" in recipe:
        phases = recipe["finetune"] if isinstance(recipe["finetune"], list) else [recipe["finetune"]]
        out["finetune"] = [{**phase, "steps": 3 + i} for i, phase in enumerate(phases)]
    if "strokes" in recipe:
        out["strokes"] = {**recipe["strokes"], **small, "crop": 0, "cache_photos": 3}
    return out


if __name__ == "__main__":
    main()
