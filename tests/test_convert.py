"""`realtime-style convert`: video files and frame directories through the real pipeline.

The CLI runs in-process through Typer's CliRunner (Ctrl-C tests run it in a subprocess, to
send real signals). Every clip is generated here with PyAV (see ``clips.py``); the real clips
in ../shared/data/video are converted too when that folder is present.

The contract checked: same frame count, size, frame rate and timestamps as the input (variable
frame rate kept), audio packets copied byte for byte unless ``--no-audio``, a display rotation
applied once (upright pixels, no rotation left in the output), frame directories in and out,
``--frame-limit``, ``--crf``, atomic writes (a hidden ``.NAME.*.tmp*`` beside the target, renamed
on success), ``--overwrite``, and every failure as one ``error: ...`` line, exit 1, nothing
left behind; Ctrl-C exits 130 (once: a playable partial file; twice: at once, no temporaries).
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from clips import audio_packets, corrupt_packets, decode, make_audio_only, make_clip, picture
from conftest import SHARED
from typer.testing import CliRunner

from realtime_style.cli import app

runner = CliRunner()

HALF_MS = 0.0005 + 1e-9  # timestamps must agree within half a millisecond (1 ms container clocks round)


# -- the probe -------------------------------------------------------------------------------------
_PROBE_SCRIPT = r"""
import sys
from fractions import Fraction
import av
from realtime_style.io.video_file import probe
path = sys.argv[1]
with av.open(path) as c:
    v = c.streams.video[0]
    want = (Fraction(v.time_base), Fraction(v.average_rate), int(v.frames))
for i in range(40):
    info = probe(path)
    got = (info.time_base, info.fps, info.frames)
    if got != want:
        print(f"probe #{i + 1} gave time_base={got[0]} fps={got[1]} frames={got[2]}; "
              f"the stream has time_base={want[0]} fps={want[1]} frames={want[2]}")
        sys.exit(3)
