"""How well the smoother's flow follows the true motion, against stronger estimators.

    python benchmarks/flow_accuracy.py [--sintel ../shared/data/flow/sintel] [--photos ../shared/data/images/content]
                                       [--pans]

For every pair with a ground-truth .flo (Sintel folders, and the known-motion clips of
smoothing_quality.py, every third pair; with --pans five fast camera pans, every second), the
mean end-point error (px, full size, over non-occluded valid pixels) and the time per call on
one thread of: the smoother's DIS setting at its flow scale -- started from the previous pair's
flow as the smoother runs it (that pair's own call not timed), and from zero -- and at full size,
the setting it had before, DIS ultrafast/medium stock presets, and Farneback. Prints JSON.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import harness
import numpy as np
from scenes import known_motion_clips
from smoothing_quality import sequences

from realtime_style.io.images import list_images
from realtime_style.jobs.evaluate import ground_truth
from realtime_style.temporal import smoother


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


SMOOTHER = (smoother.DIS_PRESET, smoother.DIS_PATCH_STRIDE, smoother.DIS_ITERATIONS, smoother.DIS_FINEST_SCALE,
            smoother.DIS_PATCH_SIZE)
# name: (flow function, scale of the frame it sees, whether it starts from the previous pair's flow)
ESTIMATORS = {
    "smoother setting, started from the previous pair's flow (as it runs)": (dis(*SMOOTHER), smoother.FLOW_SCALE, True),
    "smoother setting, from zero": (dis(*SMOOTHER), smoother.FLOW_SCALE, False),
    "smoother setting at full size, from zero": (dis(*SMOOTHER), 1.0, False),
    "DIS ultrafast, stride 5, 8 it. at 5/8 (the setting before)": (dis(smoother.DIS_PRESET, 5, 8), 0.625, False),
    "DIS ultrafast (stock) at 1/2": (dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST), 0.5, False),
    "DIS medium at full size": (dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM), 1.0, False),
    "Farneback at 1/4": (farneback, 0.25, False),
}
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
    rows = []
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
                errs.append(float(np.sqrt(((f - gt) ** 2).sum(2))[valid].mean()))
            row[name] = {"epe_px": round(float(np.mean(errs)), 2), "ms": round(1000 * float(np.median(secs)), 2)}
        mags = [float(np.sqrt((gt ** 2).sum(2))[valid].mean()) for *_, gt, valid in pairs(seq, every)]
        row["true_motion_px"] = round(float(np.mean(mags)), 1)
        rows.append(row)
    tmp.cleanup()
    harness.emit({"threads": 1, "sequences": rows}, args)


if __name__ == "__main__":
    main()
