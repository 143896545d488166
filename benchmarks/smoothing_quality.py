"""The smoothing acceptance checks on sequences with ground-truth flow.

    python benchmarks/smoothing_quality.py [--style wave] [--teacher ../shared/data/teachers/ml5/wave]
                                           [--sintel ../shared/data/flow/sintel]
                                           [--photos ../shared/data/images/content] [--known-motion 5]
                                           [--strength 0.8]

Sequences: every Sintel folder with ground-truth .flo files beside its frames (what `eval
--flow gt` reads), and ``--known-motion`` clips made here from photos (12 frames at
640x360, a camera that pans, zooms and rolls by a known amount; the exact flow and the
pixels that leave the picture are written in the Sintel layout), so the figures do not rest
on three shared scenes. For each, the default style is run per frame (--smooth 0) and with
the default smoothing, and the per-frame teacher (exported from its ml5 folder) with no
smoothing:
- default / unsmoothed warping error (target <= 0.6), low-pass PSNR of smoothed to
  unsmoothed (ghosting, >= 26 dB) and texture ratio (blur, >= 0.85), frames after the first;
- default style + default smoothing against the per-frame teacher: warping error
  (target <= 0.35) and texture energy (>= 0.75).
Prints JSON.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import harness
import numpy as np
from scenes import LARGE_MOTIONS, MOTIONS, known_motion_clips, large_motion_clips

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.io.images import list_images, read_image
from realtime_style.jobs.evaluate import evaluate, find_gt_flow, ground_truth
from realtime_style.metrics import texture_energy
from realtime_style.models import registry
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother

SHARED = harness.SHARED

def sequences(root: Path) -> list[Path]:
    return [d for d in sorted(root.iterdir()) if d.is_dir() and any(find_gt_flow(p) for p in list_images(d))]


def smoothed_texture(seq: Path, student: StyleEngine, teacher: StyleEngine, strength: float) -> float:
    """Texture energy of the smoothed default output over the teacher's, frames after the first."""
    sm = Smoother(strength)
    ratios = []
    for i, p in enumerate(list_images(seq)):
        img = read_image(p).rgb
        out = sm.smooth(img, student.stylize(img))
        if i:
            ratios.append(texture_energy(out) / max(texture_energy(teacher.stylize(img)), 1e-9))
    return float(np.mean(ratios))


def motion(seq: Path) -> dict:
    """The true motion per frame over the judged pixels: median and 90th percentile (px)."""
    mags = []
    for p in list_images(seq):
        found = ground_truth(p, read_image(p).rgb.shape[:2])
        if found is not None:
            mags.append(np.sqrt((found[0] ** 2).sum(2))[found[1]])
    both = np.concatenate(mags)
    return {"median": round(float(np.median(both)), 1), "p90": round(float(np.percentile(both, 90)), 1)}


def ml5_teacher(folder: Path, style: str, opts: InferenceOptions) -> StyleEngine:
    """The per-frame teacher, exported in memory from its ml5 folder (needs torch)."""
    from realtime_style_export.checkpoints import load_ml5
    from realtime_style_export.onnx_export import export_model

    return StyleEngine(export_model(load_ml5(folder), None, name=f"teacher-{style}")[0], opts)


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--style", default=None)
    ap.add_argument("--teacher", type=Path, default=None)
    ap.add_argument("--sintel", type=Path, default=SHARED / "flow" / "sintel")
    ap.add_argument("--photos", type=Path, default=SHARED / "images" / "content",
                    help="photos for the known-motion clips (the largest are used)")
    ap.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="smoothing strength to judge")
    ap.add_argument("--known-motion", type=int, default=5, help="clips with a known camera motion (0: none)")
    ap.add_argument("--motion", action="append", default=None, metavar="TX,TY,ZOOM,ROLL",
                    help="a camera motion per frame (px, px, zoom fraction, degrees) instead of the built-in "
                         "list; repeatable, one clip each (with --known-motion 0 for the count of them)")
    ap.add_argument("--large-motion", action="store_true",
                    help=f"also the {len(LARGE_MOTIONS)} generated large-motion clips of scenes.py (15-85 px a frame, "
                         "motion blur, bending, occluders)")
    ap.add_argument("--no-sintel", action="store_true", help="only the generated clips")
    args = harness.parse(ap)
    clip_frames, clip_size = 12, (640, 360)
    if args.smoke:  # the tiny model as student and teacher; one short known-motion clip of the synthetic scene
        args.style = args.teacher = str(harness.tiny_model(harness.inputs(args)))
        args.no_sintel, args.known_motion, args.photos = True, 1, harness.inputs(args) / "no-photos"
        clip_frames, clip_size = 3, (96, 64)
    motions = [tuple(float(v) for v in m.split(",")) for m in args.motion] if args.motion else MOTIONS
    if args.motion and any(len(m) != 4 for m in motions):
        ap.error("--motion takes four numbers: TX,TY,ZOOM,ROLL")
    count = args.known_motion or (len(motions) if args.motion else 0)
    style = args.style or registry.default_name()
    opts = InferenceOptions(provider="cpu")
    student = StyleEngine(registry.resolve_style(style), opts)
    teacher = StyleEngine(args.teacher, opts) if args.smoke else ml5_teacher(
        args.teacher or SHARED / "teachers" / "ml5" / style, style, opts)
    rows = []
    tmp = tempfile.TemporaryDirectory(dir=args.smoke)
    seqs = sequences(args.sintel) if args.sintel.is_dir() and not args.no_sintel else []
    seqs += known_motion_clips(Path(tmp.name), args.photos, count, motions, frames=clip_frames,
                               size=clip_size) if count else []
    if args.large_motion:
        seqs += large_motion_clips(Path(tmp.name), args.photos, frames=clip_frames if args.smoke else 8,
                                   size=clip_size)
    for seq in seqs:
        smoothed = evaluate(seq, student.stylize, smooth=args.strength, flow="gt").to_json()
        t = evaluate(seq, teacher.stylize, smooth=0.0, flow="gt").to_json()
        rows.append({
            "sequence": seq.name, "pairs": smoothed["pairs"], "frames": smoothed["frames"],
            "motion_px": motion(seq),
            "input": smoothed["warping_error_input"],
            "student_per_frame": smoothed["warping_error_unsmoothed"],
            "student_smoothed": smoothed["warping_error"],
            "teacher_per_frame": t["warping_error"],
            "smoothed_over_unsmoothed": smoothed["ratio_to_unsmoothed"],
            "smoothed_vs_unsmoothed": smoothed["smoothed_vs_unsmoothed"],
            "smoothed_over_teacher": round(smoothed["warping_error"] / t["warping_error"], 3),
            "texture_smoothed_over_teacher": round(smoothed_texture(seq, student, teacher, args.strength), 3),
        })
    tmp.cleanup()
    mean = lambda k: round(float(np.mean([r[k] for r in rows])), 3)
    report = {"style": style, "smooth": args.strength, "flow": "ground truth", "sequences": rows,
              "mean": {k: mean(k) for k in ("smoothed_over_unsmoothed", "smoothed_over_teacher",
                                            "texture_smoothed_over_teacher")},
              "targets": {"smoothed_over_unsmoothed": "<= 0.6", "lowpass_psnr_db": ">= 26",
                          "texture_ratio": ">= 0.85", "smoothed_over_teacher": "<= 0.35",
                          "texture_smoothed_over_teacher": ">= 0.75"}}
    harness.emit(report, args)


if __name__ == "__main__":
    main()
