"""`convert`'s encoder settings: file size and quality against encoding speed, per CRF and preset.

    python benchmarks/convert_bitrate.py [--clips A.mp4,B.mp4] [--frames 90] [--rounds 2] [--json PATH]

For each clip (default: two real clips of ../shared, cockatoo 1280x720 and fox 640x640; both
were seen during development, so they are held-in) it stylizes the first ``--frames`` frames once
with the built-in default style and `convert`'s default smoothing into lossless PNG frames
(`convert` to a frame directory), then encodes those same frames with `convert`'s own video
sink (``VideoFileSink``: BT.601 4:2:0, as `convert` writes) at each CRF x preset, and reports
- bits per pixel and the bitrate at the clip's frame rate (and MB per minute of video),
- PSNR (RGB, all frames) of the decoded file against the lossless stylized frames,
- encoding FPS (encode alone, median of ``--rounds`` alternating rounds: the network is the
  slow part of `convert`; the encoder runs in its own thread beside it).
The 4:2:0 chroma subsampling alone caps the PSNR below lossless; the ``yuv420 only`` row is
that cap (the frames through 4:2:0 and back, no compression).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import harness
import numpy as np

from realtime_style.engine.factory import EngineSpec
from realtime_style.engine.options import InferenceOptions
from realtime_style.io.frames import Frame
from realtime_style.io.video_file import EncodeSettings, VideoFileSink, VideoFileSource, probe
from realtime_style.jobs import convert as convert_job

CLIPS = ("video/imageio_cockatoo.mp4", "video/engstrom_fox.mp4")
CRFS = (18, 20, 23, 26)
PRESETS = ("superfast", "veryfast")


def stylized_frames(clip: Path, work: Path, frames: int, style: str | None) -> list[np.ndarray]:
    """The clip's first ``frames`` frames through `convert` (default smoothing), losslessly."""
    out = work / f"{clip.stem}_frames"
    options = convert_job.ConvertOptions(str(clip), str(out), EngineSpec(style, InferenceOptions(provider="cpu")),
                                         frame_limit=frames, overwrite=True)
    convert_job.run(options)
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(out.glob("*.png"))]


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = float(np.mean([np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in zip(a, b)]))
    return round(10 * np.log10(255.0**2 / mse), 2) if mse > 0 else float("inf")


def decoded(path: Path) -> list[np.ndarray]:
    source = VideoFileSource(path, audio=False)
    try:
        return [f.rgb for f in source.frames()]
    finally:
        source.close()


def yuv420_only(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420) for f in frames]


def measure_clip(clip: Path, work: Path, args) -> dict:
    info = probe(clip)
    frames = stylized_frames(clip, work, args.frames, args.style)
    h, w = frames[0].shape[:2]
    fps = float(info.fps) if info.fps else 25.0
    # Each clip's frames are timed 1/fps apart, so a frame's pts in the clip's time base:
    step = max(1, round(1 / (fps * float(info.time_base)))) if info.time_base else 1
    cases = [(crf, preset) for preset in args.presets for crf in args.crfs]
    seconds: dict[tuple[int, str], list[float]] = {c: [] for c in cases}
    for _ in range(args.rounds):  # alternate the cases round by round (the machine's speed drifts)
        for crf, preset in cases:
            seconds[(crf, preset)].append(encode_frames(frames, info, work / f"{crf}_{preset}.mp4", crf,
                                                        preset, step))
    rows = []
    for crf, preset in cases:
        path = work / f"{crf}_{preset}.mp4"
        bits = path.stat().st_size * 8
        bpp = bits / (w * h * len(frames))
        rows.append({"crf": crf, "preset": preset, "bits_per_pixel": round(bpp, 3),
                     "kbit_s": round(bits / (len(frames) / fps) / 1000),
                     "mb_per_minute": round(bits / 8e6 / (len(frames) / fps) * 60, 1),
                     "psnr_db": psnr(decoded(path), frames),
                     "encode_fps": round(len(frames) / statistics.median(seconds[(crf, preset)]), 1)})
    return {"clip": clip.name, "size": f"{w}x{h}", "fps": round(fps, 3), "frames": len(frames),
            "yuv420_only_psnr_db": psnr(yuv420_only(frames), frames), "cases": rows}


def encode_frames(frames, info, target: Path, crf: int, preset: str, step: int) -> float:
    sink = VideoFileSink(target, info, EncodeSettings(codec="libx264", crf=crf, preset=preset))
    start = time.perf_counter()
    try:
        for i, img in enumerate(frames):
            sink.write(Frame(i, img, pts=i * step, time_base=info.time_base, output=img))
        sink.finish([])
    except BaseException:
        sink.abort()
        raise
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--clips", default=None, help="comma-separated clips (default: two of ../shared/data/video)")
    ap.add_argument("--frames", type=int, default=90, help="frames per clip")
    ap.add_argument("--rounds", type=int, default=2, help="alternating timed rounds per case")
    ap.add_argument("--style", default=None, help="style (default: the built-in default)")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)))
    ap.add_argument("--presets", default=",".join(PRESETS))
    args = harness.parse(ap, argv)
    args.crfs = [int(c) for c in args.crfs.split(",")]
    args.presets = args.presets.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.smoke is not None:
            clips = [harness.make_clip(harness.inputs(args) / "clip.mp4", 64, 48, 6)]
            args.style = str(harness.tiny_model(harness.inputs(args)))
            args.frames, args.rounds, args.crfs, args.presets = 6, 1, [18, 23], ["superfast"]
        elif args.clips:
            clips = [Path(c) for c in args.clips.split(",")]
        else:
            clips = [harness.SHARED / c for c in CLIPS]
        results = []
        for clip in clips:
            sub = work / clip.stem
            sub.mkdir()
            results.append(measure_clip(clip, sub, args))
    harness.emit({"benchmark": "convert_bitrate", "machine": harness.cpu_line(), "style": args.style or "default",
                  "load_average": [round(v, 2) for v in os.getloadavg()], "clips": results}, args)


if __name__ == "__main__":
    main()
