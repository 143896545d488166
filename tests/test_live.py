"""`live`: the latest-only pipeline, camera (fake device), replayed and synthetic sources,
window (fake toolkit, and the real one under Xvfb), virtual camera (fake device),
recording, stats, faults. Real ONNX Runtime sessions and real threads throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import make_style_model
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.errors import InputError, OutputError
from realtime_style.io.camera import CameraSource
from realtime_style.io.frames import Frame, FrameSettings
from realtime_style.io.live_sources import ReplaySource, SyntheticSource
from realtime_style.jobs.live import Hardware, LiveConfig, run_live
from realtime_style.live.controls import LiveControls
from realtime_style.live.outputs import VirtualCamera, letterbox
from realtime_style.live.stats import LatencyHistogram
from realtime_style.live.styles import StyleSwitcher
from realtime_style.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def engine_for(path: Path) -> StyleEngine:
    return StyleEngine(path, InferenceOptions(provider="cpu", workers=1, threads=1))


def switcher_of(paths: dict[str, Path | None]) -> StyleSwitcher:
    def factory(name):
        if paths[name] is None:
            raise InputError(f"{name} is broken")
        return engine_for(paths[name])

    names = list(paths)
    return StyleSwitcher(names, names[0], factory)


# -- pipeline in live mode ----------------------------------------------------------------------
class BurstSource:
    def __init__(self, n, h=8, w=8):
        self.n, self.h, self.w = n, h, w

    def frames(self):
        for i in range(self.n):
            yield Frame(i, np.full((self.h, self.w, 3), i % 256, np.uint8))

    def close(self):
        pass


class ListSink:
    def __init__(self):
        self.frames = []
        self.finished = False

    def write(self, frame):
        self.frames.append(frame.index)

    def finish(self, trailing):
        self.finished = True

    def abort(self):
        pass


def test_latest_only_drops_old_frames_and_keeps_order():
    def slow(frame):
        time.sleep(0.01)
        return frame

    sink = ListSink()
    stats = Pipeline(BurstSource(300), [("engine", slow)], sink, latest_only=True).run()
    assert sink.finished
    assert stats.frames_in == 300
    assert stats.frames_dropped > 100  # the source is much faster than the stage
    assert len(sink.frames) + stats.frames_dropped == 300  # every frame processed or counted as dropped
    assert sink.frames == sorted(sink.frames) and len(set(sink.frames)) == len(sink.frames)
    assert sink.frames[-1] == 299  # the newest frame is never lost at the end


def test_latest_only_refuses_parallel_workers():
    with pytest.raises(ValueError):
        Pipeline(BurstSource(1), [("engine", lambda f: f, 2)], ListSink(), latest_only=True)


def test_on_idle_runs_on_the_calling_thread():
    seen = set()

    def slow(f):  # the run lasts well over one poll step
        time.sleep(0.05)
        return f

    Pipeline(BurstSource(20), [("engine", slow)], ListSink(), latest_only=True).run(
        on_idle=lambda s: (seen.add(threading.current_thread().name), time.sleep(s)))
    assert seen == {threading.current_thread().name}


class GatedSource:
    """Frames of the synthetic scene: ``before`` of them, then it says so (``reached``) and
    waits for ``go`` before the rest, so a test can change the controls between the two."""

    def __init__(self, before, after, size=(64, 48)):
        self.before, self.after = before, after
        self.scene = SyntheticSource(size)
        self.reached, self.go = threading.Event(), threading.Event()

    def frames(self):
        for i in range(self.before + self.after):
            if i == self.before:
                self.reached.set()
                assert self.go.wait(20)
            yield Frame(i, self.scene.render(i))

    def close(self):
        pass


class KeepSink(ListSink):
    def write(self, frame):
        self.frames.append(frame)


def test_a_change_of_controls_mid_run_applies_only_to_frames_captured_after_it(tmp_path):
    """Real pipeline, threads, engines and smoother: frames already captured when the viewer
    changes strength, colour, smoothing and style keep the settings they were captured with,
    even though the engine stage only reaches them after the change."""
    from realtime_style.jobs.live import live_engine_stage, live_smoothing
    from realtime_style.live.stats import LiveCounters

    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    a.write_bytes(make_style_model(seed=1))
    b.write_bytes(make_style_model(seed=2))
    switcher = switcher_of({"a": a, "b": b})
    switcher.select("b")
    deadline = time.time() + 20
    while switcher.current != "b" and time.time() < deadline:
        time.sleep(0.01)
    switcher.select("a")  # both loaded; "a" is current
    assert switcher.current == "a"
    controls = LiveControls(strength=1.0, preserve_color=False, smooth=0.0)
    source = GatedSource(before=5, after=5)
    engine = live_engine_stage(switcher, LiveCounters())

    def gated_engine(frame):  # the model reaches no frame before the change
        assert source.go.wait(20)
        return engine(frame)

    def on_idle(seconds):  # the main thread, where the keys change the controls
        if source.reached.is_set() and not source.go.is_set():
            controls.handle_key(ord("-"), switcher)
            controls.handle_key(ord("c"), switcher)
            controls.handle_key(ord("s"), switcher)
            controls.handle_key(ord("n"), switcher)
            source.go.set()
        time.sleep(seconds)

    sink = KeepSink()
    pipeline = Pipeline(source, [("engine", gated_engine), ("smooth", live_smoothing(controls))], sink,
                        queue_size=8, settings=lambda: controls.snapshot(switcher.current))
    pipeline.run(on_idle=on_idle)
    assert switcher.current == "b" and controls.strength == 0.9 and controls.preserve_color and controls.smooth > 0
    assert [f.index for f in sink.frames] == list(range(10))
    before, after = sink.frames[:5], sink.frames[5:]
    assert {f.settings for f in before} == {FrameSettings(1.0, False, 0.0, "a")}
    assert {f.settings for f in after} == {FrameSettings(0.9, True, controls.smooth, "b")}
    engine_a, engine_b = switcher.engine_for("a"), switcher.engine_for("b")
    for f in before:  # style a, full strength, no smoothing: exactly the network's output
        assert np.array_equal(f.output, engine_a.stylize(f.rgb, strength=1.0, preserve_color=False)), f.index
    per_frame = [engine_b.stylize(f.rgb, strength=0.9, preserve_color=True) for f in after]
    assert np.array_equal(after[0].output, per_frame[0])  # smoothing starts with no history
    assert any(not np.array_equal(f.output, p) for f, p in zip(after[1:], per_frame[1:]))  # then it smooths


# -- camera (fake device) -----------------------------------------------------------------------
class FakeCapture:
    """cv2.VideoCapture's surface: grants its own size, can stall or die after N frames."""

    def __init__(self, size=(64, 48), fps=30.0, frames=None, stall_after=None, opened=True):
        self.size, self.fps, self.frames, self.stall_after, self.opened = size, fps, frames, stall_after, opened
        self.read_count = 0
        self.settings = {}
        self.released = False

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.settings[prop] = value
        return True

    def get(self, prop):
        import cv2

        return {cv2.CAP_PROP_FPS: self.fps}.get(prop, 0.0)

    def read(self):
        if self.stall_after is not None and self.read_count >= self.stall_after:
            time.sleep(0.05)  # an unplugged camera: nothing arrives
            return False, None
        time.sleep(1 / self.fps)
        self.read_count += 1
        img = np.zeros((self.size[1], self.size[0], 3), np.uint8)
        img[..., 2] = self.read_count % 256  # BGR red channel carries the count
        return True, img

    def release(self):
        self.released = True


