"""Reproduce a built-in style from its recipe: distil, export, measure, write the card.

    python benchmarks/reproduce_builtin.py wave [--workdir runs] [--resume] [--steps N]
                                                [--install]   # copy into realtime_style/models/builtin

Reads ``realtime_style/models/recipes/NAME.json`` (``distill``: the run; an optional
``finetune``: more steps with other loss weights, resumed from the end of the first); the teacher comes from `models pull`
(or ``--teacher-dir``); training photos from the recipe's ``data`` (or ``--data``).
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

from export.checkpoints import load_checkpoint  # noqa: E402
from export.onnx_export import export_model  # noqa: E402
from realtime_style.engine import InferenceOptions, StyleEngine  # noqa: E402
from realtime_style.training.distill import DistillConfig, run  # noqa: E402

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
    args = ap.parse_args()
    recipe = json.loads((RECIPES / f"{args.name}.json").read_text())
    style = recipe["teacher"].split(":", 1)[1]
    teacher = args.teacher_dir or (ROOT.parent / "shared" / "data" / "teachers" / "ml5" / style)
    if not Path(teacher).is_dir():
        from realtime_style.models.pull import download_teacher

        teacher = download_teacher(style)
    args.workdir.mkdir(parents=True, exist_ok=True)
    cfg = dict(recipe["distill"])
    if args.steps:
        cfg["steps"] = args.steps
    config = DistillConfig(teacher=str(teacher), data=args.data or str((ROOT / recipe["data"]).resolve()),
                           out=str(args.workdir / args.name), checkpoint_every=250, sample_every=500, **cfg)
    progress = lambda p: p.step % 100 == 0 and print(f"step {p.step}/{p.steps} "  # noqa: E731
                                                     f"loss {p.losses['total']:.4f} ETA {p.eta_s/60:.0f} min",
                                                     file=sys.stderr, flush=True)
    ckpt = run(config, resume=args.resume, on_progress=progress)
    phases = recipe.get("finetune", [])
    for phase in [phases] if isinstance(phases, dict) else phases:  # more steps, other weights, resumed
        config = dataclasses.replace(config, **phase)
        ckpt = run(config, resume=True, on_progress=progress)
    loaded = load_checkpoint(ckpt)
    meta = {"teacher": recipe["teacher"], "artwork": recipe["artwork"], "license": recipe["license"],
            "source": f"realtime-style distill, recipe {args.name}.json"}
    onnx_path = args.workdir / f"{args.name}.onnx"
    export_model(loaded, onnx_path, name=args.name, metadata=meta)
    import model_card  # benchmarks/model_card.py

    from export.checkpoints import load_ml5

    teacher_onnx, _ = export_model(load_ml5(teacher), None, name=f"teacher-{style}")
    opts = InferenceOptions(provider="cpu")
    report = model_card.measure(StyleEngine(onnx_path, opts), StyleEngine(teacher_onnx, opts),
                                ROOT.parent / "shared" / "data" / "images" / "val",
                                ROOT.parent / "shared" / "data" / "flow" / "sintel", rounds=3)
    report["recipe"] = recipe
    report["training"] = {k: v for k, v in dataclasses.asdict(config).items()
                          if k not in ("teacher", "data", "out", "threads")}
    from realtime_style.doctor import machine_info

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
