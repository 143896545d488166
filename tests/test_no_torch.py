"""The runtime never imports torch: a user with only the runtime can stylize."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

BLOCK_TORCH = """
import importlib.abc, sys
class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch' (blocked by the test)")
sys.meta_path.insert(0, _NoTorch())
"""


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_runtime_modules_do_not_import_torch():
    result = run_python("""
        import sys, pkgutil, importlib, realtime_style
        for mod in pkgutil.walk_packages(realtime_style.__path__, "realtime_style."):
            if ".training" not in mod.name and not mod.name.endswith("__main__"):
                importlib.import_module(mod.name)
        assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))[:5]
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_image_command_works_without_torch_installed(tmp_path):
    from conftest import make_style_model

    (tmp_path / "m.onnx").write_bytes(make_style_model())
    code = BLOCK_TORCH + """
import sys, cv2, numpy as np
from typer.testing import CliRunner
from realtime_style.cli import app
d = sys.argv[1]
cv2.imwrite(d + "/in.png", np.full((30, 41, 3), 90, np.uint8))
r = CliRunner().invoke(app, ["image", d + "/in.png", "-o", d + "/out.png", "--style", d + "/m.onnx"])
assert r.exit_code == 0, r.output
assert cv2.imread(d + "/out.png").shape == (30, 41, 3)
r = CliRunner().invoke(app, ["models", "import", d + "/m.onnx", "--name", "tiny"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(app, ["models", "list", "--json"])
assert '"tiny"' in r.output, r.output
assert "torch" not in sys.modules
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**_env(), "REALTIME_STYLE_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stdout + result.stderr


def test_torch_commands_say_to_install_the_train_extra(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"whatever")
    cmd = [sys.executable, "-c", BLOCK_TORCH + "from realtime_style.cli import main; main()"]
    for args in (["models", "import", str(tmp_path / "x.pth"), "--name", "x"],
                 ["export", str(tmp_path / "x.pth"), str(tmp_path / "x.onnx")],
                 ["train", "--style-image", str(tmp_path / "x.pth"), "--data", str(tmp_path), "--out",
                  str(tmp_path / "x.onnx")],
                 ["optimize", str(tmp_path / "x.pth"), str(tmp_path / "x.pth"), "-o", str(tmp_path / "x.onnx")]):
        result = subprocess.run(cmd + args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env={**_env(), "REALTIME_STYLE_HOME": str(tmp_path / "home")})
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip().startswith("error:") and "train" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "x.onnx").exists()


def _env():
    import os

    return dict(os.environ)


def test_make_demo_installs_the_runtime_only_and_make_test_everything():
    import shutil

    import pytest

    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def installs(target: str) -> list[str]:
        out = subprocess.run(["make", "-n", "-B", target, "VENV=/nonexistent/v", "DEMO_VENV=/nonexistent/d"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
        return [line for line in out.splitlines() if "pip install" in line and "--upgrade pip" not in line]

    demo = installs("demo")
    assert demo and all("/nonexistent/d/" in line for line in demo), demo
    assert not any("torch" in line or "train" in line for line in demo), demo  # 1.8 GB it does not need
    assert any("scikit-image" in line for line in demo), demo  # the contact sheet's photos
    assert any(".[train,dev" in line for line in installs("test"))  # (and the optional extras tests use: serve, ray)


def test_demo_contact_sheet_builder_uses_no_shared_files():
    text = (ROOT / "benchmarks" / "builders" / "demo_sheet.py").read_text()
    assert "skimage.data" in text and "shared" not in text.replace("../shared", "")
