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

import cv2
import harness
import numpy as np

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.io.images import list_images, read_image
from realtime_style.jobs.evaluate import evaluate, find_gt_flow
from realtime_style.metrics import texture_energy
from realtime_style.models import registry
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother
from realtime_style.temporal.warping import write_flo

SHARED = harness.SHARED

# (pan x, pan y) px per frame, zoom per frame, roll degrees per frame
MOTIONS = [(6, 1, 0.004, 0.2), (12, -3, 0.0, 0.0), (3, 2, 0.01, -0.4), (-9, 4, -0.006, 0.3), (20, 0, 0.0, 0.0),
           (-4, -6, 0.008, 0.0), (15, 5, -0.004, -0.2), (0, 8, 0.0, 0.5)]


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


def _camera(t: int, motion, centre, frame_size) -> np.ndarray:
    """Photo -> frame at time t: about the photo's centre, roll and zoom, pan, to the frame's centre."""
    (tx, ty, zoom, roll), (cx, cy), (w, h) = motion, centre, frame_size
    a, s = np.deg2rad(roll * t), 1 + zoom * t
    rot = np.array([[s * np.cos(a), -s * np.sin(a), 0], [s * np.sin(a), s * np.cos(a), 0], [0, 0, 1]])
    return (np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]]) @ rot
            @ np.array([[1, 0, -cx - tx * t], [0, 1, -cy - ty * t], [0, 0, 1]]))


def known_motion(root: Path, name: str, photo: np.ndarray, motion, frames: int = 12, size=(640, 360)) -> Path:
    """A clip of ``photo`` seen by a camera moving by ``motion`` each frame, with its exact
    flow (frame t -> t+1) and the pixels that leave the picture, in the Sintel layout. The
    photo is scaled just enough that every frame lies inside it (no invented border)."""
    w, h = size
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64).T
    reach = np.abs(np.hstack([np.linalg.inv(_camera(t, motion, (0, 0), size)) @ corners for t in range(frames)]))
    ph, pw = photo.shape[:2]
    cover = 1.02 * max(2 * reach[0].max() / pw, 2 * reach[1].max() / ph)
    img = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_AREA if cover < 1 else cv2.INTER_CUBIC)
    centre = (img.shape[1] / 2, img.shape[0] / 2)
    mats = [_camera(t, motion, centre, size) for t in range(frames)]
    seq, gt = root / f"{name}_clean", root / f"{name}_gt"
    seq.mkdir(parents=True)
    gt.mkdir()
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    for t, m in enumerate(mats):
        frame = cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(seq / f"frame_{t + 1:04d}.png"), frame[..., ::-1])
        if t + 1 < frames:
            step = mats[t + 1] @ np.linalg.inv(m)
            x2 = step[0, 0] * gx + step[0, 1] * gy + step[0, 2]
            y2 = step[1, 0] * gx + step[1, 1] * gy + step[1, 2]
            write_flo(gt / f"frame_{t + 1:04d}.flo", np.dstack([x2 - gx, y2 - gy]))
            leaves = (x2 < 0) | (x2 > w - 1) | (y2 < 0) | (y2 > h - 1)
            cv2.imwrite(str(gt / f"invalid_frame_{t + 1:04d}.png"), leaves.astype(np.uint8) * 255)
    return seq


def known_motion_clips(root: Path, photos: Path, count: int, motions=MOTIONS, prefix: str = "motion",
                       frames: int = 12, size=(640, 360)) -> list[Path]:
    images = [read_image(p).rgb for p in list_images(photos)] if photos.is_dir() else []
    if images:  # the largest photos: the least upscaling
        picks = sorted(images, key=lambda im: -im.shape[0] * im.shape[1])[:count]
    else:  # no photos: the live mode's synthetic scene
        from realtime_style.io.live_sources import SyntheticSource

        picks = [SyntheticSource((960, 540)).render(17 * i) for i in range(count)]
    return [known_motion(root, f"{prefix}{i}", picks[i % len(picks)], motions[i % len(motions)], frames, size)
            for i in range(count)]


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
    ap.add_argument("--no-sintel", action="store_true", help="only the known-motion clips")
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
    for seq in seqs:
        smoothed = evaluate(seq, student.stylize, smooth=args.strength, flow="gt").to_json()
        t = evaluate(seq, teacher.stylize, smooth=0.0, flow="gt").to_json()
        rows.append({
            "sequence": seq.name, "pairs": smoothed["pairs"], "frames": smoothed["frames"],
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
