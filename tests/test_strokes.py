"""Stroke correlation (the measure) and its training-side twin, growing a student, loading
one back from ONNX, the teacher cache, and a distillation run that uses all of them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import write_ml5_folder
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.metrics import border_mask, eval_size, lowpass_psnr, stroke_band, stroke_correlation
from realtime_style.testcard import card_image


def painting(h=96, w=128, seed=0):
    """A picture with strokes: a test card plus fine random texture."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.normal(0, 40, (h, w)).astype(np.float32), (0, 0), 1.2)
    return np.clip(card_image(h, w, seed=seed).astype(np.float32) + tex[..., None], 0, 255).astype(np.uint8)


# -- the measure --------------------------------------------------------------------------
def test_stroke_correlation_ranks_what_the_eye_ranks():
    a = painting()
    noisy = np.clip(a.astype(int) + np.random.default_rng(1).integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(a, (0, 0), 2.0)
    other = painting(seed=7)
    assert stroke_correlation(a, a) == pytest.approx(1.0)
    same = stroke_correlation(noisy, a)
    moved1 = stroke_correlation(np.roll(a, 1, 1)[:, 4:-4], a[:, 4:-4])
    moved3 = stroke_correlation(np.roll(a, 3, 1)[:, 4:-4], a[:, 4:-4])
    assert same > 0.97 > moved1 > moved3
    assert stroke_correlation(blurred, a) < moved1  # blur loses the strokes
    assert abs(stroke_correlation(other, a)) < 0.5
    with pytest.raises(ValueError):
        stroke_correlation(a, a[:-1])


def test_stroke_band_is_the_dog_of_cie_lightness():
    a = painting()
    light = cv2.cvtColor(a.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[..., 0]
    expect = cv2.GaussianBlur(light, (0, 0), 1.0) - cv2.GaussianBlur(light, (0, 0), 4.0)
    assert np.allclose(stroke_band(a), expect, atol=1e-4)
    assert abs(float(stroke_band(np.full((40, 40, 3), 90, np.uint8)).max())) < 1e-4  # flat: no strokes


def test_masks_measure_the_border_band_alone():
    a = painting()
    edge = border_mask(a.shape, 16)
    b = a.copy()
    b[edge] = cv2.GaussianBlur(a, (0, 0), 3)[edge]  # spoil the border band only
    assert edge.sum() == 96 * 128 - (96 - 32) * (128 - 32)
    assert stroke_correlation(b, a, ~edge) > 0.995  # the bands reach a few pixels inwards
    assert stroke_correlation(b, a, edge) < 0.8
    assert lowpass_psnr(b, a, mask=~edge) > lowpass_psnr(b, a, mask=edge) + 10


@pytest.mark.parametrize("shape,expect", [((700, 1000), (352, 512)), ((512, 384), (512, 384)), ((9, 40), (16, 32)),
                                          ((1, 1), (16, 16)), ((300, 301), (288, 288))])
def test_eval_size_is_at_most_512_and_multiples_of_16(shape, expect):
    out = eval_size(np.zeros((*shape, 3), np.uint8))
    assert out.shape[:2] == expect


# -- its twin in the training losses ---------------------------------------------------------
def test_training_lightness_and_band_match_the_measure():
    from realtime_style.training.losses import gaussian_blur, lightness, stroke_loss

    a = painting()
    t = torch.from_numpy(a).permute(2, 0, 1)[None].float()
    ref = cv2.cvtColor(a.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[..., 0]
    assert np.abs(lightness(t)[0, 0].numpy() - ref).max() < 0.3
    band = (gaussian_blur(lightness(t), 1.0) - gaussian_blur(lightness(t), 4.0))[0, 0].numpy()
    inner = (slice(16, -16), slice(16, -16))  # borders: torch and OpenCV reflect alike, kernels end alike
    assert np.abs(band[inner] - stroke_band(a)[inner]).max() < 0.3
    b = torch.from_numpy(painting(seed=3)).permute(2, 0, 1)[None].float()
    assert float(stroke_loss(t, t)) < 1e-3
    assert float(stroke_loss(b, t)) > 0.5
    shifted = torch.roll(t, 2, 3)
    assert float(stroke_loss(t, t)) < float(stroke_loss(shifted, t)) < float(stroke_loss(b, t))
    weight = torch.zeros_like(t[:, :1])
    weight[..., :, 100:] = 1  # only the right part counts (the widest band reaches 32 px)
    half = t.clone()
    half[..., :64] = b[..., :64]
    assert float(stroke_loss(half, t, weight)) < 1e-3 < float(stroke_loss(half, t))


def test_large_motion_stability_runs_and_counts_only_kept_pixels():
    from realtime_style.training.losses import stability_loss
    from realtime_style_export.networks import StudentNet

    net = StudentNet().eval()
    x = torch.from_numpy(np.stack([painting(64, 64, s) for s in range(3)])).permute(0, 3, 1, 2).float()
    gen = torch.Generator().manual_seed(0)
    loss = stability_loss(net, x, net(x), gen, motion="large")
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    with pytest.raises(ValueError):
        stability_loss(net, x, net(x), gen, motion="huge")


# -- growing a student, and loading one back -------------------------------------------------
def test_a_grown_student_computes_exactly_what_it_grew_from():
    from realtime_style_export.networks import StudentNet

    torch.manual_seed(0)
    net = StudentNet()
    net.train()
    x = torch.rand(2, 3, 64, 96) * 255
    for _ in range(3):  # batch-norm running statistics that are not the initial ones
        net(x)
    net.eval()
    with torch.no_grad():
        base = net(x)
        folded = net.folded().eval()
        grown = net.grown(mid_blocks=1, head_blocks=2, photo_skip=True).eval()
        assert torch.allclose(folded(x), base, atol=1e-3)
        assert torch.allclose(grown(x), base, atol=1e-3)
    assert grown.config["head_blocks"] == 2 and not grown.config["batch_norm"]
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in folded.parameters())
    # the new blocks are trainable: one step moves the output
    opt = torch.optim.SGD(grown.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        (grown(x) - 128).abs().mean().backward()
        opt.step()
    with torch.no_grad():
        assert not torch.allclose(grown.eval()(x), base, atol=1e-3)


def test_a_student_loads_back_from_its_onnx(tmp_path):
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.metrics import psnr
    from realtime_style_export.checkpoints import LoadedModel, load, load_student_onnx
    from realtime_style_export.networks import StudentNet
    from realtime_style_export.onnx_export import export_model

    torch.manual_seed(1)
    net = StudentNet().grown(head_blocks=1, photo_skip=True, head_width=16)
    for p in net.parameters():
        p.data += 0.02 * torch.randn_like(p)
    path = tmp_path / "s.onnx"
    export_model(LoadedModel(net, "student", {"teacher": "ml5:x"}), path, name="s")
    back = load(path)
    assert back.arch == "student" and back.metadata["teacher"] == "ml5:x"
    assert back.module.config["head_blocks"] == 1 and back.module.config["photo_skip"]
    assert back.module.config["head_width"] == 16
    img = card_image(72, 104)
    ref = StyleEngine(path, InferenceOptions(provider="cpu")).stylize(img)
    with torch.no_grad():
        out = back.module(torch.from_numpy(img).permute(2, 0, 1)[None].float())[0].permute(1, 2, 0)
    assert psnr(out.clamp(0, 255).round().byte().numpy(), ref) > 45
    with pytest.raises(Exception, match="only student networks"):
        load_student_onnx(_non_student_onnx(tmp_path))


def _non_student_onnx(tmp_path):
    from conftest import make_style_model

    path = tmp_path / "other.onnx"
    path.write_bytes(make_style_model())
    return path


# -- the teacher cache and a run on it ---------------------------------------------------------
@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(4):
        cv2.imwrite(str(d / f"p{i}.png"), painting(100 + 12 * i, 140, seed=i)[..., ::-1])
    return d


def test_teacher_cache_paints_once_and_crops_in_place(tmp_path, photos):
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.errors import InputError
    from realtime_style.training import teacher_cache
    from realtime_style_export.checkpoints import load_ml5
    from realtime_style_export.onnx_export import export_model

    teacher = load_ml5(write_ml5_folder(tmp_path / "teacher", seed=3))
    data, _ = export_model(teacher, None, name="t")
    cache = teacher_cache.build(data, "ml5:teacher", photos, tmp_path / "cache", photos=3)
    files = sorted(cache.glob("*.npz"))
    assert len(files) == 3 and json.loads((cache / "manifest.json").read_text())["teacher"] == "ml5:teacher"
    with np.load(files[0]) as z:
        photo, painted = z["photo"], z["teacher"]
    assert photo.shape[0] % 16 == 0 and photo.shape[1] % 16 == 0
    assert np.array_equal(painted, StyleEngine(data, InferenceOptions(provider="cpu")).stylize(photo))
    stamp = files[0].stat().st_mtime_ns
    teacher_cache.build(b"", "ml5:teacher", photos, cache, photos=3)  # complete: nothing is painted again
    assert files[0].stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="another teacher"):
        teacher_cache.build(data, "ml5:other", photos, cache, photos=3)

    pairs = teacher_cache.CachedPairs(cache, crop=64, margin=8)
    x, t, w = pairs.batch(np.random.default_rng(0), 6)
    assert x.shape == t.shape == (6, 3, 64, 64) and w.shape == (6, 1, 64, 64)
    for i in range(6):  # the teacher's crop is the painting of the photo's crop, at the same place
        k = next(j for j, p in enumerate(pairs.photos) if _find(p, x[i]) is not None)
        y0, x0 = _find(pairs.photos[k], x[i])
        assert np.array_equal(t[i].permute(1, 2, 0).byte().numpy(), pairs.paintings[k][y0 : y0 + 64, x0 : x0 + 64])
        h, wd = pairs.photos[k].shape[:2]
        assert (w[i, 0, :8].sum() == 0) == (y0 > 0)  # a margin only where the crop side is inside the photo
        assert (w[i, 0, :, -8:].sum() == 0) == (x0 + 64 < wd)
        assert w[i, 0, 8:-8, 8:-8].min() == 1


def test_whole_photo_batches_are_of_one_size_and_count_every_pixel(tmp_path, photos):
    from realtime_style.training import teacher_cache
    from realtime_style_export.checkpoints import load_ml5
    from realtime_style_export.onnx_export import export_model

    teacher = load_ml5(write_ml5_folder(tmp_path / "teacher", seed=3))
    data, _ = export_model(teacher, None, name="t")
    for i in range(2):  # two more photos the size of p0, so that one size is common
        cv2.imwrite(str(photos / f"q{i}.png"), painting(100, 140, seed=9 + i)[..., ::-1])
    cache = teacher_cache.build(data, "ml5:teacher", photos, tmp_path / "cache", photos=6)
    pairs = teacher_cache.CachedPairs(cache, crop=0)
    sizes = {p.shape[:2] for p in pairs.photos}
    assert len(sizes) == 3 and len(pairs.by_size[(96, 128)]) == 3
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        x, t, w = pairs.batch(rng, 3)
        assert x.shape[0] == 3 and x.shape == t.shape and w.shape == (3, 1, *x.shape[2:]) and w.min() == 1
        k = next(k for k, p in enumerate(pairs.photos) if np.array_equal(p, x[0].permute(1, 2, 0).byte().numpy()))
        assert np.array_equal(t[0].permute(1, 2, 0).byte().numpy(), pairs.paintings[k])
        seen.add(tuple(x.shape[2:]))
    assert (96, 128) in seen and len(seen) >= 2


def _find(photo, crop):
    c = crop.permute(1, 2, 0).byte().numpy()
    h, w = photo.shape[:2]
    for y in range(h - 63):
        for x in range(w - 63):
            if photo[y, x, 0] == c[0, 0, 0] and np.array_equal(photo[y : y + 64, x : x + 64], c):
                return y, x
    return None


def test_distill_grows_a_student_on_cached_teacher_paintings(tmp_path, photos, model_home):
    from realtime_style_export.checkpoints import load_checkpoint
    from realtime_style_export.networks import StudentNet

    teacher = write_ml5_folder(tmp_path / "teacher", seed=3)
    start = tmp_path / "start"
    args = ["distill", "--teacher", str(teacher), "--data", str(photos), "--steps", "2", "--batch", "2",
            "--crop", "64", "--checkpoint-every", "2", "--sample-every", "2", "--threads", "2",
            "--teacher-cache", str(tmp_path / "cache"), "--cache-photos", "3"]
    res = CliRunner().invoke(app, [*args, "--out", str(start)])
    assert res.exit_code == 0, res.output
    assert "painting 3 of 3 photos" in res.stderr
    res = CliRunner().invoke(app, ["export", str(start) + ".safetensors", str(tmp_path / "start.onnx")])
    assert res.exit_code == 0, res.output
    grown = tmp_path / "grown"
    more = ["--init", str(tmp_path / "start.onnx"), "--head-blocks", "1", "--photo-skip", "--mid-blocks", "1",
            "--stroke-weight", "1", "--motion", "large", "--temporal-weight", "2"]
    res = CliRunner().invoke(app, [*args, "--out", str(grown), *more])
    assert res.exit_code == 0, res.output
    assert "painting" not in res.stderr and "stroke" in res.stderr  # the cache is reused; the loss is reported
    record = json.loads((tmp_path / "grown.json").read_text())
    assert record["config"]["head_blocks"] == 1 and record["config"]["mid_blocks"] == 1
    net = load_checkpoint(tmp_path / "grown.safetensors").module
    assert isinstance(net, StudentNet) and net.config["photo_skip"]
    res = CliRunner().invoke(app, [*args, "--out", str(grown), *more, "--steps", "3", "--resume"])
    assert res.exit_code == 0 and "resumed" in res.stderr, res.output
    res = CliRunner().invoke(app, ["export", str(grown) + ".safetensors", str(tmp_path / "grown.onnx")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "whole"), "--crop", "0", "--lowpass-weight", "1",
                                   "--feature-weight", "0", "--gram-weight", "0", "--stroke-weight", "1"])
    assert res.exit_code == 0 and "lowpass" in res.stderr, res.output
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad"), "--motion", "huge"])
    assert res.exit_code == 1 and "--motion must be one of" in res.output
    bad = [a for a in args if a not in ("--teacher-cache", str(tmp_path / "cache"))]
    res = CliRunner().invoke(app, [*bad, "--out", str(tmp_path / "bad"), "--crop", "0"])
    assert res.exit_code == 1 and "needs --teacher-cache" in res.output
