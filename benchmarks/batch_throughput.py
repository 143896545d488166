"""`batch` against `convert` on one long clip: throughput and what batching costs.

    python benchmarks/batch_throughput.py [--seconds 120] [--size 640x360] [--workers 2] [--json PATH]

A clip is generated in a temporary directory (never kept): ``--seconds`` of a pan over the
project's test card at 25 FPS with an AAC track, H.264 with x264's own keyframe interval (a
keyframe every 10 s, as cameras and encoders write them). Then, each as a user runs it (a fresh
process, the built-in default style, default smoothing and encoder):
- ``convert CLIP OUT`` (one process, frames in parallel on every core);
- ``batch CLIP -o DIR --engine local`` (``--workers`` processes, single-threaded each; the clip
  cut into one segment per worker);
- ``batch CLIP -o DIR --engine ray`` (a local Ray instance, one actor per CPU slot; skipped,
  and said so, without Ray, and in a smoke run).
Reported: wall time and FPS of each, batch's own overheads from its ``--json`` summary (start
of the pool, demuxing for the cuts, the join: remuxing the segments and muxing the audio), and
a separate timing of the join alone with and without the audio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import harness
import numpy as np


def make_clip(path: Path, seconds: float, width: int, height: int, fps: int = 25, gop: int | None = None) -> int:
    """A pan over the test card with a 440 Hz tone; returns the frame count."""
    import av

    from realtime_style.testcard import card_image

    frames = int(seconds * fps)
    base = card_image(height + 128, width + 128)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", **({"g": str(gop), "keyint_min": str(gop)} if gop else {})}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        samples_per_frame = 48000 // fps
        t0 = 0
        for i in range(frames):
            x, y = (i * 2) % 128, int(64 + 60 * np.sin(i / 40))
            img = np.ascontiguousarray(base[y:y + height, x:x + width])
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for packet in video.encode(vf):
                out.mux(packet)
            t = (t0 + np.arange(samples_per_frame)) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, t0, Fraction(1, 48000)
            t0 += samples_per_frame
            for packet in audio.encode(af):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    return frames


def run_cli(args: list[str]) -> tuple[float, str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(harness.ROOT), os.environ.get("PYTHONPATH"))
                                                       if p)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "realtime_style", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, proc.stdout, proc.stderr


def frames_in(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(video=0) if p.size)


def time_join(output: Path, source: Path, tmp: Path) -> dict:
    """The join's cost on the whole output as one segment: video remux alone, then with the audio."""
    from realtime_style.batch.join import join

    out = {}
    for audio in (False, True):
        t0 = time.perf_counter()
        join([output], source, tmp / f"join-{audio}.mp4", audio=audio)
        out["with_audio_s" if audio else "video_only_s"] = round(time.perf_counter() - t0, 3)
    out["audio_mux_s"] = round(out["with_audio_s"] - out["video_only_s"], 3)
    return out


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--order", default="convert,local,ray",
                    help="the order of the runs (this machine's speed drifts: a second run in another order)")
    args = harness.parse(ap)
    smoke = args.smoke is not None
    width, height = (64, 48) if smoke else harness.size(args.size)
    seconds = 2.0 if smoke else args.seconds
    report = {"benchmark": "batch_throughput", "machine": harness.cpu_line(), "load_before": os.getloadavg(),
              "clip": {"seconds": seconds, "size": f"{width}x{height}", "fps": 25}, "workers": args.workers,
              "runs": {}}
    with tempfile.TemporaryDirectory(prefix="batch-bench-", dir=args.smoke) as tmp:
        tmp = Path(tmp)
        clip = tmp / "long.mp4"
        t0 = time.perf_counter()
        frames = make_clip(clip, seconds, width, height, gop=10 if smoke else None)
        report["clip"]["frames"] = frames
        report["clip"]["generate_s"] = round(time.perf_counter() - t0, 1)
        style = ["--style", str(harness.tiny_model(tmp))] if smoke else []
        extra = ["--segment-seconds", "0.5"] if smoke else []

        engines = ["local"]
        try:
            import ray  # noqa: F401
        except ImportError:
            skipped = "Ray is not installed (pip install 'realtime-style[ray]')"
        else:  # starting Ray takes 10-15 s on 2 cores: the smoke run leaves it to tests/test_batch_ray.py
            skipped = "smoke run (Ray's start-up would double the suite's share; tests/test_batch_ray.py runs it)" \
                if smoke else None
        if skipped:
            report["runs"]["ray"] = {"skipped": skipped}
            print(f"ray: skipped, {skipped}", file=sys.stderr)
        else:
            engines.append("ray")
        for run in [r.strip() for r in args.order.split(",") if r.strip() in ("convert", *engines)]:
            load = os.getloadavg()
            if run == "convert":
                wall, _, _ = run_cli(["convert", str(clip), str(tmp / "convert.mp4"), *style, "--overwrite"])
                assert frames_in(tmp / "convert.mp4") == frames
                report["runs"]["convert"] = {"wall_s": round(wall, 2), "fps": round(frames / wall, 2), "load": load}
                continue
            outdir = tmp / f"batch-{run}"
            wall, stdout, _ = run_cli(["batch", str(clip), "-o", str(outdir), *style, "--engine", run,
                                       "--workers", str(args.workers), "--json", *extra])
            summary = json.loads(stdout)
            item = summary["inputs"][0]
            assert item["state"] == "done" and frames_in(outdir / "long.mp4") == frames
            report["runs"][run] = {"wall_s": round(wall, 2), "fps": round(frames / wall, 2), "load": load,
                                   "segments": item["segments"], "workers": summary["workers"],
                                   "startup_s": summary["startup_s"], "split_s": summary["split_s"],
                                   "join_s": summary["join_s"], "inside_s": summary["seconds"]}
        if "wall_s" in report["runs"].get("convert", {}):
            for run in engines:
                if "wall_s" in report["runs"].get(run, {}):
                    report["runs"][run]["speedup_vs_convert"] = round(report["runs"]["convert"]["wall_s"] /
                                                                      report["runs"][run]["wall_s"], 3)
        report["join_alone"] = time_join(tmp / "batch-local" / "long.mp4", clip, tmp)
    report["load_after"] = os.getloadavg()
    harness.emit(report, args)


if __name__ == "__main__":
    main()