print("ok")
"""


def test_probe_reads_the_stream_it_has_open(tmp_path):
    """Regression: ``VideoFileSource._probe`` once read the stream's rate, frame count and time
    base after closing its container (freed memory): garbage values most of the time, now and
    then a segfault. Probed 40 times in a fresh interpreter, so a crash cannot take pytest down."""
    clip = tmp_path / "probe.mp4"
    make_clip(clip, frames=10)
    proc = subprocess.run([sys.executable, "-c", _PROBE_SCRIPT, str(clip)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "ok"


# -- helpers ---------------------------------------------------------------------------------------
def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def convert(src, dst, model, *extra):
    """These tests check per-frame fidelity, so smoothing is off unless a test asks for it
    (tests/test_smoothing.py covers the smoothed default)."""
    if "--smooth" not in extra:
        extra = ("--smooth", "0", *extra)
    return invoke("convert", src, dst, "--style", model, "--provider", "cpu", *extra)


def ok(result) -> None:
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}"
    )
    assert "Traceback" not in result.output


def assert_error(result, *fragments: str) -> str:
    """Exactly one ``error: `` line on stderr, exit 1, no traceback, nothing on stdout."""
    detail = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}\nexc: {result.exception!r}"
    assert result.exit_code == 1, detail
    assert isinstance(result.exception, SystemExit), detail
    assert "Traceback" not in result.output, detail
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, detail
    assert lines[0].startswith("error: "), detail
    assert "internal error" not in lines[0], detail
    assert result.stdout == "", detail
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in the error line\n{detail}"
    return lines[0]


def temporaries(directory: Path) -> list[str]:
    """Hidden temporary files or directories (``.NAME.xxxx.tmp.mp4``, ``.NAME.xxxx.tmp``)."""
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def listing(directory: Path) -> list[str]:
    """Everything in ``directory``, hidden entries included."""
    return sorted(os.listdir(directory))


def assert_same_timestamps(src: list[float], out: list[float], *, relative: bool = False,
                           src_start: float | None = None, out_start: float | None = None) -> None:
    """Presentation times equal within half a millisecond; ``relative``: measured from each file's
    first packet of any stream (Matroska shifts negative audio priming to zero, keeping A/V sync)."""
    a, b = sorted(src), sorted(out)
    assert len(a) == len(b), (len(a), len(b))
    if relative:
        a = [t - src_start for t in a]
        b = [t - out_start for t in b]
    worst = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    assert worst <= HALF_MS, f"timestamps differ by up to {worst * 1000:.3f} ms\nin:  {a[:12]}\nout: {b[:12]}"


@functools.cache
def _engine(model: str):
    from realtime_style.engine import InferenceOptions, StyleEngine

    return StyleEngine(model, InferenceOptions(provider="cpu"))


def stylized(model: Path, rgb: np.ndarray) -> np.ndarray:
    """What the engine makes of one picture."""
    return _engine(str(model)).stylize(np.ascontiguousarray(rgb))


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_frames_match(outputs: list[np.ndarray], expected: list[np.ndarray], tolerance: float) -> None:
    """Each output picture is close to its own expected picture and closer to it than to any other."""
    assert len(outputs) == len(expected)
    for i, out in enumerate(outputs):
        errors = [mad(out, e) for e in expected]
        assert errors[i] <= tolerance, f"frame {i}: mean error {errors[i]:.2f} > {tolerance}"
        assert int(np.argmin(errors)) == i, f"frame {i} looks most like expected frame {int(np.argmin(errors))}"


def read_png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@pytest.fixture
def work(tmp_path, model_home) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    (w / "out").mkdir()
    return w


# -- video to video ----------------------------------------------------------------------------------
def test_mp4_keeps_frames_size_rate_timestamps_and_audio(work, tiny_model):
    src, dst = work / "in.mp4", work / "out" / "styled.mp4"
    make_clip(src, frames=30, width=96, height=64, audio=True)
    res = convert(src, dst, tiny_model)
    ok(res)
    assert "wrote" in res.stderr and "1 audio stream" in res.stderr, res.stderr
    assert listing(work / "out") == ["styled.mp4"]  # the temporary file was renamed, nothing else left
    assert dst.read_bytes()[4:8] == b"ftyp"

    a, b = decode(src, pictures=True), decode(dst, pictures=True)
    assert b.codec == "h264"
    assert (b.count, b.width, b.height, b.rotation) == (a.count, a.width, a.height, 0) == (30, 96, 64, 0)
    assert b.average_rate == a.average_rate == 25
    assert_same_timestamps(a.seconds, b.seconds)
    assert a.first_seconds == pytest.approx(b.first_seconds, abs=HALF_MS)  # A/V offset kept
    ain, aout = audio_packets(src), audio_packets(dst)
    assert len(ain) == len(aout) == 1
    assert len(aout[0]) == len(ain[0]) > 10
    assert aout[0] == ain[0]  # byte for byte, not re-encoded
    # every frame went through the model, in order
    assert_frames_match(b.pictures, [stylized(tiny_model, p) for p in a.pictures], tolerance=6.0)
    assert mad(b.pictures[0], a.pictures[0]) > 10  # stylized, not a copy of the input


@pytest.mark.parametrize("suffix, magic", [(".mkv", b"\x1a\x45\xdf\xa3"), (".mov", b"ftypqt  ")])
def test_mkv_and_mov_outputs_keep_video_and_audio(work, tiny_model, suffix, magic):
    src, dst = work / "in.mp4", work / "out" / f"styled{suffix}"
    make_clip(src, frames=20, audio=True)
    ok(convert(src, dst, tiny_model))
    assert listing(work / "out") == [dst.name]
    assert magic in dst.read_bytes()[:12]
    a, b = decode(src), decode(dst)
    assert b.codec == "h264"
    assert (b.count, b.width, b.height) == (a.count, a.width, a.height)
    # Matroska cannot start below zero: it shifts the AAC priming (and the video with it) forward
    assert_same_timestamps(a.seconds, b.seconds, relative=suffix == ".mkv", src_start=a.first_seconds,
                           out_start=b.first_seconds)
    ain, aout = audio_packets(src), audio_packets(dst)
    assert len(aout) == 1 and aout[0] == ain[0]


def test_no_audio_drops_the_audio(work, tiny_model):
    src, dst = work / "in.mp4", work / "out" / "silent.mp4"
    make_clip(src, frames=20, audio=True)
    res = convert(src, dst, tiny_model, "--no-audio")
    ok(res)
    assert "audio stream" not in res.stderr, res.stderr
    assert audio_packets(dst) == []
    a, b = decode(src), decode(dst)
    assert b.count == a.count == 20
    assert_same_timestamps(a.seconds, b.seconds)


def test_odd_frame_size_is_kept(work, tiny_model):
    src, dst = work / "odd.mp4", work / "out" / "odd.mp4"
    make_clip(src, frames=12, width=161, height=121)
    ok(convert(src, dst, tiny_model))
    a, b = decode(src, pictures=True), decode(dst, pictures=True)
    assert (b.width, b.height, b.count) == (161, 121, 12)
    assert_frames_match(b.pictures, [stylized(tiny_model, p) for p in a.pictures], tolerance=6.0)


def test_crf_changes_the_output_size(work, tiny_model):
    src = work / "in.mp4"
    make_clip(src, frames=20, width=160, height=120, crf=0)
    ok(convert(src, work / "out" / "crf10.mp4", tiny_model, "--crf", "10"))
    ok(convert(src, work / "out" / "crf40.mp4", tiny_model, "--crf", "40"))
    small, big = (work / "out" / "crf40.mp4").stat().st_size, (work / "out" / "crf10.mp4").stat().st_size
    assert small < big * 0.7, (small, big)
    assert decode(work / "out" / "crf40.mp4").count == decode(work / "out" / "crf10.mp4").count == 20


@pytest.mark.parametrize("container", [".mp4", ".mkv"])
@pytest.mark.parametrize("target", [".mp4", ".mkv", ".mov"])
def test_variable_frame_rate_timestamps_are_kept(work, tiny_model, container, target):
    stamps = [0, 40, 70, 150, 160, 300, 310, 333, 500, 540, 541, 700]
    src, dst = work / f"vfr{container}", work / "out" / f"vfr{target}"
    make_clip(src, frames=len(stamps), pts=stamps, time_base=Fraction(1, 1000))
    a = decode(src)
    assert_same_timestamps([s / 1000 for s in stamps], a.seconds)  # the clip really is irregular
    ok(convert(src, dst, tiny_model))
    b = decode(dst)
    assert b.count == len(stamps)
    assert_same_timestamps(a.seconds, b.seconds)


def test_frame_rate_and_timestamps_of_a_ntsc_clip(work, tiny_model):
    src, dst = work / "ntsc.mp4", work / "out" / "ntsc.mp4"
    make_clip(src, frames=30, rate=30, time_base=Fraction(1001, 30000))
    ok(convert(src, dst, tiny_model))
    a, b = decode(src), decode(dst)
    assert b.average_rate == Fraction(30000, 1001)
    assert abs(float(a.average_rate) - 30000 / 1001) < 0.01  # (the muxer gave the clip's last frame 1000/30000 s)
    assert_same_timestamps(a.seconds, b.seconds)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_applied_once(work, tiny_model, rotation):
    src = work / "rotated.mp4"
    make_clip(src, frames=6, width=64, height=48, rotation=rotation)
    a = decode(src, pictures=True)
    assert a.rotation == rotation and (a.width, a.height) == (64, 48)  # the clip carries the matrix
    upright = [np.rot90(p, k=rotation // 90) for p in a.pictures]

    dst = work / "out" / "upright.mp4"
    ok(convert(src, dst, tiny_model, "--strength", "0"))  # strength 0: the picture unchanged
    b = decode(dst, pictures=True)
    assert b.rotation == 0
    assert (b.width, b.height) == (upright[0].shape[1], upright[0].shape[0])
    for i, (out, want) in enumerate(zip(b.pictures, upright)):
        assert mad(out, want) < 8.0, f"frame {i}: not the upright picture ({mad(out, want):.1f})"
        for wrong in (1, 2, 3):  # rotated twice, or the other way, or not at all (180: same shape)
            other = np.rot90(want, k=wrong)
            if other.shape == out.shape:
                assert mad(out, other) > 3 * mad(out, want) + 10, f"frame {i} also matches rot90 k={wrong}"

    frames_dir = work / "out" / "frames"
    ok(convert(src, frames_dir, tiny_model, "--strength", "0"))
    pngs = sorted(frames_dir.iterdir())
    assert len(pngs) == 6
    for png, want in zip(pngs, upright):
        got = read_png(png)
        assert got.shape == want.shape and np.array_equal(got, want)


# -- frame directories ---------------------------------------------------------------------------
def test_video_to_directory_numbers_the_frames(work, tiny_model):
    src, dst = work / "in.mkv", work / "out" / "frames"
    make_clip(src, frames=12, width=80, height=60, audio=True)
    ok(convert(src, dst, tiny_model))
    names = listing(dst)
    assert names == [f"frame_{i:06d}.png" for i in range(1, 13)]
    assert temporaries(work / "out") == []
    a = decode(src, pictures=True)
    for name, src_pic in zip(names, a.pictures):
        got = read_png(dst / name)
        assert got.shape == (60, 80, 3)
        assert mad(got, stylized(tiny_model, src_pic)) <= 1.0  # lossless PNG of the engine's output


def _frame_dir(directory: Path, names: list[str], width: int = 96, height: int = 64) -> list[np.ndarray]:
    directory.mkdir()
    pics = []
    for i, name in enumerate(names):
        pic = picture(i * 5, width, height)
        params = [cv2.IMWRITE_JPEG_QUALITY, 100] if name.lower().endswith((".jpg", ".jpeg")) else []
        assert cv2.imwrite(str(directory / name), cv2.cvtColor(pic, cv2.COLOR_RGB2BGR), params)
        pics.append(read_png(directory / name))  # as stored (JPEG is lossy)
    return pics


def test_directory_to_directory_keeps_names(work, tiny_model):
    names = ["a_shot.png", "b_shot.jpg", "c_shot.jpeg", "d_shot.PNG"]
    pics = _frame_dir(work / "in", names)
    (work / "in" / "notes.txt").write_text("not a frame")
    dst = work / "out" / "styled"
    ok(convert(work / "in", dst, tiny_model))
    assert listing(dst) == ["a_shot.png", "b_shot.png", "c_shot.png", "d_shot.png"]
    assert temporaries(work / "out") == []
    for name, pic in zip(listing(dst), pics):
        assert np.array_equal(read_png(dst / name), stylized(tiny_model, pic))


def test_directory_frames_with_the_same_stem_are_not_lost(work, tiny_model):
    _frame_dir(work / "in", ["shot.jpg", "shot.png", "zz.png"])
    dst = work / "out" / "styled"
    res = convert(work / "in", dst, tiny_model)
    if res.exit_code == 1:  # refusing is fine too
        assert_error(res, "shot")
        assert not dst.exists()
        return
    ok(res)
    assert len(listing(dst)) == 3, listing(dst)


def test_directory_to_video_uses_fps(work, tiny_model):
    names = [f"img{i:03d}.png" for i in range(10)]
    pics = _frame_dir(work / "in", names)
    dst = work / "out" / "clip.mp4"
    res = convert(work / "in", dst, tiny_model, "--fps", "12")
    ok(res)
    b = decode(dst, pictures=True)
    assert (b.count, b.width, b.height) == (10, 96, 64)
    assert b.average_rate == 12
    assert_same_timestamps([i / 12 for i in range(10)], b.seconds)
    assert_frames_match(b.pictures, [stylized(tiny_model, p) for p in pics], tolerance=8.0)
    assert audio_packets(dst) == []


def test_directory_with_frames_of_different_sizes_fails_cleanly(work, tiny_model):
    _frame_dir(work / "in", ["a.png", "b.png"])
    pic = picture(0, 40, 30)
    cv2.imwrite(str(work / "in" / "c.png"), pic)
    for dst in (work / "out" / "clip.mp4", work / "out" / "frames"):
        assert_error(convert(work / "in", dst, tiny_model), "c.png")
        assert listing(work / "out") == []


def test_directory_without_frames_fails_cleanly(work, tiny_model):
    (work / "in").mkdir()
    (work / "in" / "readme.txt").write_text("no frames here")
    assert_error(convert(work / "in", work / "out" / "clip.mp4", tiny_model), str(work / "in"))
    assert listing(work / "out") == []


# -- --frame-limit --------------------------------------------------------------------------------
def test_frame_limit(work, tiny_model):
    src = work / "in.mp4"
    make_clip(src, frames=30, audio=True)
    a = decode(src)
    dst = work / "out" / "first7.mp4"
    ok(convert(src, dst, tiny_model, "--frame-limit", "7"))
    b = decode(dst)
    assert b.count == 7
    assert_same_timestamps(sorted(a.seconds)[:7], b.seconds)

    frames_dir = work / "out" / "first5"
    ok(convert(src, frames_dir, tiny_model, "--frame-limit", "5"))
    assert listing(frames_dir) == [f"frame_{i:06d}.png" for i in range(1, 6)]

    ok(convert(src, work / "out" / "all.mp4", tiny_model, "--frame-limit", "1000"))
    assert decode(work / "out" / "all.mp4").count == 30
    assert temporaries(work / "out") == []


def test_frame_limit_on_a_directory(work, tiny_model):
    _frame_dir(work / "in", [f"f{i}.png" for i in range(6)])
    ok(convert(work / "in", work / "out" / "three", tiny_model, "--frame-limit", "3"))
    assert listing(work / "out" / "three") == ["f0.png", "f1.png", "f2.png"]


# -- atomic writes and --overwrite ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["styled.mp4", "styled"])
def test_output_is_written_under_a_temporary_name_then_renamed(work, tiny_model, name):
    from realtime_style.jobs.convert import convert as run_convert

    src, dst = work / "in.mp4", work / "out" / name
    make_clip(src, frames=10)
    seen = []

    def on_frame(_frame):
        seen.append((dst.exists(), temporaries(work / "out")))

    result = run_convert(src, dst, _engine(str(tiny_model)), on_frame=on_frame)
    assert result.frames == 10 and len(seen) == 10
    suffix = ".tmp.mp4" if name.endswith(".mp4") else ".tmp"
    for exists, temps in seen:
        assert not exists  # the target appears only at the end
        assert len(temps) == 1 and temps[0].startswith(f".{Path(name).stem}.") and temps[0].endswith(suffix), temps
    assert listing(work / "out") == [name]


def test_existing_output_file_needs_overwrite(work, tiny_model):
    src, dst = work / "in.mp4", work / "out" / "styled.mp4"
    make_clip(src, frames=8)
    dst.write_bytes(b"precious")
    assert_error(convert(src, dst, tiny_model), "--overwrite")
    assert dst.read_bytes() == b"precious"
    assert listing(work / "out") == ["styled.mp4"]

    ok(convert(src, dst, tiny_model, "--overwrite"))
    assert decode(dst).count == 8
    assert listing(work / "out") == ["styled.mp4"]


def test_existing_output_directory_needs_overwrite(work, tiny_model):
    src, dst = work / "in.mp4", work / "out" / "frames"
    make_clip(src, frames=4)
    dst.mkdir()
    (dst / "old.png").write_bytes(b"old")
    assert_error(convert(src, dst, tiny_model), "--overwrite")
    assert listing(dst) == ["old.png"]

    ok(convert(src, dst, tiny_model, "--overwrite"))
    assert listing(dst) == [f"frame_{i:06d}.png" for i in range(1, 5)]  # replaced, not merged
    assert listing(work / "out") == ["frames"]


# -- bad inputs ------------------------------------------------------------------------------------
def _missing(d: Path) -> Path:
    return d / "nope.mp4"


def _empty(d: Path) -> Path:
    (d / "empty.mp4").write_bytes(b"")
    return d / "empty.mp4"


def _garbage(d: Path) -> Path:
    (d / "junk.mp4").write_bytes(os.urandom(5000) + b"certainly not a video" * 50)
    return d / "junk.mp4"


def _truncated(d: Path) -> Path:
    make_clip(d / "full.mp4", frames=40, width=96, height=64)
    data = (d / "full.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])  # the moov atom is at the end: gone
    return d / "cut.mp4"


def _audio_only(d: Path) -> Path:
    make_audio_only(d / "sound.mp4")
    return d / "sound.mp4"


def _undecodable_mjpeg(d: Path) -> Path:
    make_clip(d / "bad.mkv", frames=6, codec="mjpeg")
    corrupt_packets(d / "bad.mkv", list(range(6)))
    return d / "bad.mkv"


def _undecodable_h264(d: Path) -> Path:
    make_clip(d / "bad.mp4", frames=6)
    corrupt_packets(d / "bad.mp4", list(range(6)))
    return d / "bad.mp4"


@pytest.mark.parametrize("make_input, fragment", [
    (_missing, "nope.mp4"),
    (_empty, "empty"),
    (_garbage, "junk.mp4"),
    (_truncated, "cut.mp4"),
    (_audio_only, "no video stream"),
    (_undecodable_mjpeg, "bad.mkv"),
    (_undecodable_h264, "bad.mp4"),
], ids=["missing", "empty", "garbage", "truncated", "audio-only", "undecodable-mjpeg", "undecodable-h264"])
@pytest.mark.parametrize("target", ["styled.mp4", "frames"])
def test_bad_input_fails_cleanly(work, tiny_model, make_input, fragment, target):
    src = make_input(work)
    before = listing(work)
    assert_error(convert(src, work / "out" / target, tiny_model), fragment)
    assert listing(work / "out") == []  # no output, no hidden temporaries
    assert listing(work) == before


@pytest.mark.parametrize("container", [".mkv", ".avi"])
@pytest.mark.parametrize("target", ["styled.mp4", "frames"])
def test_stream_failing_midway_writes_nothing_and_says_how_far_it_got(work, tiny_model, container, target):
    src = work / f"mjpeg{container}"
    make_clip(src, frames=20, codec="mjpeg")
    corrupt_packets(src, [10, 11, 12])
    # the clip really does break PyAV after 10 good frames
    with av.open(str(src)) as c, pytest.raises(av.error.InvalidDataError):
        good = 0
        for _frame in c.decode(video=0):
            good += 1
    assert good == 10

    line = assert_error(convert(src, work / "out" / target, tiny_model), src.name)
    m = re.search(r"after (\d+) good frames", line)
    assert m and int(m.group(1)) == 10, line
    assert listing(work / "out") == []


# -- bad outputs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["styled.mp4", "frames"])
def test_output_below_a_regular_file(work, tiny_model, target):
    _frame_dir(work / "in", ["a.png", "b.png"])
    (work / "blocker").write_text("a file")
    assert_error(convert(work / "in", work / "blocker" / target, tiny_model), "blocker")
    assert (work / "blocker").read_text() == "a file"
    assert listing(work) == ["blocker", "in", "out"]


def test_output_below_a_regular_file_is_not_called_missing(work, tiny_model):
    _frame_dir(work / "in", ["a.png"])
    (work / "blocker").write_text("a file")
    line = assert_error(convert(work / "in", work / "blocker" / "styled.mp4", tiny_model), "blocker")
    assert "does not exist" not in line, line


def test_output_is_the_input(work, tiny_model):
    make_clip(work / "in.mp4", frames=4)
    data = (work / "in.mp4").read_bytes()
    assert_error(convert(work / "in.mp4", work / "in.mp4", tiny_model, "--overwrite"), "input")
    assert (work / "in.mp4").read_bytes() == data


def test_unknown_output_suffix_is_refused(work, tiny_model):
    _frame_dir(work / "in", ["a.png"])
    assert_error(convert(work / "in", work / "out" / "clip.avi", tiny_model), ".mp4")
    assert listing(work / "out") == []


@pytest.fixture
def full_disk(tmp_path):
    where = tmp_path / "full"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a 200k tmpfs to fill ({proc.stderr.strip() or proc.returncode})")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.parametrize("target", ["styled.mp4", "styled.mkv", "frames"])
def test_full_disk(work, tiny_model, full_disk, target):
    pics = _frame_dir(work / "in", [f"f{i:03d}.png" for i in range(120)], width=160, height=120)
    assert len(pics) == 120
    res = convert(work / "in", full_disk / target, tiny_model, "--crf", "0")  # ~ 600 KB: three times the 200k
    assert_error(res)
    assert listing(full_disk) == []  # no output, no temporary file
    usage = os.statvfs(full_disk)
    assert usage.f_bfree == usage.f_blocks, "space is still taken on the full disk"


# -- Ctrl-C ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    make_clip(path, frames=900, width=320, height=240, noise=24)  # grain: the output file grows frame by frame
    return path


def _start_cli(work: Path, model: Path, src: Path, dst: Path) -> subprocess.Popen:
    env = dict(os.environ, REALTIME_STYLE_HOME=str(work / "home"))
    return subprocess.Popen(
        [sys.executable, "-m", "realtime_style", "convert", str(src), str(dst), "--style", str(model),
         "--provider", "cpu"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_growing_temporary(proc: subprocess.Popen, directory: Path, timeout: float = 120.0) -> Path:
    """Poll until a hidden ``.NAME.*.tmp.mp4`` exists and has grown twice; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    sizes: list[int] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the conversion ended (rc {proc.returncode}) before frames were flowing\n{err}")
        temps = [p for p in directory.iterdir() if re.fullmatch(r"\.styled\..+\.tmp\.mp4", p.name)]
        if temps:
            try:
                size = temps[0].stat().st_size
            except FileNotFoundError:
                size = 0
            if size and (not sizes or size > sizes[-1]):
                sizes.append(size)
            if len(sizes) >= 3:
                return temps[0]
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no growing temporary file appeared")