def test_camera_reports_granted_size_and_requests_small_buffer():
    import cv2

    cap = FakeCapture(size=(64, 48))
    cam = CameraSource(0, size=(640, 360), fps=30, capture_factory=lambda i: cap)
    try:
        assert (cam.width, cam.height, cam.fps) == (64, 48, 30.0)
        assert cap.settings[cv2.CAP_PROP_BUFFERSIZE] == 1
        assert cap.settings[cv2.CAP_PROP_FRAME_WIDTH] == 640
        frames = cam.frames()
        first, second = next(frames), next(frames)
        assert first.rgb.shape == (48, 64, 3) and first.rgb[0, 0, 0] > 0  # BGR -> RGB
        assert second.captured > first.captured
    finally:
        cam.close()


def test_no_camera_at_index():
    with pytest.raises(InputError, match="no camera at index 3"):
        CameraSource(3, capture_factory=lambda i: FakeCapture(opened=False))


def test_camera_that_disappears_is_reconnected_then_given_up_within_seconds():
    opened = []

    def factory(i):
        cap = FakeCapture(stall_after=5) if not opened else FakeCapture(opened=False)
        opened.append(cap)
        return cap

    notes = []
    cam = CameraSource(0, capture_factory=factory, stall_s=0.3, reconnects=2, on_note=notes.append)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="gave up after 2 reconnect attempts"):
        for _ in cam.frames():
            pass
    assert time.perf_counter() - t0 < 6
    assert len(opened) == 3 and any("reconnecting (2/2)" in n for n in notes)
    cam.close()


