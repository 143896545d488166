"""`batch --engine ray --address HOST:PORT`: joining a Ray cluster started with ``ray start --head``
on loopback (a port outside Ray's worker-port range 10002-19999), from a driver in its own process,
as a user would. The cluster is stopped at the end whatever happens."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from test_batch import assert_like_convert
from test_batch import work as work  # the same module-scoped clips and reference

pytest.importorskip("ray", reason="Ray is not installed (pip install 'realtime-style[ray]')")

PORT = 6391
TOKEN = secrets.token_hex(32)
RAY = Path(sys.executable).with_name("ray")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not RAY.exists():
        pytest.skip(f"the ray command is not beside {sys.executable}")
    # Ray's token authentication, with a token of this test's own (nothing written to ~/.ray)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN,
           # one machine: Ray keeps 127.0.0.1 as it is (else it binds and dials the machine's other address)
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    start = [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(PORT), "--num-cpus", "2",
             "--include-dashboard", "false", "--disable-usage-stats"]
    try:
        proc = subprocess.run(start, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        yield f"127.0.0.1:{PORT}", env
    finally:
        subprocess.run([str(RAY), "stop", "--grace-period", "3"], capture_output=True, timeout=120, env=env)


def test_batch_joins_a_running_cluster(work, tmp_path, cluster):
    root, model, reference = work
    address, env = cluster
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "realtime_style", "batch", str(root / "long.mp4"), "-o", str(out), "--style",
           str(model), "--engine", "ray", "--address", address, "--smooth", "0", "--segment-seconds", "0.5",
           "--provider", "cpu", "--crf", "12", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["workers"] == 2 and summary["inputs"][0]["state"] == "done"
    assert_like_convert(out / "long.mp4", reference)


def test_an_unreachable_address_is_one_error_line(work, tmp_path):
    root, model, _ = work
    cmd = [sys.executable, "-m", "realtime_style", "batch", str(root / "short.mp4"), "-o", str(tmp_path / "o"),
           "--style", str(model), "--engine", "ray", "--address", "127.0.0.1:6399"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines[-1].startswith("error: ") and "127.0.0.1:6399" in lines[-1], proc.stderr[-3000:]