def test_ctrl_c_once_keeps_a_playable_partial_file(work, tiny_model, long_clip):
    dst = work / "out" / "styled.mp4"
    proc = _start_cli(work, tiny_model, long_clip, dst)
    try:
        _wait_for_growing_temporary(proc, work / "out")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "playable" in err, err
    assert dst.exists(), err
    frames = decode(dst)
    assert 1 <= frames.count <= 899, frames.count
    said = re.search(r"first (\d+) frames", err)
    assert said and int(said.group(1)) == frames.count, err
    a = decode(long_clip)
    assert_same_timestamps(sorted(a.seconds)[:frames.count], frames.seconds)
    assert temporaries(work / "out") == [] and listing(work / "out") == ["styled.mp4"]


def test_ctrl_c_twice_quits_without_temporaries(work, tiny_model, long_clip):
    # A second Ctrl-C while the sink is still busy is a race: several tries, the second signal a
    # little later each time after the first one was acknowledged.
    for attempt, gap in enumerate([0.0, 0.01, 0.02, 0.03, 0.04, 0.02, 0.01, 0.03]):
        out_dir = work / f"out{attempt}"
        out_dir.mkdir()
        dst = out_dir / "styled.mp4"
        proc = _start_cli(work, tiny_model, long_clip, dst)
        try:
            _wait_for_growing_temporary(proc, out_dir)
            proc.send_signal(signal.SIGINT)
            line = proc.stderr.readline()  # the handler's acknowledgement: the first one was taken
            while line and "stopping" not in line:
                line = proc.stderr.readline()
            assert line, "the first Ctrl-C was not acknowledged"
            time.sleep(gap)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        # 130, or killed by SIGINT (the shell's 130) when the run had already finished and
        # Python was shutting down when the second signal came
        assert proc.returncode in (130, -signal.SIGINT), f"try {attempt}: rc {proc.returncode}\n{err}"
        assert "Traceback" not in err, err
        assert temporaries(out_dir) == [], err
        if dst.exists():
            assert 1 <= decode(dst).count <= 899
        else:
            assert listing(out_dir) == []