def test_camera_reconnect_resumes_the_stream():
    caps = [FakeCapture(stall_after=3), FakeCapture()]
    cam = CameraSource(0, capture_factory=lambda i: caps.pop(0), stall_s=0.3, reconnects=2)
    got = []
    for frame in cam.frames():
        got.append(frame.index)
        if len(got) == 8:
            break
    cam.close()
    assert got == list(range(8))


# -- replayed files and the synthetic scene -----------------------------------------------------
def make_frame_dir(path: Path, n: int, h=24, w=32) -> Path:
    import cv2

    path.mkdir()
    for i in range(n):
        cv2.imwrite(str(path / f"f{i:03d}.png"), np.full((h, w, 3), i * 10, np.uint8))
    return path


def test_replay_is_paced_at_the_file_rate_and_loops(tmp_path):
    from fractions import Fraction

    from realtime_style.jobs.convert import open_source

    d = make_frame_dir(tmp_path / "frames", 5)
    src = ReplaySource(d, lambda p: open_source(p, audio=False, fps=Fraction(50)), loop=True, size=(16, 12))
    t0 = time.perf_counter()
    frames = []
    for frame in src.frames():
        frames.append(frame)
        if len(frames) == 12:
            break
    elapsed = time.perf_counter() - t0
    src.close()
    assert elapsed >= 11 / 50 * 0.8  # paced, not as fast as decoding
    assert [int(f.rgb[0, 0, 0]) for f in frames[4:7]] == [40, 0, 10]  # looped back to the first frame
    assert frames[0].rgb.shape == (12, 16, 3)


def test_synthetic_scene_moves_and_is_deterministic():
    a, b = SyntheticSource((64, 48), fps=30), SyntheticSource((64, 48), fps=30)
    assert np.array_equal(a.render(10), b.render(10))
    assert np.abs(a.render(10).astype(int) - a.render(11)).mean() > 0.5


# -- stats --------------------------------------------------------------------------------------
def test_latency_histogram_percentiles():
    h = LatencyHistogram()
    assert h.percentile(50) is None
    for ms in range(1, 101):
        h.add(ms / 1000)
    assert abs(h.percentile(50) - 50) <= 0.5 and abs(h.percentile(95) - 95) <= 0.5
    h.add(60.0)  # beyond the range: counted in the last bin, memory stays fixed
    assert h.percentile(100) >= 9999


# -- style switching ----------------------------------------------------------------------------
def test_switching_styles_loads_in_background_and_keeps_current_on_failure(tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    a.write_bytes(make_style_model(seed=1))
    b.write_bytes(make_style_model(seed=2))
    sw = switcher_of({"a": a, "b": b, "broken": None})
    sw.step(1)
    deadline = time.time() + 20
    while sw.current != "b" and time.time() < deadline:
        time.sleep(0.01)
    assert sw.current == "b"
    sw.step(1)  # -> broken
    while sw.loading and time.time() < deadline:
        time.sleep(0.01)
    assert sw.current == "b" and "broken failed to load" in sw.message
    sw.select("a")  # already loaded: immediate
    assert sw.current == "a"


# -- outputs ------------------------------------------------------------------------------------
class FakeVirtualCam:
    def __init__(self, w, h, fps):
        self.w, self.h, self.fps = w, h, fps
        self.sent = []
        self.closed = False
        self.device = "/dev/video9"

    def send(self, frame):
        assert frame.shape == (self.h, self.w, 3) and frame.dtype == np.uint8
        self.sent.append(frame)

    def close(self):
        self.closed = True


def test_letterbox_keeps_aspect():
    out = letterbox(np.full((100, 100, 3), 200, np.uint8), 160, 90)
    assert out.shape == (90, 160, 3)
    assert out[:, :30].max() == 0 and out[45, 80, 0] == 200


def test_virtual_camera_without_device_says_how_to_create_one():
    def no_device(w, h, fps):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99]")

    with pytest.raises(OutputError, match="no virtual camera device.*(modprobe v4l2loopback|OBS)"):
        VirtualCamera(camera_factory=no_device)


