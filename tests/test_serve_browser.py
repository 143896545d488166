"""The studio in a real browser: headless Chromium (the system's, driven by Playwright) with a
fake camera playing a .y4m made here from a generated picture opens the page, presses Start,
and draws stylized frames: ``window.studio.stats()`` counts them, and the pixels on #output are
the model's output for the camera's picture, not the picture itself. Skips, saying why, where
there is no Chromium or no Playwright (.ci/run installs Chromium)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import browser  # noqa: E402
from conftest import make_style_model  # noqa: E402
from serve_helpers import running_server  # noqa: E402

from realtime_style.engine import StyleEngine  # noqa: E402
from realtime_style.io.live_sources import SyntheticSource  # noqa: E402

EXECUTABLE, WHY = browser.chromium()
pytestmark = pytest.mark.skipif(EXECUTABLE is None, reason=WHY or "no Chromium")


def test_the_page_streams_the_camera_and_draws_the_models_frames(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("REALTIME_STYLE_HOME", str(tmp_path / "home"))
    style = tmp_path / "tiny.onnx"
    style.write_bytes(make_style_model())
    scene = SyntheticSource((640, 360)).render(0)  # a still scene: every camera frame is this picture
    camera = browser.write_y4m(tmp_path / "camera.y4m", [scene] * 6)
    expected = StyleEngine(style).stylize(scene)
    with running_server(style) as server, sync_playwright() as pw:
        chrome = browser.launch(pw, EXECUTABLE, camera)
        try:
            page = browser.open_studio(chrome, server.url + "/")
            page.wait_for_function("window.studio.stats().frames_shown >= 15", timeout=60_000)
            stats = browser.stats(page)
            assert stats["fps"] > 0 and stats["latency_ms"]["p50"] > 0 and stats["latency_ms"]["p95"] > 0
            assert "fps" in page.inner_text("#stats")
            shown = browser.output_pixels(page)
            assert shown.shape == scene.shape
            to_model = np.abs(shown.astype(int) - expected).mean()
            to_camera = np.abs(shown.astype(int) - scene).mean()
            # The camera path (4:2:0, two JPEGs) costs a few levels; the model moves every pixel much more.
            assert to_model < 8 and to_camera > 2 * to_model + 8, (to_model, to_camera)
            sessions = server.json("/api/stats")["sessions"]
            assert len(sessions) == 1 and sessions[0]["frames_out"] >= 15 and sessions[0]["size"] == "640x360"
            page.click("#start")  # Stop
            assert server.wait_sessions(0) == []
            if os.environ.get("STUDIO_SCREENSHOT"):  # the README's picture (benchmarks/studio_load.py makes it)
                page.screenshot(path=os.environ["STUDIO_SCREENSHOT"])
        finally:
            chrome.close()
