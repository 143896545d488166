"""Temporal smoothing and `eval`: synthetic sequences with known motion, scene cuts, the
exact `--smooth 0` path, and the warping-error report (real ONNX Runtime, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import decode, make_clip
from typer.testing import CliRunner

from realtime_style.cli import DEFAULT_SMOOTH, app
from realtime_style.jobs.evaluate import evaluate, find_gt_flow
from realtime_style.metrics import lowpass_psnr, texture_ratio
from realtime_style.temporal.flow import MIN_SIDE
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother
from realtime_style.temporal.warping import write_flo
from realtime_style.testcard import card_image

runner = CliRunner()
SHIFT = 3  # pixels per frame, to the right


def panning(n: int, h: int = 96, w: int = 128, seed: int = 0) -> list[np.ndarray]:
    """A textured scene panning right by SHIFT px a frame (frame t+1 = frame t moved right)."""
    wide = card_image(h, w + SHIFT * n, seed)
    return [np.ascontiguousarray(wide[:, (n - t) * SHIFT : (n - t) * SHIFT + w]) for t in range(n)]


def flicker(seed: int = 0, sigma: float = 12.0, stroke_px: float = 0.0):
    """A stand-in for a per-frame stylization that flickers: the input plus fresh pixel
    noise, or (``stroke_px``) plus a stroke texture of constant energy whose phase jumps
    every frame, as a network's brush strokes do."""
    rng = np.random.default_rng(seed)
    strokes = None

    def stylize(img: np.ndarray) -> np.ndarray:
        nonlocal strokes
        if not stroke_px:
            return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)
        if strokes is None or strokes.shape != img.shape:
            strokes = cv2.GaussianBlur(rng.normal(0, 1, img.shape).astype(np.float32), (0, 0), stroke_px)
            strokes *= sigma / float(strokes.std())
        moved = np.roll(strokes, tuple(int(v) for v in rng.integers(0, 20, 2)), axis=(0, 1))
        return np.clip(img + moved, 0, 255).astype(np.uint8)

    return stylize


def sintel_like(root: Path, frames: list[np.ndarray]) -> Path:
    """Frames plus ground-truth flow (t -> t+1: content moves right, so a pixel of frame t
    is found SHIFT px to the right in t+1) and occlusion masks, in the Sintel layout."""
    seq, gt = root / "scene_clean", root / "scene_gt"
    seq.mkdir(parents=True)
    gt.mkdir()
    h, w = frames[0].shape[:2]
    for i, f in enumerate(frames, start=1):
        cv2.imwrite(str(seq / f"frame_{i:04d}.png"), f[..., ::-1])
        if i < len(frames):
            flow = np.zeros((h, w, 2), np.float32)
            flow[..., 0] = SHIFT
            write_flo(gt / f"frame_{i:04d}.flo", flow)
            occ = np.zeros((h, w), np.uint8)
            occ[:, w - SHIFT :] = 255  # leaves the picture
            cv2.imwrite(str(gt / f"occlusions_frame_{i:04d}.png"), occ)
    return seq


def test_gt_flow_is_found_beside_the_frames(tmp_path):
    seq = sintel_like(tmp_path, panning(3))
    flo, occ, inv = find_gt_flow(seq / "frame_0001.png")
    assert flo.name == "frame_0001.flo" and occ is not None and inv is None
    assert find_gt_flow(seq / "frame_0003.png") is None  # the last frame has no successor


def test_expected_warping_error_of_a_known_motion(tmp_path):
    frames = panning(6)
    seq = sintel_like(tmp_path, frames)
    sigma = 12.0
    report = evaluate(seq, flicker(sigma=sigma), smooth=0.0, flow="gt")
    data = report.to_json()
    assert data["pairs"] == 5 and data["frames"] == 6
    assert data["warping_error_input"] < 1e-6  # a pure integer shift: the input is its own perfect warp
    expected = 2 * (sigma / 255.0) ** 2  # two independent noises per pixel and channel
    assert data["warping_error"] == pytest.approx(expected, rel=0.1)
    for key in ("warping_error", "per_pair", "flow", "range", "denominator", "pairs", "fps"):
        assert key in data