# -- the whole live job -------------------------------------------------------------------------
def live_config(**kw) -> LiveConfig:
    base = dict(source="synthetic", size=(64, 48), fps=60.0, headless=True, max_frames=40)
    base.update(kw)
    return LiveConfig(**base)


def test_headless_run_with_virtual_camera_and_recording(tmp_path, tiny_model):
    cams = []

    def factory(w, h, fps):
        cams.append(FakeVirtualCam(w, h, fps))
        return cams[-1]

    stats_path, rec = tmp_path / "stats.json", tmp_path / "rec.mp4"
    result = run_live(live_config(stats_path=stats_path, record=rec, virtual_cam=True),
                      switcher_of({"tiny": tiny_model}), LiveControls(),
                      hardware=Hardware(virtual_camera_factory=factory))
    stats = json.loads(stats_path.read_text())
    for key in ("frames_captured", "frames_processed", "frames_displayed", "frames_dropped", "fps", "model_fps",
                "latency_ms", "peak_rss_mb", "provider", "size"):
        assert key in stats
    assert stats["frames_captured"] == 40 and stats["size"] == "64x48" and stats["provider"] == "cpu"
    assert stats["frames_processed"] == stats["frames_displayed"] > 0
    assert stats["frames_dropped"] == 40 - stats["frames_displayed"]
    assert 0 < stats["latency_ms"]["p50"] <= stats["latency_ms"]["p95"] <= stats["latency_ms"]["p99"]
    assert cams[0].w == 1280 and len(cams[0].sent) == stats["frames_processed"] and cams[0].closed
    with av.open(str(rec)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert decoded == result.recorded == stats["frames_processed"]
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


class FakeGui:
    """OpenCV highgui's surface: records shown images, plays back scripted keys."""

    def __init__(self, keys):
        self.keys = list(keys)
        self.shown = []
        self.props = []
        self.destroyed = False
        self.flags = None
        self.resized = []  # (w, h) per resizeWindow
        self.window_width = None  # what getWindowImageRect reports (None: the last resize)

    def namedWindow(self, title, flags):
        self.flags = flags

    def resizeWindow(self, title, w, h):
        self.resized.append((w, h))

    def getWindowImageRect(self, title):
        w, h = self.resized[-1] if self.resized else (0, 0)
        return (0, 0, self.window_width or w, h)

    def imshow(self, title, img):
        self.shown.append(img.shape)

    def waitKey(self, ms):
        time.sleep(ms / 1000)
        if self.shown and self.keys:
            return ord(self.keys.pop(0)) if isinstance(self.keys[0], str) else self.keys.pop(0)
        return -1

    def setWindowProperty(self, title, prop, value):
        self.props.append((prop, value))

    def getWindowProperty(self, title, prop):
        return 1.0

    def destroyWindow(self, title):
        self.destroyed = True


def test_window_keys_change_the_run_and_q_quits(tmp_path, tiny_model):
    b = tmp_path / "b.onnx"
    b.write_bytes(make_style_model(seed=5))
    gui = FakeGui(["+", "-", "-", "c", "s", "o", "f", " ", " ", "n"] + [-1] * 40 + ["q"])
    controls = LiveControls(side_by_side=True)
    switcher = switcher_of({"tiny": tiny_model, "b": b})
    result = run_live(live_config(headless=False, max_frames=0), switcher, controls, hardware=Hardware(gui=gui))
    assert controls.quit and not result.interrupted
    assert controls.strength == 0.8 and controls.preserve_color and not controls.overlay and controls.fullscreen
    assert controls.smooth > 0 and not controls.paused
    assert switcher.current == "b"
    assert gui.shown and gui.shown[0] == (48, 128, 3)  # side by side, BGR
    assert gui.destroyed and gui.props


def test_window_opens_at_the_stream_size_fitted_to_the_screen_without_toolbar(tiny_model):
    import cv2

    gui = FakeGui([-1] * 6 + ["q"])
    run_live(live_config(headless=False, max_frames=0, size=(640, 360)), switcher_of({"tiny": tiny_model}),
             LiveControls(), hardware=Hardware(gui=gui, screen_size=lambda: (1920, 1080)))
    assert gui.resized[0] == (640, 360)  # its own size (OpenCV alone opened 400x225 here)
    assert gui.flags & cv2.WINDOW_GUI_NORMAL == cv2.WINDOW_GUI_NORMAL  # no Qt toolbar / status bar
    assert gui.flags & cv2.WINDOW_KEEPRATIO == cv2.WINDOW_KEEPRATIO

    gui = FakeGui([-1] * 6 + ["q"])
    run_live(live_config(headless=False, max_frames=0, size=(1280, 720)), switcher_of({"tiny": tiny_model}),
             LiveControls(side_by_side=True), hardware=Hardware(gui=gui, screen_size=lambda: (1366, 768)))
    w, h = gui.resized[0]  # 2560x720 side by side, scaled down to fit the screen, aspect kept
    assert w <= 0.9 * 1366 and h <= 0.85 * 768 and abs(w / h - 2560 / 720) < 0.01
    assert len(gui.resized) == 1  # sized once, not on every frame


def test_overlay_scales_with_the_window_and_fits():
    from realtime_style.live.window import draw_overlay, overlay_scale

    lines = ["12.0 FPS   model 30.0 FPS   latency p50 20 ms", "keys: n/p style  +/- strength  q quit"]
    # a 1280-px image in a window half its size: drawn bigger in the image, so that on screen it
    # stays at least readable (0.45 of Hershey's size; drawn at the image's scale it was 0.4)
    assert overlay_scale(lines, 1280, 0.5) * 0.5 >= 0.45
    # a bigger window shows bigger text on screen
    assert overlay_scale(lines, 1280, 1.0) * 1.0 > overlay_scale(lines, 1280, 0.5) * 0.5
    img = np.zeros((120, 200, 3), np.uint8)
    draw_overlay(img, lines, 1.0)  # a narrow frame: the longest line is shrunk to fit
    assert img[:, -6:].max() == 0 and img[:, :100].max() == 255


def test_qt_font_warnings_are_silenced(monkeypatch, tmp_path):
    from realtime_style.live.window import quiet_qt_fonts

    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "a.ttf").write_bytes(b"")
    monkeypatch.setenv("QT_QPA_FONTDIR", str(tmp_path / "cv2" / "qt" / "fonts"))  # what `import cv2` sets
    quiet_qt_fonts((str(tmp_path / "none"), str(fonts)))
    assert os.environ["QT_QPA_FONTDIR"] == str(fonts)
    monkeypatch.setenv("QT_QPA_FONTDIR", str(tmp_path / "missing"))
    monkeypatch.delenv("QT_LOGGING_RULES", raising=False)
    quiet_qt_fonts((str(tmp_path / "none"),))  # no font directory at all
    assert "default.warning=false" in os.environ["QT_LOGGING_RULES"]


