"""`train` end to end on a random VGG16 in torchvision's format and generated photos: a few
real steps with every term, resume, DDP with two CPU processes, export, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT, write_photos
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.testcard import card_image


@pytest.fixture
def setup(tmp_path, vgg_weights):
    photos = write_photos(tmp_path / "photos")
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), card_image(60, 90, seed=7)[..., ::-1])
    return photos, style, vgg_weights, tmp_path


def train_args(photos, style, vgg, out, *extra):
    return ["train", "--style-image", str(style), "--data", str(photos), "--out", str(out), "--vgg-weights",
            str(vgg), "--arch", "student", "--size", "32", "--steps", "4", "--batch", "2", "--checkpoint-every",
            "2", "--sample-every", "2", "--log-every", "1", "--threads", "2", *extra]


def train(*args):
    return CliRunner().invoke(app, train_args(*args))


def weights(path):
    from realtime_style_export.checkpoints import load_checkpoint

    return load_checkpoint(path).module.state_dict()


def test_train_all_terms_then_export_and_run(setup, model_home):
    photos, style, vgg, tmp = setup
    res = train(photos, style, vgg, tmp / "mine", "--temporal-weight", "1e5", "--adversarial-weight", "1e4")
    assert res.exit_code == 0, res.output
    err = res.stderr
    assert "skipped 1 unreadable" in err and "step 4/4" in err and "ETA" in err
    for term in ("content", "style", "tv", "stability", "critic", "adversarial"):
        assert f" {term} " in err, term
    record = json.loads((tmp / "mine.json").read_text())
    assert record["arch"] == "student" and record["metadata"]["step"] == "4"
    assert json.loads(record["metadata"]["train"])["style_weight"] == 1e10
    assert (tmp / "mine.state.pt").is_file()
    sheet = cv2.imread(str(tmp / "mine.samples.png"))
    assert sheet.shape == (20 + 32 * 4, 32 * 2, 3)  # the labels, then four photos: input | output
    res = CliRunner().invoke(app, ["export", str(tmp / "mine.safetensors"), str(tmp / "mine.onnx")])
    assert res.exit_code == 0, res.output
    from realtime_style.engine import InferenceOptions, StyleEngine

    out = StyleEngine(tmp / "mine.onnx", InferenceOptions(provider="cpu")).stylize(card_image(50, 70))
    assert out.shape == (50, 70, 3) and out.dtype == np.uint8


def test_seeded_run_is_deterministic_and_resume_continues_exactly(setup):
    photos, style, vgg, tmp = setup
    extra = ("--temporal-weight", "1e5", "--adversarial-weight", "1e4", "--steps", "2", "--checkpoint-every", "1")
    assert train(photos, style, vgg, tmp / "a", *extra).exit_code == 0
    # 1 step, then resume to 2: the same weights as 2 steps in one go
    assert train(photos, style, vgg, tmp / "b", *extra[:-4], "--steps", "1").exit_code == 0
    res = train(photos, style, vgg, tmp / "b", *extra, "--resume")
    assert res.exit_code == 0 and "resumed" in res.stderr, res.output
    a, b = weights(tmp / "a.safetensors"), weights(tmp / "b.safetensors")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    res = train(photos, style, vgg, tmp / "c", *extra, "--seed", "1")
    c = weights(tmp / "c.safetensors")
    assert res.exit_code == 0 and not all(torch.equal(a[k], c[k]) for k in a)


def test_ddp_two_cpu_processes(setup):
    photos, style, vgg, tmp = setup
    out = tmp / "ddp"
    args = train_args(photos, style, vgg, out, "--temporal-weight", "1e5", "--adversarial-weight", "1e4")
    args[args.index("--steps") + 1] = "3"
    args[args.index("--threads") + 1] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "realtime_style", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    err = res.stderr
    assert "2 processes (gloo, cpu)" in err and "step 3/3" in err
    assert err.count("step 3/3") == 1 and err.count("wrote ") == 1  # rank 0 alone reports
    # both ranks ended with the same weights (checked across processes), and they are the checkpoint's
    from realtime_style.training.device import weights_digest
    from realtime_style_export.checkpoints import load_checkpoint

    line = next(x for x in err.splitlines() if "weights identical on all 2 processes" in x)
    assert weights_digest(load_checkpoint(out.with_suffix(".safetensors")).module)[:16] in line
    assert json.loads(out.with_suffix(".json").read_text())["metadata"]["step"] == "3"


def test_ctrl_c_saves_a_checkpoint_then_exits_130(setup):
    photos, style, vgg, tmp = setup
    args = train_args(photos, style, vgg, tmp / "int")
    args[args.index("--steps") + 1] = "100000"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "realtime_style", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # wait for a finished step
        lines.append(line)
        if line.startswith("step 1/") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err and "Traceback" not in err
    step = int(json.loads((tmp / "int.json").read_text())["metadata"]["step"])
    assert 1 <= step < 100000 and (tmp / "int.state.pt").is_file()


@pytest.mark.parametrize("case", ["empty_data", "unreadable_data", "style_not_image", "vgg_missing",
                                  "vgg_wrong_format", "exists", "resume_nothing", "size_multiple"])
def test_train_errors_are_one_line(setup, case, tmp_path):
    photos, style, vgg, tmp = setup
    out, extra = tmp / "s", []
    if case == "empty_data":
        photos = tmp / "empty"
        photos.mkdir()
    elif case == "unreadable_data":
        photos = write_photos(tmp / "bad", count=0, broken=3)
    elif case == "style_not_image":
        style = tmp / "style.jpg"
        style.write_text("this is not a picture")
    elif case == "vgg_missing":
        vgg = tmp / "no_such_vgg.pth"
    elif case == "vgg_wrong_format":
        vgg = tmp / "wrong.pth"
        torch.save({"features.0.weight": torch.zeros(3, 3)}, vgg)
    elif case == "exists":
        (tmp / "s.safetensors").write_bytes(b"x")
    elif case == "resume_nothing":
        extra = ["--resume"]
    elif case == "size_multiple":
        extra = ["--size", "36"]
    res = train(photos, style, vgg, out, *extra)
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    if case == "unreadable_data":
        assert "3 files could not be read" in lines[0]
    if case.startswith("vgg"):
        assert "--vgg-weights" in lines[0]
    if case == "style_not_image":
        assert "style.jpg" in lines[0]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(setup):
    photos, style, vgg, tmp = setup
    res = train(photos, style, vgg, tmp / "nan", "--lr", "1e30", "--checkpoint-every", "1", "--steps", "3")
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "the loss became" in lines[0] and "last good checkpoint" in lines[0]
    kept = json.loads((tmp / "nan.json").read_text())["metadata"]["step"]
    assert f"at step {int(kept) + 1};" in lines[0]  # the checkpoint of the step before the bad one


def test_compute_settings_follow_the_device():
    from realtime_style.errors import ModelError
    from realtime_style.training.device import compute_settings

    cpu = compute_settings("cpu")
    assert (cpu.autocast_dtype, cpu.grad_scaler, cpu.channels_last) == (None, False, False)
    assert compute_settings("cpu", "fp32") == cpu
    with pytest.raises(ModelError, match="CUDA"):
        compute_settings("cpu", "bf16")
    bf16 = compute_settings("cuda", "auto", bf16_supported=True)
    assert (bf16.autocast_dtype, bf16.grad_scaler, bf16.channels_last) == (torch.bfloat16, False, True)
    fp16 = compute_settings("cuda", "auto", bf16_supported=False)
    assert (fp16.autocast_dtype, fp16.grad_scaler, fp16.channels_last) == (torch.float16, True, True)
    assert compute_settings("cuda", "fp32").autocast_dtype is None
    with pytest.raises(ModelError, match="bfloat16"):
        compute_settings("cuda", "bf16", bf16_supported=False)


def test_photos_are_sharded_over_processes(tmp_path):
    from realtime_style.training.data import PhotoCrops

    photos = write_photos(tmp_path / "p", count=5, broken=1)
    shards = [PhotoCrops(photos, crop=32, shard=(r, 2)) for r in range(2)]
    assert [len(s) for s in shards] == [3, 2] and all(s.total == 5 and s.skipped == 1 for s in shards)
    flat = {s.tobytes() for shard in shards for s in shard.images}
    assert flat == {s.tobytes() for s in PhotoCrops(photos, crop=32).images}
    few = [PhotoCrops(photos, crop=32, shard=(r, 8)) for r in range(8)]
    assert all(len(s) == 5 for s in few)  # fewer photos than processes: each keeps all