@pytest.mark.parametrize("h, w", [(96, 128), (720, 1280)])  # 720p: its flow frames space DIS's patches wider
def test_smoothing_removes_flicker_without_ghosts(tmp_path, h, w):
    frames = panning(12 if h < 500 else 8, h, w)
    seq = sintel_like(tmp_path, frames)
    plain = evaluate(seq, flicker(seed=1, sigma=10.0, stroke_px=1.5), smooth=0.0, flow="gt").to_json()
    smoothed = evaluate(seq, flicker(seed=1, sigma=10.0, stroke_px=1.5), smooth=DEFAULT_STRENGTH, flow="gt").to_json()
    assert smoothed["warping_error"] <= 0.6 * plain["warping_error"]
    assert smoothed["warping_error_unsmoothed"] == plain["warping_error"]  # same per-frame output reported
    sv = smoothed["smoothed_vs_unsmoothed"]
    assert sv["lowpass_psnr_db"] >= 26 and sv["texture_ratio"] >= 0.85
    assert smoothed["scene_cuts"] == 0


def test_eval_with_its_own_dis_flow_on_a_video_like_sequence(tmp_path):
    seq = sintel_like(tmp_path, panning(8))
    plain = evaluate(seq, flicker(seed=2), smooth=0.0, flow="dis").to_json()
    smoothed = evaluate(seq, flicker(seed=2), smooth=DEFAULT_STRENGTH, flow="dis").to_json()
    assert "DIS medium" in plain["flow"]
    assert smoothed["warping_error"] < 0.6 * plain["warping_error"]


def test_a_scene_cut_resets_the_history():
    a, b = panning(5, seed=0), panning(5, seed=7)
    b = [np.ascontiguousarray(255 - f[::-1]) for f in b]  # unrelated content
    sm = Smoother(DEFAULT_STRENGTH)
    outs = [sm.smooth(f, f) for f in a + b]
    assert sm.cuts == 1
    assert np.array_equal(outs[5], b[0])  # the first frame after the cut is the fresh stylization


def _patches(positions, h: int = 180, w: int = 320, seed: int = 0) -> np.ndarray:
    """Textured 40 px squares (each its own picture) on a flat, gently shaded background."""
    img = np.dstack([np.tile(np.linspace(90, 140, w, dtype=np.float32), (h, 1))] * 3).astype(np.uint8)
    for i, (y, x) in enumerate(positions):
        img[y:y + 40, x:x + 40] = card_image(40, 40, seed=seed + i)
    return img


def test_a_frame_whose_flow_fails_is_left_as_the_network_made_it():
    """The textured parts are replaced by others elsewhere, which no flow can follow, while the
    flat background stays explained (so it is no scene cut): the history must not be dragged
    in, and the fresh stylization must come out untouched (no sharpening of its own flicker
    either). (The same pictures moved 95 px are partly followed by the flow now: no failure.)"""
    stylize = flicker(seed=1, stroke_px=1.5)
    a = _patches([(20, 20), (20, 140), (120, 60), (110, 250)])
    b = _patches([(120, 180), (30, 260), (25, 80), (130, 10)], seed=10)
    sm = Smoother(1.0)
    sm.smooth(a, stylize(a))
    styl = stylize(b)
    out = sm.smooth(b, styl)
    assert sm.cuts == 0 and sm.flow_failures == 1
    assert np.array_equal(out, styl)
    # Control: the same scene moving 3 px is followed and smoothed.
    sm = Smoother(1.0)
    moved = [_patches([(20, 20 + d), (20, 140 + d), (120, 60 + d), (110, 250 - d)]) for d in (0, 3)]
    sm.smooth(moved[0], stylize(moved[0]))
    styl = stylize(moved[1])
    assert not np.array_equal(sm.smooth(moved[1], styl), styl) and sm.flow_failures == 0


def _noise_texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(128 + n * 60 / n.std(), 0, 255).astype(np.uint8)