def test_window_paused_shows_nothing_new(tiny_model):
    gui = FakeGui([" "] + [-1] * 20 + ["q"])
    result = run_live(live_config(headless=False, max_frames=0), switcher_of({"tiny": tiny_model}),
                      LiveControls(), hardware=Hardware(gui=gui))
    assert result.stats["frames_displayed"] == 1  # the frame before the pause


# -- command line -------------------------------------------------------------------------------
def test_cli_live_errors(tmp_path, tiny_model, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = runner.invoke(app, ["live", "--source", "synthetic", "--style", str(tiny_model), "--max-frames", "3"])
    assert r.exit_code == 1 and "no display available" in r.output and "--headless" in r.output
    r = runner.invoke(app, ["live", "--source", str(tmp_path / "nope.mp4"), "--style", str(tiny_model),
                            "--headless"])
    assert r.exit_code == 1 and "no such file" in r.output
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    r = runner.invoke(app, ["live", "--source", str(bad), "--style", str(tiny_model), "--headless"])
    assert r.exit_code == 1 and "not a readable video" in r.output
    r = runner.invoke(app, ["live", "--source", "synthetic", "--style", str(tiny_model), "--headless",
                            "--record", str(tmp_path / "x.avi")])
    assert r.exit_code == 1 and ".mp4" in r.output


def live_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "realtime_style", "live", *args]