# -- the real clips in ../shared/data/video -----------------------------------------------------------
REAL_CLIPS = sorted(p.name for p in (SHARED / "video").iterdir()) if (SHARED / "video").is_dir() else ["(absent)"]


@pytest.mark.parametrize("name", REAL_CLIPS)
def test_real_clip_to_mkv(work, tiny_model, shared_data, name):
    src = shared_data / "video" / name
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    dst = work / "out" / f"{src.stem}.mkv"
    # a small network input and a fast preset keep this quick; the geometry is still the source's
    ok(convert(src, dst, tiny_model, "--max-side", "96", "--preset", "ultrafast", "--crf", "35"))
    a, b = decode(src), decode(dst)
    upright = (a.height, a.width) if a.rotation in (90, 270) else (a.width, a.height)
    assert b.count == a.count
    assert (b.width, b.height) == upright and b.rotation == 0
    assert_same_timestamps(a.seconds, b.seconds, relative=True, src_start=a.first_seconds, out_start=b.first_seconds)
    ain, aout = audio_packets(src), audio_packets(dst)
    assert [len(p) for p in aout] == [len(p) for p in ain]
    assert aout == ain
    assert listing(work / "out") == [dst.name]


def test_real_clip_cockatoo_to_mp4_keeps_its_audio(work, tiny_model, shared_data):
    src = shared_data / "video" / "imageio_cockatoo.mp4"
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    dst = work / "out" / "cockatoo.mp4"
    res = convert(src, dst, tiny_model, "--max-side", "96", "--preset", "ultrafast", "--crf", "35")
    ok(res)
    assert "1 audio stream" in res.stderr
    a, b = decode(src), decode(dst)
    assert (b.count, b.width, b.height) == (a.count, a.width, a.height)
    assert_same_timestamps(a.seconds, b.seconds)
    ain, aout = audio_packets(src), audio_packets(dst)
    assert len(ain) == 1 and len(aout) == 1 and len(aout[0]) == len(ain[0]) > 0
    assert aout == ain


