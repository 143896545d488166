"""`realtime-style batch` on the local process pool: real worker processes (spawned), real ONNX
Runtime sessions on a generated model, real PyAV clips made here (variable frame rate, B-frames,
a keyframe every 10 frames, AAC audio).

The contract checked: a file cut into segments comes out with exactly the frames, timestamps
and audio packets of a single `convert` of it, and pictures within encoding noise of it
(>= 40 dB) with smoothing off; a worker process killed mid-unit costs a retry, not a frame;
a stop keeps finished segments and a rerun does only the rest; a rerun after a full run skips
everything; a broken input fails alone (exit 1, named); name clashes resolve predictably;
the usual one-line errors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from clips import audio_packets, decode, make_clip
from conftest import make_style_model
from typer.testing import CliRunner

from realtime_style.cli import app

runner = CliRunner()

STEPS = [40, 40, 33, 47, 40, 60, 20]  # ms: a variable frame rate
FRAMES = 80
COMMON = ("--provider", "cpu", "--crf", "12", "--workers", "2")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}")
    assert "Traceback" not in result.output


def vfr_pts(frames: int) -> list[int]:
    pts = [0]
    for i in range(frames - 1):
        pts.append(pts[-1] + STEPS[i % len(STEPS)])
    return pts


def make_long(path: Path, frames: int = FRAMES) -> Path:
    """A clip that cuts into 4 segments at --segment-seconds 0.5 (keyframes every 10 frames)."""
    make_clip(path, frames=frames, width=64, height=48, audio=True, gop=10, bframes=2, pts=vfr_pts(frames),
              time_base=Fraction(1, 1000))
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    model = root / "tiny.onnx"
    model.write_bytes(make_style_model())
    make_long(root / "long.mp4")
    make_clip(root / "short.mp4", frames=20, width=64, height=48)
    reference = root / "reference.mp4"
    ok(invoke("convert", root / "long.mp4", reference, "--style", model, "--smooth", "0", "--provider", "cpu",
              "--crf", "12"))
    return root, model, reference


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def assert_like_convert(out: Path, reference: Path, *, pictures: bool = True) -> None:
    """Same frame count, the very same timestamps and audio packets; pictures within encoding noise."""
    a, b = decode(reference, pictures=pictures), decode(out, pictures=pictures)
    assert b.count == a.count == FRAMES
    assert b.seconds == a.seconds, f"timestamps differ\nconvert: {a.seconds[:12]}\nbatch:   {b.seconds[:12]}"
    assert b.first_seconds == a.first_seconds
    assert audio_packets(out) == audio_packets(reference) and audio_packets(out)[0]
    if pictures:
        worst = min(psnr(x, y) for x, y in zip(a.pictures, b.pictures))
        assert worst >= 40.0, f"a frame differs from convert's by {worst:.1f} dB"


def run_job(inputs, outdir, model, *, stop=None, on_unit=None, workers=2, smooth=0.0, segment_seconds=0.5):
    from realtime_style.batch.worker import WorkerSpec
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec
    from realtime_style.jobs import batch as job

    spec = WorkerSpec(EngineSpec(str(model), InferenceOptions(provider="cpu")), crf=12, smooth=smooth)
    options = job.BatchOptions(tuple(str(i) for i in inputs), str(outdir), spec, workers=workers,
                               segment_seconds=segment_seconds)
    return job.run(options, stop=stop, on_unit=on_unit or (lambda _e: None))


# -- planning ------------------------------------------------------------------------------------
def test_cuts_only_where_no_frame_reaches_across():
    """An open-GOP keyframe (a B-frame after it in decoding order shows before it) is no cut;
    a segment holds exactly the frames between its cut and the next; warm-up starts at the
    keyframe before the frames it needs."""
    from realtime_style.batch.plan import Packets, plan_segments

    # decoding order; keyframes at 0, 4 (open: pts 3 follows it), 8 and 12 (closed)
    pts = [0, 2, 1, 4, 3, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15]
    key = [i in (0, 3, 8, 12) for i in range(16)]
    packets = Packets(pts, key, Fraction(1, 4), "mp4")  # 4 frames a second
    assert packets.clean_cuts() == [0, 8, 12]
    segments = plan_segments(packets, 1.0, warmup=2)
    assert [(s.first, s.stop, s.start_pts, s.end_pts, s.frames) for s in segments] == \
        [(0, 8, 0, 8, 8), (8, 12, 8, 12, 4), (12, 16, 12, None, 4)]
    assert [(s.warm_pts, s.seek) for s in segments] == [(0, 0), (6, 3), (10, 8)]
    assert sum(s.frames for s in segments) == len(pts)
    assert plan_segments(packets, 10.0, warmup=2)[0].frames == 16  # nothing to cut: one piece


# -- the contract ---------------------------------------------------------------------------------
def test_segmented_batch_is_exactly_a_convert_and_a_rerun_skips(work, tmp_path):
    root, model, reference = work
    out = tmp_path / "out"
    result = invoke("batch", root / "long.mp4", root / "short.mp4", "-o", out, "--style", model, "--smooth", "0",
                    "--segment-seconds", "0.5", "--json", *COMMON)
    ok(result)
    summary = json.loads(result.stdout)
    assert [i["state"] for i in summary["inputs"]] == ["done", "done"]
    long, short = summary["inputs"]
    assert long["segments"] == 4 and long["frames"] == FRAMES and long["retries"] == 0 and long["fps"] > 0
    assert short["segments"] == 0 and short["frames"] == 20  # short: one unit, convert's own path
    assert set(long["worker"]) <= {"local-0", "local-1"}
    assert_like_convert(out / "long.mp4", reference)
    assert decode(out / "short.mp4").count == 20
    assert sorted(os.listdir(out)) == ["batch.json", "long.mp4", "short.mp4"]  # no segment or temporary left
    state = json.loads((out / "batch.json").read_text())
    assert {r["state"] for r in state["inputs"].values()} == {"done"}
    assert "done    " in result.stderr and "2 of 2 inputs written" in result.stderr

    before = (out / "long.mp4").stat().st_mtime_ns
    again = invoke("batch", root / "long.mp4", root / "short.mp4", "-o", out, "--style", model, "--smooth", "0",
                   "--segment-seconds", "0.5", "--json", *COMMON)
    ok(again)
    assert [i["state"] for i in json.loads(again.stdout)["inputs"]] == ["skipped", "skipped"]
    assert (out / "long.mp4").stat().st_mtime_ns == before
    assert sum(line.startswith("skipped ") for line in again.stderr.splitlines()) == 2
    last = again.stderr.splitlines()[-1]
    assert "2 skipped" in last and "worker" not in last  # nothing to do: no worker was started


def test_smoothed_segments_keep_frames_and_timestamps(work, tmp_path):
    """With smoothing on, each segment warms its smoother on the frames before its cut: they are
    decoded and smoothed, never written."""
    root, model, reference = work
    result = run_job([root / "long.mp4"], tmp_path / "out", model, smooth=0.8)
    assert result.inputs[0].state == "done" and result.inputs[0].segments == 4
    assert_like_convert(tmp_path / "out" / "long.mp4", reference, pictures=False)


def test_a_rotated_phone_clip_is_cut_and_comes_out_upright(work, tmp_path):
    """The display rotation is applied once, to the pixels, in every segment (as convert does)."""
    _, model, _ = work
    clip = tmp_path / "phone.mp4"
    make_clip(clip, frames=30, width=64, height=48, gop=10, rotation=90)
    reference = tmp_path / "reference.mp4"
    ok(invoke("convert", clip, reference, "--style", model, "--smooth", "0", "--provider", "cpu", "--crf", "12"))
    result = run_job([clip], tmp_path / "out", model, segment_seconds=0.3)
    assert result.inputs[0].state == "done" and result.inputs[0].segments == 3
    a, b = decode(reference, pictures=True), decode(tmp_path / "out" / "phone.mp4", pictures=True)
    assert (b.width, b.height, b.rotation) == (a.width, a.height, a.rotation) == (48, 64, 0)
    assert b.seconds == a.seconds
    assert min(psnr(x, y) for x, y in zip(a.pictures, b.pictures)) >= 40.0


def test_a_killed_worker_costs_a_retry_not_a_frame(work, tmp_path):
    root, model, reference = work
    killed = []

    def kill_first(event) -> None:
        if not killed:
            killed.append(event.worker)
            os.kill(event.pid, signal.SIGKILL)

    result = run_job([root / "long.mp4"], tmp_path / "out", model, on_unit=kill_first)
    item = result.inputs[0]
    assert item.state == "done", item.error
    assert item.retries == 1
    assert killed[0] not in item.worker[1:]  # the retry ran on another (a new) worker
    assert "local-2" in item.worker  # the replacement
    assert_like_convert(tmp_path / "out" / "long.mp4", reference)


def test_a_stopped_batch_keeps_finished_segments_and_a_rerun_does_the_rest(work, tmp_path):
    root, model, reference = work
    stop = threading.Event()
    started = []

    def stop_at_third(event) -> None:  # a third unit starts only after one finished
        started.append(event.unit.segment)
        if len(started) == 3:
            stop.set()

    first = run_job([root / "long.mp4"], tmp_path / "out", model, stop=stop, on_unit=stop_at_third)
    assert first.interrupted and first.inputs[0].state == "pending"
    state = json.loads((tmp_path / "out" / "batch.json").read_text())
    segments = next(iter(state["inputs"].values()))["segments"]
    done = [s["index"] for s in segments if s["state"] == "done"]
    assert 1 <= len(done) <= 2
    assert not (tmp_path / "out" / "long.mp4").exists()

    rerun = []
    second = run_job([root / "long.mp4"], tmp_path / "out", model, on_unit=lambda e: rerun.append(e.unit.segment))
    assert second.inputs[0].state == "done"
    assert sorted(rerun) == sorted(set(range(4)) - set(done))  # only the missing segments
    assert_like_convert(tmp_path / "out" / "long.mp4", reference)


def test_a_broken_input_fails_alone(work, tmp_path):
    root, model, _ = work
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00 not a video at all" * 50)
    out = tmp_path / "out"
    result = invoke("batch", broken, root / "short.mp4", tmp_path / "missing.mp4", "-o", out, "--style", model,
                    "--json", *COMMON)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    states = {Path(i["input"]).name: i["state"] for i in json.loads(result.stdout)["inputs"]}
    assert states == {"broken.mp4": "failed", "short.mp4": "done", "missing.mp4": "failed"}
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "2 of 3 inputs failed" in errors[0]
    assert "broken.mp4" in errors[0] and "missing.mp4" in errors[0]
    assert decode(out / "short.mp4").count == 20
    assert sorted(os.listdir(out)) == ["batch.json", "short.mp4"]


def test_name_clashes_resolve_in_input_order_and_stay_put(work, tmp_path):
    root, model, _ = work
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        make_clip(tmp_path / sub / "clip.mp4", frames=6, width=32, height=24)
    (tmp_path / "b" / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    result = invoke("batch", tmp_path / "b", str(tmp_path / "a" / "*.mp4"), tmp_path / "b" / "clip.mp4", "-o", out,
                    "--style", model, "--json", *COMMON)
    ok(result)
    names = [(Path(i["input"]).parent.name, Path(i["output"]).name) for i in json.loads(result.stdout)["inputs"]]
    assert names == [("b", "clip.mp4"), ("a", "clip-2.mp4")]  # b/clip.mp4 once; notes.txt is no video
    again = invoke("batch", tmp_path / "a", tmp_path / "b", "-o", out, "--style", model, "--json", *COMMON)
    ok(again)
    names = {Path(i["input"]).parent.name: (Path(i["output"]).name, i["state"])
             for i in json.loads(again.stdout)["inputs"]}
    assert names == {"a": ("clip-2.mp4", "skipped"), "b": ("clip.mp4", "skipped")}


def test_an_output_no_batch_wrote_is_kept_unless_overwrite(work, tmp_path):
    root, model, _ = work
    out = tmp_path / "out"
    out.mkdir()
    (out / "short.mp4").write_bytes(b"mine")
    result = invoke("batch", root / "short.mp4", "-o", out, "--style", model, *COMMON)
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert (out / "short.mp4").read_bytes() == b"mine"
    ok(invoke("batch", root / "short.mp4", "-o", out, "--style", model, "--overwrite", *COMMON))
    assert decode(out / "short.mp4").count == 20


def test_ctrl_c_stops_keeps_finished_files_and_exits_130(work, tmp_path):
    root, model, _ = work
    inputs = []
    for i in range(8):
        inputs.append(make_long(tmp_path / f"clip{i}.mp4"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "realtime_style", "batch", *map(str, inputs), "-o", str(out), "--style", str(model),
           "--segment-seconds", "0.5", *COMMON]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("done "):
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    state = json.loads((out / "batch.json").read_text())["inputs"]
    done = [r for r in state.values() if r["state"] == "done"]
    assert done and len(done) < 8
    for record in done:
        assert decode(out / record["output"]).count == FRAMES
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".batch"]  # no temporaries
    for record in state.values():  # a file not done has no output, only (maybe) finished segments
        assert record["state"] in ("done", "pending")
        if record["state"] == "pending":
            assert not (out / record["output"]).exists()


# -- one-line errors ------------------------------------------------------------------------------
def assert_error(result, *fragments: str) -> None:
    detail = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 1, detail
    assert "Traceback" not in result.output, detail
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), detail
    assert "internal error" not in lines[0], detail
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), detail


def test_one_line_errors(work, tmp_path):
    root, model, _ = work
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error(invoke("batch", empty, "-o", tmp_path / "o1", "--style", model), "no video files")
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_error(invoke("batch", root / "short.mp4", "-o", afile, "--style", model), "not a directory")
    assert_error(invoke("batch", root / "short.mp4", "-o", tmp_path / "o2", "--style", "no-such-style"),
                 "no-such-style")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    usage = invoke("batch", root / "short.mp4", "-o", tmp_path / "o3", "--address", "auto")
    assert usage.exit_code == 2 and "--engine ray" in usage.output
    assert invoke("batch", root / "short.mp4", "-o", tmp_path / "o3", "--engine", "spark").exit_code == 2
