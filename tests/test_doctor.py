"""Tests for realtime_style.doctor (machine diagnostics) and the probes it collects."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest

from realtime_style import doctor, machine
from realtime_style.engine import provider_probe
from realtime_style.io import camera, codecs, display
from realtime_style.models import registry

EXPECTED_KEYS = {"versions", "providers", "gpu", "codecs", "display", "cameras", "home"}


@pytest.fixture(scope="module")
def collected() -> doctor.Report:
    return doctor.collect(probe_cameras=0, timeout_s=20.0)


@pytest.fixture(scope="module")
def report(collected) -> dict:
    return collected.to_json()


def test_collect_has_all_keys_and_is_json_serialisable(report):
    assert EXPECTED_KEYS <= set(report)
    text = json.dumps(report)
    assert json.loads(text) == report


def test_versions_section(report):
    v = report["versions"]
    for key in ("python", "realtime_style", "onnxruntime", "onnx", "numpy", "opencv", "av", "platform", "cpu_model"):
        assert key in v
        assert isinstance(v[key], str) and v[key]
    assert isinstance(v["logical_cores"], int) and v["logical_cores"] >= 1
    assert isinstance(v["usable_cores"], int) and 1 <= v["usable_cores"] <= v["logical_cores"]


def test_providers_always_list_key_providers(report):
    by_name = {p["name"]: p for p in report["providers"]}
    for name in ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"):
        assert name in by_name
        entry = by_name[name]
        assert set(entry) >= {"name", "compiled_in", "loads", "detail"}
        assert isinstance(entry["compiled_in"], bool)
        assert isinstance(entry["loads"], bool)
        assert isinstance(entry["detail"], str)
        # a provider can only load if it is compiled in
        assert not (entry["loads"] and not entry["compiled_in"])
        if entry["compiled_in"] and not entry["loads"]:
            assert entry["detail"], f"{name} did not load but no reason was given"


def test_cpu_provider_loads(report):
    cpu = next(p for p in report["providers"] if p["name"] == "CPUExecutionProvider")
    assert cpu["compiled_in"] is True
    assert cpu["loads"] is True


def test_probe_provider_cpu_directly():
    result = provider_probe.probe_provider("CPUExecutionProvider").to_json()
    assert result["name"] == "CPUExecutionProvider"
    assert result["compiled_in"] is True
    assert result["loads"] is True


def test_probe_provider_unknown_name_does_not_raise():
    result = provider_probe.probe_provider("NoSuchExecutionProvider").to_json()
    assert result["name"] == "NoSuchExecutionProvider"
    assert result["compiled_in"] is False
    assert result["loads"] is False
    assert result["detail"]


def test_probe_model_runs_on_cpu():
    import numpy as np
    import onnxruntime as ort

    model = provider_probe.build_probe_model()
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    (y,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(y, x + x)


def test_collect_without_cameras_returns_quickly():
    start = time.monotonic()
    result = doctor.collect(probe_cameras=0, timeout_s=5.0).to_json()
    elapsed = time.monotonic() - start
    cams = result["cameras"]
    assert cams["devices"] == []
    assert cams["timed_out"] is False
    # loose bound: only guards against a hang, not a performance assertion
    assert elapsed < 120


def test_camera_probe_times_out_instead_of_hanging(monkeypatch):
    def blocking(indices, found, failed, done):
        time.sleep(30)

    monkeypatch.setattr(camera, "_camera_candidates", lambda n: ([0], None))
    monkeypatch.setattr(camera, "_probe_cameras_into", blocking)
    start = time.monotonic()
    cams = camera.probe_cameras(1, timeout_s=0.2).to_json()
    assert time.monotonic() - start < 10
    assert cams["timed_out"] is True
    assert "timed out" in cams["note"]


def test_sections_report_failures_as_data(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(machine, "probe_gpus", boom)
    monkeypatch.setattr(registry, "home_status", boom)
    report = doctor.collect(probe_cameras=0, timeout_s=5.0)
    result = report.to_json()
    assert EXPECTED_KEYS <= set(result)
    assert "simulated failure" in result["gpu"]["note"]
    assert "simulated failure" in result["home"]["error"]
    json.dumps(result)
    assert all(isinstance(line, str) for line in doctor.render_text(report))


def test_codecs_section_shape(report):
    c = report["codecs"]
    for name in codecs.ENCODERS:
        assert isinstance(c["encoders"][name], bool)
    for name in codecs.DECODERS:
        assert isinstance(c["decoders"][name], bool)
    assert isinstance(c["nvenc_usable"], bool)
    if not report["gpu"]["devices"]:
        assert c["nvenc_usable"] is False
        assert c["nvenc_reason"]


def test_home_respects_env(monkeypatch, tmp_path):
    monkeypatch.setenv("REALTIME_STYLE_HOME", str(tmp_path))
    home = registry.home_status().to_json()
    assert home["path"] == str(tmp_path)
    assert home["writable"] is True
    assert list(tmp_path.iterdir()) == []  # probing leaves nothing behind


def test_render_text_yields_non_empty_strings(collected):
    lines = doctor.render_text(collected)
    assert lines
    assert all(isinstance(line, str) and line for line in lines)
    text = "\n".join(lines)
    assert "onnxruntime" in text
    assert "CPUExecutionProvider: compiled in, loads" in text


PROBES = [(machine, "probe_versions"), (provider_probe, "probe_providers"), (machine, "probe_gpus"),
          (codecs, "probe_codecs"), (display, "probe_display"), (camera, "probe_cameras"), (registry, "home_status")]


@pytest.fixture
def all_probes_fail(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    for module, name in PROBES:
        monkeypatch.setattr(module, name, boom)


def test_render_text_tolerates_empty_report(all_probes_fail):
    lines = doctor.render_text(doctor.collect(probe_cameras=0, timeout_s=5.0))
    assert lines and all(isinstance(line, str) for line in lines)


def test_a_probe_that_raises_gets_its_sections_fallback_once(all_probes_fail):
    report = doctor.collect(probe_cameras=2, timeout_s=5.0)
    why = "RuntimeError: simulated failure"
    assert report.to_json() == {
        "versions": {"error": why},
        "providers": [{"name": n, "compiled_in": False, "loads": False, "detail": why}
                      for n in ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")],
        "gpu": {"devices": [], "note": why},
        "codecs": {"encoders": {}, "decoders": {}, "nvenc_usable": False, "nvenc_reason": why, "error": why},
        "display": {"available": False, "error": why},
        "cameras": {"devices": [], "probed": [], "failed": [], "timed_out": False, "note": why},
        "home": {"path": None, "writable": False, "error": why},
    }
    assert doctor.render_text(report) == [
        "Versions", f"  error: {why}",
        "ONNX Runtime providers",
        f"  TensorrtExecutionProvider: not compiled in ({why})",
        f"  CUDAExecutionProvider: not compiled in ({why})",
        f"  CPUExecutionProvider: not compiled in ({why})",
        "GPU", f"  none ({why})",
        "Codecs (PyAV)", f"  NVENC: not usable ({why})", f"  error: {why}",
        "Display", f"  error: {why}",
        "Cameras", f"  none found ({why})",
        "Model cache", f"  error: {why}",
    ]


class _FakeCapture:
    """Camera 0 delivers a 640x480 frame at 30 fps; any other index does not open."""

    def __init__(self, index: int) -> None:
        self.index = index

    def isOpened(self) -> bool:
        return self.index == 0

    def read(self):
        import numpy as np

        return True, np.zeros((480, 640, 3), np.uint8)

    def get(self, prop):
        return 30.0

    def getBackendName(self) -> str:
        return "FAKE"

    def release(self) -> None:
        pass


def test_cameras_found_and_failed_are_reported_and_rendered(monkeypatch, collected):
    monkeypatch.setattr(camera, "_camera_candidates", lambda n: (list(range(n)), None))
    monkeypatch.setattr(camera.cv2, "VideoCapture", _FakeCapture)
    cams = camera.probe_cameras(2, timeout_s=5.0)
    assert cams.to_json() == {
        "devices": [{"index": 0, "width": 640, "height": 480, "fps": 30.0, "backend": "FAKE"}],
        "probed": [0, 1], "failed": [{"index": 1, "reason": "could not open"}], "timed_out": False, "note": None,
    }
    lines = doctor.render_text(dataclasses.replace(collected, cameras=cams))
    at = lines.index("Cameras")
    assert lines[at + 1 : at + 3] == ["  camera 0: 640x480 @ 30 fps", "  camera 1: could not open"]


def test_machine_info_names_cpu_gpu_and_versions():
    info = machine.machine_info(timeout_s=5.0)
    assert set(info) >= {"cpu", "cores", "platform", "gpu", "driver", "versions", "onnxruntime_build"}
    assert set(info["versions"]) == {"onnxruntime", "opencv", "numpy", "python", "realtime_style"}
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]
    json.dumps(info)


def test_gpu_present_is_a_cheap_bool():
    assert isinstance(machine.gpu_present(), bool)


def test_doctor_does_not_import_torch():
    code = (
        "import sys, json\n"
        "from realtime_style import doctor\n"
        "json.dumps(doctor.collect(probe_cameras=0, timeout_s=20).to_json())\n"
        "print('torch' in sys.modules)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=root
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as fake nvidia-smi")
def test_gpu_parses_nvidia_smi_output(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB'\n"
        "echo 'NVIDIA GeForce RTX 4090, 550.54.15, 24564 MiB'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    gpu = machine.probe_gpus(timeout_s=5.0).to_json()
    assert gpu["note"] is None
    assert gpu["devices"] == [
        {"name": "NVIDIA H100 80GB HBM3", "driver_version": "550.54.15", "memory_total": "81559 MiB"},
        {"name": "NVIDIA GeForce RTX 4090", "driver_version": "550.54.15", "memory_total": "24564 MiB"},
    ]


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as fake nvidia-smi")
def test_gpu_nvidia_smi_hang_is_bounded(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    gpu = machine.probe_gpus(timeout_s=0.5).to_json()
    assert time.monotonic() - start < 10
    assert gpu["devices"] == []
    assert "timed out" in gpu["note"]


def test_gpu_missing_nvidia_smi(monkeypatch):
    monkeypatch.setattr(machine.shutil, "which", lambda name: None)
    gpu = machine.probe_gpus(timeout_s=1.0).to_json()
    assert gpu["devices"] == []
    assert "nvidia-smi" in gpu["note"]


def test_nvenc_check_never_raises_even_when_gpu_claimed():
    report = codecs.probe_codecs(gpu_found=True, timeout_s=10.0).to_json()
    assert isinstance(report["nvenc_usable"], bool)
    if not report["nvenc_usable"]:
        assert report["nvenc_reason"]