@pytest.mark.parametrize("target", ["styled.mp4", "frames"])
def test_missing_output_directories_are_made_and_removed_again_on_failure(work, tiny_model, target):
    _frame_dir(work / "in", ["a.png", "b.png"])
    result = convert(work / "in", work / "out" / "new" / "deeper" / target, tiny_model)
    assert result.exit_code == 0, result.output
    assert (work / "out" / "new" / "deeper" / target).exists()
    # a run that fails midway leaves neither output nor the directories it made
    src = work / "mjpeg.mkv"
    make_clip(src, frames=20, codec="mjpeg")
    corrupt_packets(src, [10, 11, 12])
    assert_error(convert(src, work / "out" / "other" / "deeper" / target, tiny_model), src.name)
    assert listing(work / "out") == ["new"]


def test_codec_auto_takes_nvenc_only_where_it_works_and_the_size_allows():
    from realtime_style.io.video_file import EncodeSettings

    assert EncodeSettings().codec_for(640, 360) == "libx264"  # NVENC not proven here
    assert EncodeSettings(nvenc=True).codec_for(640, 360) == "h264_nvenc"
    assert EncodeSettings(nvenc=True).codec_for(641, 360) == "libx264"  # 4:2:0 needs even sides
    assert EncodeSettings(codec="libx265", nvenc=True).codec_for(640, 360) == "libx265"  # asked for


