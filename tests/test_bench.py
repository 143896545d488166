"""`bench` and `bench-compare`: real ONNX Runtime sessions on a small generated model; a GPU
provider that cannot load is reported, not skipped."""

from __future__ import annotations

import json

import cv2
import pytest
from typer.testing import CliRunner

from realtime_style.cli import app

runner = CliRunner()


@pytest.fixture
def bench_json(tmp_path, tiny_model, model_home):
    out = tmp_path / "cpu.json"
    r = runner.invoke(app, ["bench", "--style", str(tiny_model), "--sizes", "64x48,33x17", "--providers",
                            "cpu,cuda", "--precisions", "fp32", "--frames", "10", "--warmup", "2", "--json", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_bench_json_per_contract(bench_json):
    data = json.loads(bench_json.read_text())
    assert data["schema_version"] == 1
    for key in ("cpu", "gpu", "driver", "versions"):
        assert key in data["machine"]
    for key in ("onnxruntime", "opencv", "numpy", "python"):
        assert data["machine"]["versions"][key]
    results = data["results"]
    assert len(results) == 2 * 2 * 2  # sizes x providers x modes
    ran = [r for r in results if r["provider_requested"] == "cpu"]
    assert {(r["size"], r["mode"]) for r in ran} == {("64x48", "model"), ("64x48", "pipeline"),
                                                     ("33x17", "model"), ("33x17", "pipeline")}
    for r in ran:
        for key in ("style", "arch", "size", "provider_requested", "providers_active", "precision", "mode",
                    "frames", "fps", "latency_ms"):
            assert key in r, key
        assert r["providers_active"] == ["CPUExecutionProvider"] and r["fps"] > 0 and r["frames"] >= 10
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["p99"]
        assert r["style"] == "tiny"
    pipe = next(r for r in ran if r["mode"] == "pipeline")
    assert set(pipe["stages_ms_per_frame"]) == {"source", "engine", "smooth", "sink"}
    cuda = [r for r in results if r["provider_requested"] == "cuda"]
    assert all(r.get("error") or r["providers_active"][0] == "CUDAExecutionProvider" for r in cuda)


def test_bench_reports_impossible_combinations(tmp_path, tiny_model, model_home):
    r = runner.invoke(app, ["bench", "--style", str(tiny_model), "--sizes", "32x32", "--precisions", "fp16",
                            "--mode", "model", "--frames", "3", "--json", str(tmp_path / "x.json")])
    assert r.exit_code == 0
    (res,) = json.loads((tmp_path / "x.json").read_text())["results"]
    assert "fp16 runs only on a GPU provider" in res["error"]
    r = runner.invoke(app, ["bench", "--style", str(tiny_model), "--sizes", "64by48"])
    assert r.exit_code == 2


def test_bench_compare_table_and_chart(tmp_path, bench_json):
    other = tmp_path / "other.json"
    data = json.loads(bench_json.read_text())
    data["machine"]["gpu"] = ["NVIDIA Imaginary"]
    for r in data["results"]:
        if not r.get("error"):
            r["fps"] *= 10
    other.write_text(json.dumps(data))
    r = runner.invoke(app, ["bench-compare", str(bench_json), str(other), "--markdown",
                            "--plot", str(tmp_path / "chart.png")])
    assert r.exit_code == 0, r.output
    assert "| machine |" in r.stdout and "NVIDIA Imaginary" in r.stdout and "did not load" in r.stdout
    img = cv2.imread(str(tmp_path / "chart.png"))
    assert img is not None and img.shape[0] > 200


def test_bench_compare_rejects_other_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    r = runner.invoke(app, ["bench-compare", str(bad)])
    assert r.exit_code == 1 and "not a `realtime-style bench --json` file" in r.output


def test_bench_can_run_without_per_size_sessions(tmp_path, tiny_model, model_home):
    out = tmp_path / "off.json"
    r = runner.invoke(app, ["bench", "--style", str(tiny_model), "--sizes", "32x32", "--mode", "model",
                            "--frames", "2", "--warmup", "0", "--no-per-size", "--json", str(out)])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(out.read_text())["results"]
    assert res["per_size_enabled"] is False and res["per_size_session"] is False and res["gates_db"] == {}


def test_bench_says_what_each_mode_measures_and_records_the_load(tmp_path, tiny_model, model_home):
    out = tmp_path / "b.json"
    r = runner.invoke(app, ["bench", "--style", str(tiny_model), "--sizes", "32x32", "--frames", "4",
                            "--warmup", "1", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "model: the network alone" in r.stderr and "not `live`'s camera-to-screen latency" in r.stderr
    data = json.loads(out.read_text())
    assert set(data["modes"]) == {"model", "pipeline"}
    load = data["load_average"]
    assert len(load["before"]) == 3 and len(load["after"]) == 3 and "warning" in load
    if load["before"][0] >= 0.5:
        assert load["warning"] is not None
    if load["warning"]:
        assert "warning: this machine was busy" in r.stderr


def test_busy_machine_warning_and_automatic_threads():
    from realtime_style.engine.engine import auto_threads
    from realtime_style.jobs.bench import busy_warning

    assert busy_warning([0.2, 0.3, 0.3], 2) is None
    assert "load average 1.3 on 2 cores" in busy_warning([1.3, 1.0, 0.8], 2)
    assert "1 busy now" in busy_warning([0.1, 0.1, 0.1], 2, busy_now=1.0)
    assert busy_warning([0.1, 0.1, 0.1], 2, busy_now=0.0) is None
    assert auto_threads(2, busy=0.2) == 0  # idle: ONNX Runtime's default, every core
    assert auto_threads(2, busy=1.0) == 1  # one core taken: one thread (1.5x the default, RESULTS.md)
    assert auto_threads(2, busy=7.0) == 1  # never fewer than one
    assert auto_threads(8, busy=2.2) == 6


def test_automatic_threads_see_a_core_taken_now():
    import subprocess
    import sys
    import time

    from realtime_style.engine.engine import busy_cores

    if not __import__("os").path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg here")
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert busy_cores(samples=5) >= 1  # seen at once, not a minute later as the load average would
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