def test_a_fast_pan_is_followed_from_the_previous_flow():
    """60 px a frame at 640x360 is beyond the flow's reach from a standing start (such frames
    were taken for scene cuts); each search starting from the previous frame's flow follows
    it, a stop after it is followed too, and a real cut is still a cut."""
    shift, n, h, w = 60, 5, 360, 640
    wide = _noise_texture(h, w + shift * n, seed=1)
    pan = [np.ascontiguousarray(wide[:, (n - t) * shift:(n - t) * shift + w]) for t in range(n)]
    sm = Smoother(1.0)
    for f in pan + [pan[-1]] * 3:
        sm.smooth(f, f)
    assert (sm.cuts, sm.flow_failures) == (0, 0)
    other = np.ascontiguousarray(wide[:, :w][::-1])
    sm.smooth(other, other)
    assert sm.cuts == 1


def test_strength_zero_is_the_unsmoothed_output_itself():
    sm = Smoother(0.0)
    frames = panning(4)
    for f in frames:
        styl = f.copy()
        assert sm.smooth(f, styl) is styl


def test_static_scene_with_a_moving_object_leaves_no_trail():
    """A bright square crossing a still background: after it has passed, the background
    must be back to the stylized frame (no ghost of the square)."""
    bg = card_image(180, 320, seed=3)
    sm = Smoother(1.0)
    for t in range(12):
        f = bg.copy()
        x = 10 + t * 8
        cv2.rectangle(f, (x, 60), (x + 30, 100), (255, 255, 255), -1)
        out = sm.smooth(f, f)
    region = (slice(60, 101), slice(10, 60))  # where the square was early on
    assert lowpass_psnr(out[region], f[region]) > 30  # 28.7 dB without neighbourhood clamping
    assert texture_ratio(out, f) > 0.85


def test_default_is_the_same_everywhere():
    assert DEFAULT_SMOOTH == DEFAULT_STRENGTH


