"""Every script in benchmarks/ and benchmarks/builders/ runs: each one, found by glob (a new
script cannot be left out), as ``python SCRIPT --smoke DIR`` in a subprocess. That is a quick
run on tiny generated inputs (real ONNX Runtime sessions on a generated model, real PyAV
clips), nothing read from ../shared, everything written under DIR; the repository is left as
it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import realtime_style

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
# modules the scripts import, not scripts
HELPERS = {BENCHMARKS / "harness.py", BENCHMARKS / "scenes.py", BENCHMARKS / "browser.py",
           BENCHMARKS / "builders" / "smoke.py"}
SCRIPTS = sorted(p for p in [*BENCHMARKS.glob("*.py"), *(BENCHMARKS / "builders").glob("*.py")] if p not in HELPERS)


SKIP_DIRS = {".git", ".venv", ".venv-demo", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _repo_files() -> dict[str, tuple[int, int]]:
    """Every file in the checkout (ignored ones included) with its mtime and size: what a stray
    write would change. Snapshotted around each run, so edits elsewhere do not count."""
    files = {}
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in names:
            path = os.path.join(folder, name)
            st = os.stat(path)
            files[os.path.relpath(path, ROOT)] = (st.st_mtime_ns, st.st_size)
    return files


def test_the_scripts_are_found():
    names = {p.name for p in SCRIPTS}
    assert {"model_fps.py", "convert_throughput.py", "smoothing_cost.py", "contact_sheet.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(BENCHMARKS)))
def test_script_runs_in_smoke_mode(script, tmp_path):
    out = tmp_path / "out"
    before = _repo_files()
    env = {**os.environ, "REALTIME_STYLE_HOME": str(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1",
           # the scripts import the package this test imports
           "PYTHONPATH": os.pathsep.join([str(Path(realtime_style.__file__).parents[1]),
                                          *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, str(script), "--smoke", str(out)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.strip(), "a script reports its result"
    made = [p for p in out.rglob("*") if p.is_file() and "inputs" not in p.relative_to(out).parts]
    assert made, f"nothing written under {out}"
    if script.parent == BENCHMARKS:  # the measurements: one JSON result
        assert isinstance(json.loads((out / "result.json").read_text()), dict)
    if script.name == "gpu_proof.py":  # its dry run: every step with figures or a recorded reason
        from test_gpu_proof import check_report

        check_report(json.loads((out / "result.json").read_text()))
    after = _repo_files()
    touched = sorted(k for k in after if before.get(k) != after[k])
    assert not touched, f"a smoke run wrote into the repository: {touched[:5]}"
