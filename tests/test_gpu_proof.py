"""benchmarks/gpu_proof.py: its dry run's report (checked on the smoke run of
tests/test_benchmark_scripts.py, through ``check_report``), its deadline and failure
bookkeeping, and the teacher-size network it generates without torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import gpu_proof  # noqa: E402 - benchmarks/ on the path first


def check_report(report: dict) -> None:
    """Every step has figures or a recorded reason; gates and goals are there."""
    assert report["schema"] == gpu_proof.SCHEMA and report["finished"] is True
    sections = report["sections"]
    assert list(sections) == list(gpu_proof.STEPS)
    for name, section in sections.items():
        status = section["status"]
        assert status in ("ok", "partial", "failed", "skipped"), (name, status)
        if status in ("failed", "partial"):
            assert section["errors"] and all(e["what"] and e["error"] for e in section["errors"]), name
        if status == "skipped":
            assert section["reason"], name
    if report["mode"] == "dry-run":  # on this machine every step but TensorRT's gives figures
        assert all(sections[s]["status"] == "ok" for s in gpu_proof.STEPS if "tensorrt" not in s), sections
        assert sections["environment"]["machine"]["cores"] and sections["networks"]["teacher"]["parameters"] > 1e6
        for mode in ("model", "pipeline"):
            rows = [r for r in report["bench_results"] if r["mode"] == mode and not r.get("error")]
            assert {r["network"] for r in rows} == {"builtin", "teacher"}
            assert all(r["fps"] > 0 and r["latency_ms"]["p50"] > 0 for r in rows)
        assert {r["per_size_enabled"] for r in report["bench_results"] if "per_size_enabled" in r} == {True, False}
        trt = [r for r in report["bench_results"] if r["provider_requested"] == "tensorrt"]
        assert trt and all(r.get("error") or r["fps"] > 0 for r in trt)
        converts = [r for r in sections["convert"]["runs"] if r["smooth"] == 0]
        assert converts and all(r["fps_wall"] > 0 and r["model_only"]["fps"] > 0 for r in converts)
        assert all(r["status"] == "ok" and r["fps"] > 0 for r in sections["live"]["runs"])
        assert all(r["status"] == "ok" and r["fps"] > 0 for r in sections["torch_loop"]["loops"])
        assert sections["torch_loop"]["onnx_vs_torch_db"] == "identical" or \
            sections["torch_loop"]["onnx_vs_torch_db"] > 50
    assert report["gates"]
    goals = report["goals"]
    assert set(goals) == set(gpu_proof.GOALS)
    for name in ("teacher_1080p_fp16_model_fps", "builtin_1080p_model_fps", "convert_over_torch_loop"):
        assert goals[name].get("reason") or goals[name]["ratio_to_goal"] is not None, name


def _proof(tmp_path, deadline: float) -> gpu_proof.Proof:
    return gpu_proof.Proof(tmp_path / "out", gpu_proof.Plan(dry=False), deadline, started=0.0, extra_json=None)


def test_a_step_without_the_time_it_needs_is_skipped_with_its_reason(tmp_path):
    proof = _proof(tmp_path, deadline=0.0)  # started at the epoch: long past its deadline
    ran = []
    proof.step("bench_tensorrt", ran.append)
    section = proof.report["sections"]["bench_tensorrt"]
    assert not ran and section["status"] == "skipped" and "deadline" in section["reason"]
    assert json.loads((tmp_path / "out" / "gpu_proof.json").read_text())["sections"]["bench_tensorrt"] == section


def test_a_failing_step_is_recorded_in_one_line_and_the_run_goes_on(tmp_path):
    proof = _proof(tmp_path, deadline=1e12)

    def broken(section):
        raise RuntimeError("CUDA failure 999: unknown error\n  at frame 3\n  ...")

    proof.step("live", broken)
    proof.step("environment", lambda s: s.update(ran=True, figure=1))
    live, env = proof.report["sections"]["live"], proof.report["sections"]["environment"]
    assert live["status"] == "failed" and live["errors"] == [
        {"what": "live", "error": "RuntimeError: CUDA failure 999: unknown error"}]
    assert env["status"] == "ok" and env["figure"] == 1
    assert "FAILED live" in (tmp_path / "out" / "gpu_proof.log").read_text()


def test_steady_fps_leaves_the_first_frames_out():
    stamps = [0.0, 5.0] + [5.0 + 0.01 * i for i in range(1, 39)]  # a slow first frame, then 100 fps
    assert gpu_proof.steady_fps(stamps) == pytest.approx(100.0)
    assert gpu_proof.steady_fps([1.0]) is None


def test_the_generated_teacher_is_the_pytorch_examples_network():
    torch = pytest.importorskip("torch")
    from realtime_style.engine.session import cpu_session, run
    from realtime_style.metrics import psnr
    from realtime_style.models.synthetic import johnson_state, make_johnson_model
    from realtime_style.testcard import card_image
    from realtime_style_export.networks import build

    state = johnson_state(channels=(8, 16, 32), res_blocks=2, seed=3)
    net = build("johnson", channels=(8, 16, 32), res_blocks=2)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})  # every key, every shape
    img = card_image(40, 56)
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(img).permute(2, 0, 1)[None].float()).clamp(0, 255).round().byte()
    got = run(cpu_session(make_johnson_model(state)), img[None])[0]
    assert psnr(got, want[0].permute(1, 2, 0).numpy()) > 50
    assert 40 < got.mean() < 215 and got.std() > 10  # not clipped flat
    full = johnson_state()
    assert sum(v.size for v in full.values()) == sum(p.numel() for p in build("johnson").parameters())
    assert np.array_equal(johnson_state()["conv1.conv2d.weight"], full["conv1.conv2d.weight"])  # seeded