def test_convert_smooth_zero_is_bit_identical_to_per_frame(tmp_path, tiny_model, model_home):
    seq = sintel_like(tmp_path, panning(5))
    out0, out_default = tmp_path / "s0", tmp_path / "sd"
    r = runner.invoke(app, ["convert", str(seq), str(out0), "--style", str(tiny_model), "--smooth", "0"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["convert", str(seq), str(out_default), "--style", str(tiny_model)])
    assert r.exit_code == 0, r.output
    per_frame_dir = tmp_path / "img"
    r = runner.invoke(app, ["image", str(seq), "-o", str(per_frame_dir), "--style", str(tiny_model)])
    assert r.exit_code == 0, r.output
    differs = 0
    for path in sorted(seq.glob("*.png")):
        a = cv2.imread(str(out0 / path.name))
        assert np.array_equal(a, cv2.imread(str(per_frame_dir / path.name)))
        differs += not np.array_equal(a, cv2.imread(str(out_default / path.name)))
    assert differs >= 3  # the default smooths


def test_eval_cli_json_and_errors(tmp_path, tiny_model, model_home):
    seq = sintel_like(tmp_path, panning(4))
    r = runner.invoke(app, ["eval", str(seq), "--flow", "gt", "--style", str(tiny_model), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["pairs"] == 3 and data["smooth"] == DEFAULT_SMOOTH and data["range"] == "RGB in [0, 1]"
    r = runner.invoke(app, ["eval", str(seq), "--flow", "gt", "--style", str(tiny_model)])
    assert r.exit_code == 0 and "floor" in r.stdout and "smoothed" in r.stdout
    lone = tmp_path / "lone"
    lone.mkdir()
    cv2.imwrite(str(lone / "frame_0001.png"), panning(1)[0])
    r = runner.invoke(app, ["eval", str(lone), "--style", str(tiny_model)])
    assert r.exit_code == 1 and "at least two" in r.output
    plain = tmp_path / "plain"
    plain.mkdir()
    for i, f in enumerate(panning(3)):
        cv2.imwrite(str(plain / f"f{i}.png"), f)
    r = runner.invoke(app, ["eval", str(plain), "--flow", "gt", "--style", str(tiny_model)])
    assert r.exit_code == 1 and "no ground-truth flow" in r.output
    r = runner.invoke(app, ["eval", str(plain), "--flow", "farneback", "--style", str(tiny_model)])
    assert r.exit_code != 0


SIZES = [(1, 1), (1, 7), (2, 2), (3, 5), (9, 9), (11, 40), (15, 15), (16, 16), (17, 23), (16, 2000), (2000, 16),
         (31, 7), (33, 65), (720, 17), (13, 1281)]


@pytest.mark.parametrize("h,w", SIZES, ids=lambda v: str(v))
def test_every_frame_size_is_smoothed_or_passed_through(h, w):
    """From 1x1 up, thin strips and odd sizes: a frame the flow can work on (both sides at
    least MIN_SIDE) is smoothed, a smaller one comes out as the network made it; never an
    OpenCV error (16x16 and 2000x16 crashed inside DIS and a resize)."""
    n = 5
    wide = card_image(h + 2 * n, w + 2 * n, seed=4)
    frames = [np.ascontiguousarray(wide[t:t + h, t:t + w]) for t in range(n)]  # a slow diagonal pan
    stylize = flicker(seed=3, sigma=10.0)
    sm = Smoother(DEFAULT_STRENGTH)
    changed = 0
    for f in frames:
        styl = stylize(f)
        out = sm.smooth(f, styl)
        assert out.shape == styl.shape and out.dtype == np.uint8
        changed += not np.array_equal(out, styl)
    if min(h, w) < MIN_SIDE:
        assert sm.passed_through == n and changed == 0
    else:
        assert sm.passed_through == 0 and changed >= n - 2


@pytest.mark.parametrize("width,height", [(16, 16), (2000, 16), (17, 31), (8, 8)])
def test_convert_smooths_tiny_and_thin_clips(tmp_path, tiny_model, model_home, width, height):
    """`convert` with the default smoothing through the CLI, on real clips of these sizes:
    every frame comes back at its size (these were a two-line "internal error")."""
    clip, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(clip, frames=6, width=width, height=height)
    r = runner.invoke(app, ["convert", str(clip), str(out), "--style", str(tiny_model)])
    assert r.exit_code == 0, r.output
    got = decode(out)
    assert (got.count, got.width, got.height) == (6, width, height)


@pytest.mark.parametrize("h, w", [(96, 128), (101, 67), (250, 180)])
def test_work_in_bands_of_rows_is_the_whole_frames_work(monkeypatch, h, w):
    """The full-size steps run band by band (cache-sized), and the frames come out bit for bit as
    from one band the size of the frame, for bands that split the frame anywhere (odd heights,
    bands of a few rows)."""
    import realtime_style.temporal.smoother as smoother_module

    frames = panning(6, h, w, seed=3)
    stylize = flicker(seed=5, stroke_px=3.0)
    outs = [stylize(f) for f in frames]
    results = {}
    for rows in (h, 48, 5):
        monkeypatch.setattr(smoother_module, "STRIP_ROWS", rows)
        sm = Smoother(DEFAULT_STRENGTH)
        results[rows] = [sm.smooth(f, o) for f, o in zip(frames, outs)]
    assert any(not np.array_equal(a, o) for a, o in zip(results[h][1:], outs[1:]))  # history was carried
    for rows in (48, 5):
        for whole, banded in zip(results[h], results[rows]):
            np.testing.assert_array_equal(banded, whole)


def test_frames_handed_in_or_out_are_never_written_afterwards():
    """The smoother reuses buffers of its own (the new history is written into the last one's),
    never a frame it was given or has returned: a sink or a queue may still hold them."""
    frames = panning(6, seed=4)
    stylize = flicker(seed=6, stroke_px=3.0)
    sm = Smoother(DEFAULT_STRENGTH)
    held = []
    for f in frames:
        styl = stylize(f)
        out = sm.smooth(f, styl)
        held.append((f, f.copy(), styl, styl.copy(), out, out.copy()))
    assert any(not np.array_equal(out, styl) for _, _, styl, _, out, _ in held[1:])  # history was carried
    for f, f0, styl, styl0, out, out0 in held:
        np.testing.assert_array_equal(f, f0)
        np.testing.assert_array_equal(styl, styl0)
        np.testing.assert_array_equal(out, out0)
