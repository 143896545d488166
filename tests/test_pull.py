"""`models pull` against a mirror directory (the shared teachers) and failure cases."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from realtime_style.cli import app


def pull(*args):
    return CliRunner().invoke(app, ["models", "pull", *args])


def test_pull_from_a_mirror_directory_verifies_converts_and_registers(shared_data, model_home, monkeypatch):
    monkeypatch.setenv("REALTIME_STYLE_MIRROR", str(shared_data / "teachers"))
    res = pull("wave")
    assert res.exit_code == 0, res.output
    assert (model_home / "teachers" / "ml5" / "wave" / "manifest.json").is_file()
    assert "as style 'wave-teacher'" in res.stderr  # the built-in student keeps the name 'wave'
    info = CliRunner().invoke(app, ["models", "info", "wave-teacher", "--json"])
    assert '"source": "ml5:wave"' in info.stdout and "public domain" in info.stdout
    # a damaged mirror file is caught by its pinned sha256 and nothing is kept
    mirror = model_home.parent / "mirror"
    shutil.copytree(shared_data / "teachers" / "ml5" / "udnie", mirror / "ml5" / "udnie")
    (mirror / "ml5" / "udnie" / "Variable_7").write_bytes(b"\x00" * 16)
    monkeypatch.setenv("REALTIME_STYLE_MIRROR", str(mirror))
    res = pull("udnie")
    assert res.exit_code == 1 and res.stderr.startswith("error: udnie/Variable_7 has sha256")
    assert not (model_home / "teachers" / "ml5" / "udnie").exists()
    assert [p.name for p in (model_home / "teachers" / "ml5").iterdir()] == ["wave"]


@pytest.mark.parametrize("case", ["unknown", "offline", "empty_mirror"])
def test_pull_errors(case, model_home, monkeypatch, tmp_path):
    if case == "offline":  # a URL nothing answers on (loopback, closed port)
        monkeypatch.setenv("REALTIME_STYLE_MIRROR", "http://127.0.0.1:9")
    elif case == "empty_mirror":
        monkeypatch.setenv("REALTIME_STYLE_MIRROR", str(tmp_path / "nothing"))
    res = pull("nope" if case == "unknown" else "scream")
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error:")
    assert {"unknown": "knows", "offline": "REALTIME_STYLE_MIRROR", "empty_mirror": "mirror"}[case] in res.stderr
    assert not (model_home / "models").exists() or not list((model_home / "models").iterdir())
