"""Reproduce a built-in style from its recipe: distil, export, measure, write the card.

    python benchmarks/reproduce_builtin.py wave [--workdir runs] [--resume] [--steps N]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.training.distill import DistillConfig  # noqa: E402
from realtime_style_export.checkpoints import load_checkpoint  # noqa: E402
from realtime_style_export.onnx_export import export_model  # noqa: E402

RECIPES = ROOT / "realtime_style" / "models" / "recipes"
BUILTIN = ROOT / "realtime_style" / "models" / "builtin"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
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
    args = ap.parse_args()
    recipe = json.loads((RECIPES / f"{args.name}.json").read_text())
    style = recipe["teacher"].split(":", 1)[1]
    teacher = args.teacher_dir or (ROOT.parent / "shared" / "data" / "teachers" / "ml5" / style)
    if not Path(teacher).is_dir():
        from realtime_style.models.pull import download_teacher

        teacher = download_teacher(style)
    args.workdir.mkdir(parents=True, exist_ok=True)
    progress = lambda p: p.step % 100 == 0 and print(f"step {p.step}/{p.steps} "  # noqa: E731
                                                     f"loss {p.losses['total']:.4f} ETA {p.eta_s/60:.0f} min",
                                                     file=sys.stderr, flush=True)
    data = args.data or str((ROOT / recipe["data"]).resolve())
    meta = {"teacher": recipe["teacher"], "artwork": recipe["artwork"], "license": recipe["license"],
            "source": f"realtime-style distill, recipe {args.name}.json"}
    if args.measure_only:  # the runs are there: take their checkpoints as they are
        run = lambda config, resume, on_progress: Path(config.out).with_suffix(".safetensors")  # noqa: E731
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
        if not args.measure_only:
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
    import model_card  # benchmarks/model_card.py

    from realtime_style_export.checkpoints import load_ml5

    teacher_onnx, _ = export_model(load_ml5(teacher), None, name=f"teacher-{style}")
    opts = InferenceOptions(provider="cpu")
    students = {"student": StyleEngine(onnx_path, opts)}
    if args.compare:
        students[str(args.compare)] = StyleEngine(args.compare, opts)
    report = model_card.measure_many(students, StyleEngine(teacher_onnx, opts),
                                     ROOT.parent / "shared" / "data" / "images" / "val",
                                     ROOT.parent / "shared" / "data" / "flow" / "sintel", rounds=3)
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



if __name__ == "__main__":
    main()
