"""How well the smoother's flow follows the true motion, against stronger estimators.

    python benchmarks/flow_accuracy.py [--sintel ../shared/data/flow/sintel] [--photos ../shared/data/images/content]
                                       [--pans] [--large-motion]

For every pair with a ground-truth .flo (Sintel folders, and the known-motion clips of
scenes.py, every third pair; with --pans five fast camera pans, every second; with
--large-motion the large, blurred, bending clips with occluders of scenes.py, every pair), the
mean end-point error (px, full size, over non-occluded valid pixels), the share of those pixels
followed (error under 3 px) and the time per call on one thread of: the smoother's flow at its
flow scale -- started as the smoother runs it (from the previous pair's flow, that pair's own
call not timed), from a global motion estimate, and from zero -- the smoother's setting before
issue 16 (6 px patches, stride 6), DIS ultrafast/medium stock presets, and Farneback. Then the
same pooled over every pair by the true motion of each pixel (``MOTION_RANGES``). Prints JSON.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import harness
import numpy as np
from scenes import LARGE_MOTIONS, known_motion_clips, large_motion_clips
from smoothing_quality import sequences

from realtime_style.io.images import list_images
from realtime_style.jobs.evaluate import ground_truth
from realtime_style.temporal import flow as smoother_flow
from realtime_style.temporal.flow import FlowTracker
from realtime_style.temporal.smoother import FLOW_SCALE


def dis(preset, stride=None, iterations=None, finest=None, patch=None):
    d = cv2.DISOpticalFlow_create(preset)
    if finest is not None:
        d.setFinestScale(finest)
    if patch:
        d.setPatchSize(patch)
    if stride:
        d.setPatchStride(stride)
    if iterations:
        d.setGradientDescentIterations(iterations)
    return d.calc


def farneback(a, b, _=None):
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 15, 3, 5, 1.2, 0)


def tracker(**options):
    """The smoother's flow (``FlowTracker``); ``start`` is the previous pair's flow where it runs so."""
    t = FlowTracker(**options)
    return lambda a, b, start=None: t(a, b, start)


SMOOTHER = (smoother_flow.DIS_PRESET, smoother_flow.DIS_PATCH_STRIDE, smoother_flow.DIS_ITERATIONS,
            smoother_flow.DIS_FINEST_SCALE, smoother_flow.DIS_PATCH_SIZE)
# name: (flow function, scale of the frame it sees, whether it starts from the previous pair's flow)
ESTIMATORS = {
    "smoother, as it runs (started from the previous pair's flow)": (tracker(), FLOW_SCALE, True),
    "smoother, started from the previous flow and a global estimate": (tracker(global_start=True), FLOW_SCALE,
                                                                       True),
    "smoother, from a global estimate only": (tracker(global_start=True, previous_start=False), FLOW_SCALE, False),
    "smoother, from zero": (tracker(previous_start=False), FLOW_SCALE, False),
    "before issue 16 (6 px patches, stride 6), started": (dis(smoother_flow.DIS_PRESET, 6, 6, 1, 6), FLOW_SCALE, True),
    "DIS ultrafast (stock) at 1/2": (dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST), 0.5, False),
    "DIS medium at full size": (dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM), 1.0, False),
    "Farneback at 1/4": (farneback, 0.25, False),
}
MOTION_RANGES = [(0, 15), (15, 35), (35, 60), (60, 85), (85, 1e9)]  # px a frame, per pixel
FOLLOWED_PX = 3.0
PANS = [(30, 0, 0, 0), (45, 10, 0, 0), (60, 0, 0, 0), (90, -20, 0, 0), (120, 0, 0, 0)]


def pairs(seq: Path, every: int):
    """(previous frame or None, frame, next frame, true flow, valid pixels), grey."""
    frames = list_images(seq)
    for i, (a, b) in enumerate(zip(frames, frames[1:])):
        if i % every:
            continue
        ga, gb = cv2.imread(str(a), cv2.IMREAD_GRAYSCALE), cv2.imread(str(b), cv2.IMREAD_GRAYSCALE)
        found = ground_truth(a, ga.shape)
        if found is not None:
            prev = cv2.imread(str(frames[i - 1]), cv2.IMREAD_GRAYSCALE) if i else None
            yield prev, ga, gb, *found


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--sintel", type=Path, default=harness.SHARED / "flow" / "sintel")
    ap.add_argument("--photos", type=Path, default=harness.SHARED / "images" / "content")
    ap.add_argument("--pans", action="store_true", help=f"also five fast camera pans {PANS} (every second pair)")
    ap.add_argument("--large-motion", action="store_true",
                    help="also the large, blurred, bending clips with occluders of scenes.py (every pair)")
    args = harness.parse(ap)
    clips, clip = 5, {}
    if args.smoke:  # one short clip of the synthetic scene, no Sintel
        args.sintel = args.photos = harness.inputs(args) / "none"
        clips, clip = 1, {"frames": 4, "size": (96, 64)}
    cv2.setNumThreads(1)
    tmp = tempfile.TemporaryDirectory(dir=args.smoke)
    seqs = [(s, 1) for s in (sequences(args.sintel) if args.sintel.is_dir() else [])]
    seqs += [(s, 3) for s in known_motion_clips(Path(tmp.name), args.photos, clips, **clip)]
    if args.pans:
        seqs += [(s, 2) for s in known_motion_clips(Path(tmp.name), args.photos, len(PANS), PANS, "pan", **clip)]
    if args.large_motion or args.smoke:
        specs = LARGE_MOTIONS[:1] if args.smoke else LARGE_MOTIONS
        seqs += [(s, 1) for s in large_motion_clips(Path(tmp.name), args.photos, specs, **clip)]
    rows = []
    pooled = {name: [] for name in ESTIMATORS}  # (true motion, end-point error) of every judged pixel
    for seq, every in seqs:
        row = {"sequence": seq.name}
        for name, (fn, scale, started) in ESTIMATORS.items():
            errs, secs = [], []
            for prev, a, b, gt, valid in pairs(seq, every):
                h, w = a.shape
                sa, sb = (cv2.resize(x, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1 else x
                          for x in (a, b))
                start = None
                if started and prev is not None:
                    sp = cv2.resize(prev, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
                    start = fn(sp, sa, None)  # the pair before, as the smoother saw it (not timed)
                t0 = time.perf_counter()
                f = fn(sa, sb, start)
                secs.append(time.perf_counter() - t0)
                f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) / scale
                epe = np.sqrt(((f - gt) ** 2).sum(2))[valid]
                errs.append((float(epe.mean()), float((epe < FOLLOWED_PX).mean())))
                pooled[name].append((np.sqrt((gt ** 2).sum(2))[valid], epe))
            row[name] = {"epe_px": round(float(np.mean([e for e, _ in errs])), 2),
                         "followed": round(float(np.mean([k for _, k in errs])), 3),
                         "ms": round(1000 * float(np.median(secs)), 2)}
        mags = [float(np.sqrt((gt ** 2).sum(2))[valid].mean()) for *_, gt, valid in pairs(seq, every)]
        row["true_motion_px"] = round(float(np.mean(mags)), 1)
        rows.append(row)
    tmp.cleanup()
    harness.emit({"threads": 1, "followed": f"end-point error under {FOLLOWED_PX:g} px", "sequences": rows,
                  "by_motion_range": by_motion_range(pooled)}, args)


def by_motion_range(pooled: dict) -> list[dict]:
    """Every estimator's mean end-point error and share followed, over the pixels of each range of true motion."""
    rows = []
    for lo, hi in MOTION_RANGES:
        row = {"motion_px": f"{lo}-{hi:g}" if hi < 1e9 else f">= {lo}"}
        for name, parts in pooled.items():
            epe = np.concatenate([e[(m >= lo) & (m < hi)] for m, e in parts]) if parts else np.zeros(0)
            row["pixels"] = int(epe.size)
            if epe.size:
                row[name] = {"epe_px": round(float(epe.mean()), 2),
                             "followed": round(float((epe < FOLLOWED_PX).mean()), 3)}
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