def test_ctrl_c_finalizes_the_recording_and_exits_130(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(make_style_model())
    rec, stats = tmp_path / "rec.mp4", tmp_path / "s.json"
    proc = subprocess.Popen(live_cmd("--source", "synthetic", "--size", "64x48", "--style", str(model),
                                     "--headless", "--record", str(rec), "--stats", str(stats)),
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".rec*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    with av.open(str(rec)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 0
    assert json.loads(stats.read_text())["frames_displayed"] > 0


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (CI installs it: apt-get install xvfb)")
def test_real_window_under_xvfb(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(make_style_model())
    display = f":{90 + os.getpid() % 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        stats = tmp_path / "s.json"
        env = dict(os.environ, DISPLAY=display)
        r = subprocess.run(live_cmd("--source", "synthetic", "--size", "96x64", "--style", str(model),
                                    "--max-frames", "30", "--stats", str(stats), "--side-by-side"),
                           env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        assert "QFontDatabase" not in r.stderr and "Qt no longer ships fonts" not in r.stderr, r.stderr
        data = json.loads(stats.read_text())
        assert data["frames_displayed"] > 0 and data["latency_ms"]["p95"] is not None
        # the real toolkit: a 640x360 stream side by side on this 640x480 screen opens fitted to it
        probe = ("import cv2, numpy as np\n"
                 "from realtime_style.io.display import screen_size\n"
                 "from realtime_style.live.controls import LiveControls\n"
                 "from realtime_style.live.stats import LiveCounters\n"
                 "from realtime_style.live.window import Window, check_display\n"
                 "check_display()\n"
                 "w = Window('t', LiveControls(side_by_side=True), LiveCounters(), None,\n"
                 "           lambda: {'style': 's', 'provider': 'cpu', 'dropped': 0}, screen=screen_size())\n"
                 "img = np.zeros((360, 640, 3), np.uint8)\n"
                 "cv2.imshow('t', w._compose(type('F', (), {'output': img, 'rgb': img})()))\n"
                 "[cv2.waitKey(10) for _ in range(20)]\n"
                 "print(screen_size(), cv2.getWindowImageRect('t'))\n")
        r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                           cwd=ROOT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split(")")[0] == "(640, 480", r.stdout
        assert r.stdout.strip().endswith("(0, 0, 576, 162)"), r.stdout  # 0.9 x 640 wide, aspect kept
        assert "QFontDatabase" not in r.stderr, r.stderr
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_missing_camera_is_one_line_on_stderr(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(make_style_model())
    r = subprocess.run(live_cmd("--source", "63", "--style", str(model), "--headless", "--max-frames", "3"),
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 1
    want = "error: no camera at index 63 (run `realtime-style doctor` to list cameras)"
    assert r.stderr.strip().splitlines() == [want]


def test_video_file_played_as_a_camera_ends_or_loops(tmp_path, tiny_model, model_home):
    from clips import make_clip

    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=20, rate=50, audio=True)
    stats = tmp_path / "s.json"
    r = runner.invoke(app, ["live", "--source", str(clip), "--style", str(tiny_model), "--headless",
                            "--stats", str(stats), "--smooth", "0.8"])
    assert r.exit_code == 0, r.output
    data = json.loads(stats.read_text())
    assert data["frames_captured"] == 20 and data["size"] == "64x48" and data["source_fps"] == 50
    assert data["frames_displayed"] + data["frames_dropped"] == 20
    assert data["cpu_threads_spin"] is False  # smoothing from the start shares the CPU
    r = runner.invoke(app, ["live", "--source", str(clip), "--style", str(tiny_model), "--headless", "--loop",
                            "--max-frames", "45", "--size", "32x24", "--stats", str(stats)])
    assert r.exit_code == 0, r.output
    data = json.loads(stats.read_text())
    assert data["frames_captured"] == 45 and data["size"] == "32x24"
    assert data["cpu_threads_spin"] is True
