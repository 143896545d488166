"""Does a segment's seam show? The warping error across each cut of a segmented `batch`
against the same frames of a file converted in one piece, with smoothing on.

    python benchmarks/batch_seams.py [--seconds 8] [--segment-seconds 2] [--size 640x360] [--warmups 0,8,24]
                                     [--crf 23] [--json PATH]

A pan over the test card (25 FPS, a keyframe every second; generated in a temporary directory)
is stylized with the built-in default style and the default smoothing (0.8): ``convert`` in one
piece, and ``batch`` cut every ``--segment-seconds``, each segment warming its smoother on N
frames before its cut for each N of ``--warmups`` (8 is the default; 0 is what a naive split
does). The same cut with smoothing off, against a one-piece run with it off, shows what the
encoder alone adds at a cut (each segment starts with a fresh keyframe). For every cut, the
warping error (Lai et al. 2018) of the pair of output
frames that straddles it — flow: OpenCV DIS medium at full resolution on the *input* frames,
forward-backward occlusion check, RGB in [0, 1], denominator the valid pixels x 3 channels; not
the smoother's own flow — and the PSNR of the first frames after the cut against the one-piece
output (how fast a segment's smoother agrees with the unbroken one's), next to the same PSNR
over the frames away from any cut (what two encodings differ by anyway).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import harness
import numpy as np
from batch_throughput import make_clip

from realtime_style.batch.plan import plan_segments, scan_packets
from realtime_style.temporal.warping import occlusion_mask, warping_error


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else round(10 * np.log10(255.0 ** 2 / mse), 2)


def pair_error(flow, inputs, outputs, i: int) -> float:
    fwd, valid = flow[i]
    return warping_error(outputs[i], outputs[i + 1], fwd, valid).value


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--segment-seconds", type=float, default=2.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--warmups", default="0,8,24")
    ap.add_argument("--crf", type=int, default=23)
    args = harness.parse(ap)
    warmups = [0, 8] if args.smoke is not None else [int(w) for w in args.warmups.split(",")]
    smoke = args.smoke is not None
    width, height = (96, 64) if smoke else harness.size(args.size)
    seconds, seg_s = (2.0, 0.5) if smoke else (args.seconds, args.segment_seconds)
    import cv2

    from realtime_style.batch.worker import WorkerSpec
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec
    from realtime_style.jobs import batch as batch_job
    from realtime_style.jobs import convert as convert_job

    report = {"benchmark": "batch_seams", "machine": harness.cpu_line(), "load_before": os.getloadavg(),
              "clip": {"seconds": seconds, "size": f"{width}x{height}", "fps": 25, "keyframe_every": 25},
              "segment_seconds": seg_s, "smooth": 0.8, "crf": args.crf,
              "flow": "OpenCV DIS medium, full resolution, on the input frames; forward-backward occlusion check",
              "range": "RGB in [0, 1]", "denominator": "valid pixels x 3 channels"}
    with tempfile.TemporaryDirectory(prefix="batch-seams-", dir=args.smoke) as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip, seconds, width, height, gop=10 if smoke else 25)
        style = str(harness.tiny_model(tmp)) if smoke else None
        engine = EngineSpec(style, InferenceOptions(provider="cpu"))
        outputs = {}
        for smooth in (0.8, 0.0):
            name = "one_piece" if smooth else "one_piece_smooth_0"
            convert_job.run(convert_job.ConvertOptions(str(clip), str(tmp / f"{name}.mp4"), engine, smooth=smooth,
                                                       crf=args.crf))
            outputs[name] = decode(tmp / f"{name}.mp4")
        runs = [(f"segmented_warmup_{w}", w, 0.8) for w in warmups] + [("segmented_smooth_0", 0, 0.0)]
        for name, warmup, smooth in runs:
            spec = WorkerSpec(engine, smooth=smooth, crf=args.crf)
            result = batch_job.run(batch_job.BatchOptions((str(clip),), str(tmp / name), spec, workers=2,
                                                          segment_seconds=seg_s, warmup_frames=warmup))
            assert result.inputs[0].state == "done", result.inputs[0].error
            outputs[name] = decode(tmp / name / "clip.mp4")
        inputs = decode(clip)
        packets = scan_packets(clip)
        cuts = [s.first for s in plan_segments(packets, seg_s, 0)][1:]  # frame index of each cut (no B-frames)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in inputs]
        flow = {}
        for i in range(len(inputs) - 1):
            fwd, bwd = dis.calc(grey[i], grey[i + 1], None), dis.calc(grey[i + 1], grey[i], None)
            flow[i] = (fwd, ~occlusion_mask(fwd, bwd))
        segmented = [name for name, _, _ in runs]
        baseline = {name: ("one_piece_smooth_0" if name == "segmented_smooth_0" else "one_piece") for name in segmented}
        seams = []
        for cut in cuts:
            row = {"cut_frame": cut}
            for name, frames in outputs.items():
                row[f"{name}_seam_error"] = round(pair_error(flow, inputs, frames, cut - 1), 6)
            for name in segmented:
                piece = row[f"{baseline[name]}_seam_error"]
                row[f"{name}_ratio"] = round(row[f"{name}_seam_error"] / piece, 3) if piece else None
                row[f"{name}_psnr_after_cut"] = [psnr(outputs[name][cut + k], outputs[baseline[name]][cut + k])
                                                 for k in range(0, 10, 3) if cut + k < len(inputs)]
            seams.append(row)
        report["seams"] = seams
        others = [i for i in range(len(inputs) - 1) if i + 1 not in cuts]
        report["mean_error_elsewhere"] = {name: round(statistics.mean(pair_error(flow, inputs, frames, i)
                                                                      for i in others), 6)
                                          for name, frames in outputs.items()}
        # frames of later segments away from their cut (the first segment is bit-identical to one piece)
        far = [i for i in range(cuts[0] if cuts else len(inputs), len(inputs)) if all(abs(i - c) >= 12 for c in cuts)]
        report["psnr_away_from_cuts"] = {name: round(statistics.mean(psnr(outputs[name][i], outputs[baseline[name]][i])
                                                                     for i in far), 2) if far else None
                                         for name in segmented}
        for name in segmented:
            ratios = [r[f"{name}_ratio"] for r in seams if r[f"{name}_ratio"] is not None]
            report[f"{name}_mean_seam_ratio"] = round(statistics.mean(ratios), 3) if ratios else None
    report["load_after"] = os.getloadavg()
    harness.emit(report, args)


if __name__ == "__main__":
    main()