def test_default_codec_on_the_cpu_is_x264(work, tiny_model):
    make_clip(work / "in.mp4", frames=3)
    result = convert(work / "in.mp4", work / "out" / "styled.mp4", tiny_model)
    assert result.exit_code == 0, result.output
    with av.open(str(work / "out" / "styled.mp4")) as c:
        assert c.streams.video[0].codec_context.name in ("h264", "libx264")


def test_a_still_image_given_to_convert_points_to_image(work, tiny_model):
    photo = work / "photo.jpg"
    cv2.imwrite(str(photo), np.full((24, 32, 3), 128, np.uint8))
    assert_error(convert(photo, work / "out" / "out.mp4", tiny_model), "still image", "realtime-style image")
    assert listing(work / "out") == []  # it wrote a one-frame video before


def test_nvenc_asked_for_where_it_cannot_work_says_so_before_any_work(work, tiny_model):
    from realtime_style.io.codecs import nvenc_usable

    if nvenc_usable()[0]:
        pytest.skip("NVENC works on this machine")
    make_clip(work / "in.mp4", frames=4)
    assert_error(convert(work / "in.mp4", work / "out" / "o.mp4", tiny_model, "--codec", "h264_nvenc"),
                 "NVENC cannot encode on this machine", "--codec libx264")  # was: "failed after 0 frames"
    assert listing(work / "out") == []


def test_convert_reports_the_size_and_bitrate_it_wrote(work, tiny_model):
    make_clip(work / "in.mp4", frames=25)  # 1 s at 25 fps
    res = convert(work / "in.mp4", work / "out" / "o.mp4", tiny_model)
    ok(res)
    size = (work / "out" / "o.mp4").stat().st_size
    assert f"({size / 1e6:.1f} MB, {size * 8 / 1e6:.1f} Mbit/s)" in res.stderr, res.stderr


def test_default_crf_is_the_measured_one_everywhere(work, tiny_model):
    from realtime_style.cli import DEFAULT_CRF
    from realtime_style.io.video_file import EncodeSettings
    from realtime_style.jobs.convert import ConvertOptions

    assert DEFAULT_CRF == EncodeSettings().crf == ConvertOptions("a", "b").crf == 23  # was 18: 2x the bitrate
    make_clip(work / "in.mp4", frames=10)
    small, big = work / "out" / "d.mp4", work / "out" / "18.mp4"
    ok(convert(work / "in.mp4", small, tiny_model))
    ok(convert(work / "in.mp4", big, tiny_model, "--crf", "18"))
    assert small.stat().st_size < big.stat().st_size
