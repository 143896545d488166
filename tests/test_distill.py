"""`distill` end to end on a synthetic teacher and generated photos: a few real steps."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import write_ml5_folder
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.testcard import card_image


@pytest.fixture
def setup(tmp_path):
    teacher = write_ml5_folder(tmp_path / "teacher", seed=3)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        cv2.imwrite(str(photos / f"p{i}.png"), card_image(120 + 8 * i, 150, seed=i)[..., ::-1])
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    return teacher, photos, tmp_path


def distill(teacher, photos, out, *extra):
    args = ["distill", "--teacher", str(teacher), "--data", str(photos), "--out", str(out), "--steps", "6",
            "--batch", "2", "--crop", "64", "--checkpoint-every", "3", "--sample-every", "3", "--threads", "2", *extra]
    return CliRunner().invoke(app, args)


def weights(path):
    from realtime_style_export.checkpoints import load_checkpoint

    return load_checkpoint(path).module.state_dict()


def test_distill_writes_checkpoint_samples_and_exports(setup, model_home):
    teacher, photos, tmp = setup
    res = distill(teacher, photos, tmp / "wave_student")
    assert res.exit_code == 0, res.output
    assert "skipped 1 unreadable" in res.stderr and "step 6/6" in res.stderr and "ETA" in res.stderr
    ckpt = tmp / "wave_student.safetensors"
    assert ckpt.is_file() and (tmp / "wave_student.json").is_file() and (tmp / "wave_student.state.pt").is_file()
    record = json.loads((tmp / "wave_student.json").read_text())
    assert record["arch"] == "student" and record["metadata"]["step"] == "6"
    assert record["metadata"]["teacher"] == "ml5:teacher"
    sheet = cv2.imread(str(tmp / "wave_student.samples.png"))
    assert sheet.shape == (20 + 64 * 4, 64 * 3, 3)  # a band of column labels, then input | teacher | student
    res = CliRunner().invoke(app, ["export", str(ckpt), str(tmp / "student.onnx")])
    assert res.exit_code == 0, res.output
    from realtime_style.engine import InferenceOptions, StyleEngine

    out = StyleEngine(tmp / "student.onnx", InferenceOptions(provider="cpu")).stylize(card_image(90, 130))
    assert out.shape == (90, 130, 3)


def test_same_seed_same_student_and_resume_continues_exactly(setup):
    teacher, photos, tmp = setup
    assert distill(teacher, photos, tmp / "a").exit_code == 0
    assert distill(teacher, photos, tmp / "b").exit_code == 0
    a, b = weights(tmp / "a.safetensors"), weights(tmp / "b.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # 3 steps, then resume to 6: the same weights as 6 steps in one go
    res = CliRunner().invoke(app, ["distill", "--teacher", str(teacher), "--data", str(photos), "--out",
                                   str(tmp / "c"), "--steps", "3", "--batch", "2", "--crop", "64",
                                   "--checkpoint-every", "3", "--sample-every", "0", "--threads", "2"])
    assert res.exit_code == 0, res.output
    res = distill(teacher, photos, tmp / "c", "--resume")
    assert res.exit_code == 0 and "resumed" in res.stderr, res.output
    c = weights(tmp / "c.safetensors")
    assert all(torch.allclose(a[k].float(), c[k].float(), atol=1e-5) for k in a)


def test_other_seed_other_student(setup):
    teacher, photos, tmp = setup
    assert distill(teacher, photos, tmp / "a").exit_code == 0
    assert distill(teacher, photos, tmp / "b", "--seed", "1").exit_code == 0
    a, b = weights(tmp / "a.safetensors"), weights(tmp / "b.safetensors")
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_adversarial_term_runs(setup):
    teacher, photos, tmp = setup
    res = distill(teacher, photos, tmp / "adv", "--adversarial-weight", "0.05")
    assert res.exit_code == 0, res.output
    assert "adversarial" in res.stderr and "critic" in res.stderr


@pytest.mark.parametrize("case", ["no_photos", "missing_teacher", "exists", "nan", "resume_nothing"])
def test_distill_errors_are_one_line(setup, case, model_home):
    teacher, photos, tmp = setup
    out = tmp / "s"
    extra = []
    if case == "no_photos":
        photos = tmp / "empty"
        photos.mkdir()
    elif case == "missing_teacher":
        teacher = "no_such_teacher"
    elif case == "exists":
        assert distill(teacher, photos, out).exit_code == 0
    elif case == "nan":
        extra = ["--lr", "1e30"]
    elif case == "resume_nothing":
        extra = ["--resume"]
    res = distill(teacher, photos, out, *extra)
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in res.output


def test_detail_loss_penalises_blur_and_noise_not_phase():
    import cv2
    import torch

    from realtime_style.testcard import card_image
    from realtime_style.training.losses import detail_loss

    img = card_image(96, 96, seed=3).astype(np.float32)
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()
    teacher = to_t(img)
    blurred = to_t(cv2.GaussianBlur(img, (0, 0), 2.0))
    noisy = to_t(np.clip(img + np.random.default_rng(0).normal(0, 25, img.shape), 0, 255))
    shifted = to_t(np.roll(img, 3, axis=1))  # same texture, other phase
    assert detail_loss(teacher, teacher).item() == 0.0
    assert detail_loss(blurred, teacher) > 0.3
    assert detail_loss(noisy, teacher) > 0.3
    assert detail_loss(shifted, teacher) < 0.5 * detail_loss(blurred, teacher)
    grad_in = blurred.clone().requires_grad_(True)
    detail_loss(grad_in, teacher).backward()
    assert torch.isfinite(grad_in.grad).all() and grad_in.grad.abs().sum() > 0


def test_sample_sheet_has_column_labels(tmp_path):
    from realtime_style.training.loop import SHEET_LABEL_HEIGHT, write_sample_sheet

    grey = torch.full((2, 3, 64, 96), 128.0)
    write_sample_sheet(tmp_path / "s.png", [grey, grey, grey], ["input", "teacher", "student"])
    sheet = cv2.imread(str(tmp_path / "s.png"))
    assert sheet.shape == (SHEET_LABEL_HEIGHT + 2 * 64, 3 * 96, 3)
    band = sheet[:SHEET_LABEL_HEIGHT]
    for col in range(3):  # white text over every column of the band
        assert band[:, col * 96 : (col + 1) * 96].max() > 200
    assert np.all(sheet[SHEET_LABEL_HEIGHT:] == 128)  # the pictures are untouched
