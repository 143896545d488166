"""`realtime-style batch --engine ray` on a real local Ray instance pinned to loopback (started
once for this module), with the clips and the reference `convert` of tests/test_batch.py.

Checked: a segmented file comes out exactly as a single `convert` (frames, timestamps, audio
packets, pictures >= 40 dB); an actor killed with ``ray.kill`` mid-unit costs a retry, not a
frame. tests/test_batch_ray_cluster.py joins a cluster started with ``ray start``.
"""

from __future__ import annotations

import json
import os
import secrets

import pytest
from test_batch import FRAMES, assert_like_convert, invoke, ok, run_job  # noqa: F401  (the module fixture too)
from test_batch import work as work  # the same module-scoped clips and reference

# one machine: Ray keeps 127.0.0.1 as it is (else it binds and dials the machine's other address)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))  # Ray's token auth, without a file in ~/.ray
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'realtime-style[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_batch_is_exactly_a_convert(work, tmp_path, local_ray):
    root, model, reference = work
    out = tmp_path / "out"
    result = invoke("batch", root / "long.mp4", root / "short.mp4", "-o", out, "--style", model, "--engine", "ray",
                    "--smooth", "0", "--segment-seconds", "0.5", "--json", "--provider", "cpu", "--crf", "12")
    ok(result)
    summary = json.loads(result.stdout)
    assert summary["engine"] == "ray" and summary["workers"] == 2  # one actor per CPU slot
    long, short = summary["inputs"]
    assert long["state"] == short["state"] == "done"
    assert long["segments"] == 4 and set(long["worker"]) <= {"ray-0", "ray-1"}
    assert_like_convert(out / "long.mp4", reference)
    assert sorted(p.name for p in out.iterdir()) == ["batch.json", "long.mp4", "short.mp4"]
    assert ray.is_initialized()  # a Ray the caller started is left running


def test_a_killed_actor_costs_a_retry_not_a_frame(work, tmp_path, local_ray):
    root, model, reference = work
    from realtime_style.jobs import batch as job

    killed = []

    def kill_first(event) -> None:
        if not killed:
            namespace, name = event.ref.split("/")
            killed.append(name)
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)

    from realtime_style.batch.worker import WorkerSpec
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec

    spec = WorkerSpec(EngineSpec(str(model), InferenceOptions(provider="cpu")), crf=12, smooth=0.0)
    result = job.run(job.BatchOptions((str(root / "long.mp4"),), str(tmp_path / "out"), spec, engine="ray",
                                      segment_seconds=0.5), on_unit=kill_first)
    item = result.inputs[0]
    assert item.state == "done", item.error
    assert item.retries == 1
    assert "ray-2" in item.worker  # the replacement actor
    assert_like_convert(tmp_path / "out" / "long.mp4", reference)
