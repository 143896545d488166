"""The web studio (`serve`) with the real server on a loopback port: the page and the API, the
WebSocket protocol (credits, newest frame wins, the model's pixels back), settings, several
clients, busy beyond --max-clients, malformed messages closing only their own client, a client
vanishing, the security checks (token, Host, Origin, upload cap), upload jobs end to end
through `convert` (frame count and audio kept, garbage failing cleanly), and the CLI's exit
codes (a non-loopback host without a token, Ctrl-C)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")

from clips import audio_packets, decode, make_clip, picture  # noqa: E402
from conftest import make_style_model  # noqa: E402
from serve_helpers import frame_message, multipart, running_server, split_reply, unjpeg  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from realtime_style.engine import StyleEngine  # noqa: E402
from realtime_style.serve import protocol  # noqa: E402
from realtime_style.serve.sessions import jpeg_size  # noqa: E402

W, H = 160, 96


@pytest.fixture(scope="module")
def style_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("studio") / "tiny.onnx"
    path.write_bytes(make_style_model())
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    old = os.environ.get("REALTIME_STYLE_HOME")
    os.environ["REALTIME_STYLE_HOME"] = str(tmp_path_factory.mktemp("home"))
    yield
    if old is None:
        os.environ.pop("REALTIME_STYLE_HOME", None)
    else:
        os.environ["REALTIME_STYLE_HOME"] = old


@pytest.fixture(scope="module")
def server(style_file, home, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    with running_server(style_file, max_clients=3, max_upload_mb=1, work_dir=work) as s:
        s.work = work
        yield s


@pytest.fixture(scope="module")
def engine(style_file):
    return StyleEngine(style_file)


def hello(ws) -> dict:
    message = json.loads(ws.recv(timeout=10))
    assert message["type"] == "hello", message
    return message


def next_reply(ws, timeout: float = 10.0):
    """The next frame reply, skipping (and returning) control messages seen before it."""
    controls = []
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            return split_reply(message), controls
        controls.append(json.loads(message))


def closed_with(ws, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as info:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    return info.value.rcvd


# -- the page and the API ---------------------------------------------------------------------------
def test_page_and_api(server):
    status, headers, body = server.request("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    for element in ('id="start"', 'id="style"', 'id="strength"', 'id="smooth"', 'id="output"', 'id="stats"'):
        assert element in page
    assert "<canvas" in page and "http" not in page.split("<body>")[1].split("</main>")[0]  # nothing from a CDN
    status, _h, script = server.request("/static/studio.js")
    assert status == 200 and b"window.studio" in script
    styles = server.json("/api/styles")
    assert {"name", "artwork", "builtin"} <= set(styles[0])
    assert [s["name"] for s in styles if s["default"]] == ["tiny"]
    assert {"wave", "udnie", "scream", "wreck"} <= {s["name"] for s in styles if s["builtin"]}
    assert server.json("/api/stats")["sessions"] == []


# -- the WebSocket protocol ------------------------------------------------------------------------
def test_frames_come_back_stylized_with_their_ids(server, engine):
    pic = picture(3, W, H)
    with connect(server.ws_url) as ws:
        greeting = hello(ws)
        assert greeting["credits"] == protocol.CREDITS and greeting["settings"]["style"] == "tiny"
        ws.send(json.dumps({"type": "settings", "mirror": False, "smooth": False}))
        for frame_id in (7, 8, 9):
            ws.send(frame_message(frame_id, pic))
            (got_id, server_ms, out), _controls = next_reply(ws)
            assert got_id == frame_id and 0 < server_ms < 5000
            assert out.shape == (H, W, 3)
        sent = unjpeg(frame_message(0, pic)[4:])  # what the server decoded
        expected = engine.stylize(sent)
        assert np.abs(out.astype(int) - expected).mean() < 3  # the model's pixels (JPEG-coded once more)
        assert np.abs(out.astype(int) - sent).mean() > 10  # not the camera's
        stats = server.wait_sessions(1)[0]
        assert stats["frames_in"] == 3 and stats["frames_out"] == 3 and stats["frames_dropped"] == 0
        assert stats["size"] == f"{W}x{H}" and stats["style"] == "tiny"
        assert stats["latency_ms"]["p50"] > 0 and set(stats) >= {"id", "fps", "latency_ms"}
    assert server.wait_sessions(0) == []


def test_newest_frame_wins_and_credits_come_back(server):
    """Frames sent faster than the server works (no credits asked) never queue up: each one
    either comes back or is reported dropped, the last one always comes back."""
    with connect(server.ws_url) as ws:
        hello(ws)
        n = 40
        for frame_id in range(1, n + 1):
            ws.send(frame_message(frame_id, picture(frame_id, 640, 360)))
        seen, dropped = [], []
        while len(seen) + len(dropped) < n:
            message = ws.recv(timeout=20)
            if isinstance(message, bytes):
                seen.append(split_reply(message)[0])
            else:
                control = json.loads(message)
                if control["type"] == "dropped":
                    dropped += control["ids"]
        assert seen == sorted(seen) and seen[-1] == n
        assert sorted(seen + dropped) == list(range(1, n + 1))
        assert dropped, "a burst of 40 frames at 640x360 is faster than the model"
        stats = server.wait_sessions(1)[0]
        assert stats["frames_dropped"] == len(dropped) and stats["frames_out"] == len(seen)


def messages_until_reply(ws, timeout: float = 10.0) -> list[dict]:
    """Control messages up to and including the next frame reply (as {"type": "frame", "id"})."""
    seen = []
    while True:
        message = ws.recv(timeout=timeout)
        if isinstance(message, bytes):
            return [*seen, {"type": "frame", "id": split_reply(message)[0]}]
        seen.append(json.loads(message))


def test_a_lone_pages_credit_is_released_while_its_frame_is_at_the_engine(server):
    """One frame in flight per page; alone on the engine, each frame's credit comes back early
    ("release", once the model's time is known) so the next frame can travel meanwhile; with a
    second page sharing the engine, no early releases."""
    pic = picture(2, W, H)
    with connect(server.ws_url) as first:
        assert hello(first)["credits"] == protocol.CREDITS == 1
        first.send(frame_message(1, pic))
        assert messages_until_reply(first)[-1] == {"type": "frame", "id": 1}  # the model's time is not known yet
        released = []
        for frame_id in (2, 3, 4):
            first.send(frame_message(frame_id, pic))
            got = messages_until_reply(first)
            released += [m["id"] for m in got if m["type"] == "release"]
            assert got[-1] == {"type": "frame", "id": frame_id}
        time.sleep(0.2)
        with contextlib.suppress(TimeoutError):
            while True:  # a release may come after its reply; it is then ignored by the page
                released.append(json.loads(first.recv(timeout=0.2))["id"])
        assert released == [2, 3, 4]
        with connect(server.ws_url) as second:
            assert hello(second)["credits"] == 1
            for frame_id in (5, 6, 7):
                first.send(frame_message(frame_id, pic))
                second.send(frame_message(frame_id, pic))
                assert [m["type"] for m in messages_until_reply(first)] == ["frame"]
                assert [m["type"] for m in messages_until_reply(second)] == ["frame"]


def test_settings_apply_to_the_frames_after_them(server):
    pic = picture(5, W, H)
    with connect(server.ws_url) as ws:
        hello(ws)
        ws.send(json.dumps({"type": "settings", "strength": 0.0, "mirror": True}))
        ws.send(frame_message(1, pic))
        (_i, _ms, out), controls = next_reply(ws)
        sent = unjpeg(frame_message(0, pic)[4:])
        assert np.abs(out.astype(int) - sent[:, ::-1]).mean() < 3  # strength 0: the source, mirrored
        assert controls and controls[0]["settings"]["strength"] == 0.0
        ws.send(json.dumps({"type": "settings", "style": "wave", "strength": 1.0, "mirror": False}))
        states = []
        while "ready" not in states:
            control = json.loads(ws.recv(timeout=30))
            if control["type"] == "style":
                states.append(control["state"])
        assert states[0] == "loading"
        ws.send(frame_message(2, pic))
        (_i, _ms, out), _c = next_reply(ws, 30)
        assert server.wait_sessions(1)[0]["style"] == "wave"
        assert np.abs(out.astype(int) - sent).mean() > 10


@pytest.mark.parametrize("bad, code", [
    (b"\x00\x01", protocol.CLOSE_MALFORMED),  # too short for the header
    (b"\x00\x00\x00\x01not a jpeg", protocol.CLOSE_MALFORMED),
    ("{not json", protocol.CLOSE_MALFORMED),
    (json.dumps({"type": "settings", "strength": 7}), protocol.CLOSE_MALFORMED),
    (json.dumps({"type": "settings", "style": "../../etc/passwd.onnx"}), protocol.CLOSE_MALFORMED),
    (json.dumps({"type": "launch"}), protocol.CLOSE_MALFORMED),
    # a JPEG header claiming 30000 x 30000 pixels: refused before any decoding
    (b"\x00\x00\x00\x01\xff\xd8\xff\xc0\x00\x11\x08\x75\x30\x75\x30\x03" + bytes(30), protocol.CLOSE_TOO_BIG),
], ids=["short", "not-jpeg", "not-json", "out-of-range", "path-as-style", "unknown-type", "huge-jpeg"])
def test_a_malformed_message_closes_only_its_client(server, bad, code):
    pic = picture(1, W, H)
    with connect(server.ws_url) as good, connect(server.ws_url) as evil:
        hello(good), hello(evil)
        evil.send(bad)
        rcvd = closed_with(evil)
        assert rcvd.code == code and rcvd.reason
        good.send(frame_message(1, pic))
        (frame_id, _ms, _out), _c = next_reply(good)
        assert frame_id == 1
    assert server.wait_sessions(0) == []


def test_jpeg_size_reads_the_frame_header():
    from serve_helpers import jpeg

    assert jpeg_size(jpeg(picture(0, 33, 17))) == (33, 17)


def test_a_client_vanishing_mid_frame_leaks_nothing(server):
    before = threading.active_count()
    for _ in range(3):
        with contextlib.suppress(OSError, ConnectionClosed), connect(server.ws_url) as ws:
            hello(ws)
            for frame_id in range(1, 4):
                ws.send(frame_message(frame_id, picture(frame_id, 640, 360)))
            ws.socket.shutdown(socket.SHUT_RDWR)  # gone, no close frame
            ws.socket.close()
    assert server.wait_sessions(0, timeout=15) == []
    deadline = time.monotonic() + 15
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= before


def test_busy_beyond_max_clients(server):
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(server.ws_url)) for _ in range(3)]
        for c in clients:
            hello(c)
        with connect(server.ws_url) as extra:
            busy = json.loads(extra.recv(timeout=10))
            assert busy["type"] == "busy" and "max-clients" in busy["message"]
            rcvd = closed_with(extra)
            assert rcvd.code == protocol.CLOSE_BUSY
        assert len(server.wait_sessions(3)) == 3
        clients[0].send(frame_message(1, picture(0, W, H)))  # the others are served as before
        assert next_reply(clients[0])[0][0] == 1
    assert server.wait_sessions(0) == []
    assert server.json("/api/stats")["clients_refused"] >= 1


# -- security ------------------------------------------------------------------------------------
def test_host_and_origin_checks(server):
    status, _h, body = server.request("/api/stats", headers={"Host": "evil.example:8000"})
    assert status == 403 and b"rebinding" in body
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(InvalidStatus) as info:  # a rebinding page's name, on the loopback address
        connect(f"ws://evil.example:{port}/ws", sock=socket.create_connection(("127.0.0.1", port)))
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info:
        connect(server.ws_url, origin="http://evil.example")
    assert info.value.response.status_code == 403
    host = server.url.split("//")[1]
    with connect(server.ws_url, origin=f"http://{host}") as ws:  # the page's own origin
        hello(ws)


def test_token_on_every_request_and_the_handshake(style_file, home):
    token = "s3cret-token-for-tests"
    with running_server(style_file, token=token) as s:
        for path in ("/", "/api/styles", "/api/stats", "/static/studio.js", "/api/jobs"):
            assert s.request(path, token=False)[0] == 401, path
            assert s.request(path, token=False, headers={"Authorization": "Bearer wrong-token"})[0] == 401
        assert s.request("/api/styles")[0] == 200  # Authorization: Bearer
        status, _h, page = s.request(f"/?token={token}", token=False)
        assert status == 200 and f"studio.js?token={token}".encode() in page  # the page keeps its token
        with pytest.raises(InvalidStatus) as info:
            connect(s.ws_url)
        assert info.value.response.status_code == 401
        with connect(f"{s.ws_url}?token={token}") as ws:
            hello(ws)


def test_a_non_loopback_host_needs_a_token(style_file, home):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "realtime_style", "serve", "--host", "0.0.0.0", "--port", "0",
                             "--style", str(style_file)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "--token" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--tls-cert", "cert.pem"], "both --tls-cert and --tls-key"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "does not exist"),
    (["--token", "short"], "at least 8 characters"),
    (["--port", "{taken}"], "pass another --port"),
], ids=["tls-half", "tls-missing", "short-token", "port-taken"])
def test_start_errors_are_one_line(args, fragment, style_file, home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from realtime_style.cli import app

    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        args = [a.replace("{taken}", str(taken.getsockname()[1])) for a in args]
        result = CliRunner().invoke(app, ["serve", "--style", str(style_file), *args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


def test_ctrl_c_stops_the_server_with_exit_130(style_file, home):
    """The command itself: --token auto prints the URL with a generated token (like Jupyter);
    Ctrl-C with a client connected stops it cleanly, exit 130."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "realtime_style", "serve", "--port", "0", "--style",
                             str(style_file), "--token", "auto"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert line.startswith("studio: http://127.0.0.1:") and "/?token=" in line, line
        url, token = line.split()[1].split("/?token=")
        assert len(token) >= 24
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url + "/api/stats", timeout=10)
        assert info.value.code == 401
        with urllib.request.urlopen(f"{url}/api/stats?token={token}", timeout=10) as answer:
            assert json.loads(answer.read())["sessions"] == []
        with contextlib.suppress(ConnectionClosed), connect(url.replace("http", "ws") + f"/ws?token={token}") as ws:
            hello(ws)  # a client connected while the server stops
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 130
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_https_with_tls_cert_and_key(style_file, home, tmp_path):
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (needed to make a test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with running_server(style_file, tls_cert=cert, tls_key=key, ssl_context=context) as s:
        assert s.url.startswith("https://127.0.0.1:")
        assert s.json("/api/stats")["sessions"] == []
        with connect(s.ws_url, ssl=context) as ws:
            hello(ws)


# -- video uploads -------------------------------------------------------------------------------
def wait_job(server, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = server.json(f"/api/jobs/{job_id}")
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_an_uploaded_video_is_converted_frame_exact_with_its_audio(server, tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=18, width=W, height=H, audio=True)
    body, kind = multipart({"style": "tiny", "smooth": "on"}, "my clip.mp4", clip.read_bytes())
    status, _h, answer = server.request("/api/convert", data=body, headers={"Content-Type": kind})
    assert status == 200, answer
    job_id = json.loads(answer)["job"]
    state = wait_job(server, job_id)
    assert state["state"] == "done" and state["progress"] == 1.0 and state["error"] is None, state
    assert job_id in {j["id"] for j in server.json("/api/jobs")["jobs"]}
    status, headers, video = server.request(f"/api/jobs/{job_id}/output")
    assert status == 200 and headers["content-type"] == "video/mp4"
    assert "my_clip_tiny.mp4" in headers["content-disposition"]
    out = tmp_path / "out.mp4"
    out.write_bytes(video)
    decoded, source = decode(out), decode(clip)
    assert decoded.count == 18 and decoded.seconds == source.seconds  # frame-exact, same timestamps
    assert (decoded.width, decoded.height) == (W, H)
    assert audio_packets(out) == audio_packets(clip) and audio_packets(out)[0]  # the audio copied untouched
    assert not (server.work / "jobs" / job_id / "input.mp4").exists()  # the upload is gone once converted


def test_a_garbage_upload_fails_its_job_and_leaves_nothing(server):
    body, kind = multipart({"style": "tiny"}, "garbage.mp4", os.urandom(50_000))
    status, _h, answer = server.request("/api/convert", data=body, headers={"Content-Type": kind})
    assert status == 200
    job_id = json.loads(answer)["job"]
    state = wait_job(server, job_id)
    assert state["state"] == "failed" and state["error"], state
    assert "Traceback" not in state["error"]
    assert not (server.work / "jobs" / job_id).exists()
    assert server.request(f"/api/jobs/{job_id}/output")[0] == 409


def test_downloads_only_by_a_job_id_the_server_made(server):
    for path in ("/api/jobs/../../etc/passwd", "/api/jobs/%2e%2e%2fetc%2fpasswd/output", "/api/jobs/0123456789abcdef",
                 "/api/jobs/0123456789abcdef/output"):
        assert server.request(path)[0] == 404, path


def _leftovers(server) -> list[Path]:
    return [p for p in (server.work / "jobs").rglob("*")] if (server.work / "jobs").exists() else []


def test_an_upload_over_the_cap_is_refused_with_413_and_nothing_kept(server):
    before = {p for p in _leftovers(server) if p.parent == server.work / "jobs"}
    body, kind = multipart({"style": "tiny"}, "big.mp4", os.urandom(3 << 20))  # the cap is 1 MB here
    host, port = server.url.split("//")[1].split(":")
    # With a Content-Length over the cap: refused before the body is read.
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    conn.putrequest("POST", "/api/convert")
    conn.putheader("Content-Type", kind)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413 and b"max-upload-mb" in answer.read()
    conn.close()
    # Without one (chunked): refused while streaming, once past the cap.
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    conn.putrequest("POST", "/api/convert")
    conn.putheader("Content-Type", kind)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    with contextlib.suppress(OSError):  # the server may answer and close before the whole body is sent
        for i in range(0, len(body), 65536):
            piece = body[i:i + 65536]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
    assert conn.getresponse().status == 413
    conn.close()
    after = {p for p in _leftovers(server) if p.parent == server.work / "jobs"}
    assert after == before  # no new job folder


def test_finished_jobs_are_removed_after_the_retention_time(style_file, home, tmp_path):
    clip = tmp_path / "short.mp4"
    make_clip(clip, frames=4, width=W, height=H)
    body, kind = multipart({"style": "tiny", "smooth": "0"}, "short.mp4", clip.read_bytes())
    with running_server(style_file, retention_minutes=2 / 60, work_dir=tmp_path / "work") as s:
        job_id = json.loads(s.request("/api/convert", data=body, headers={"Content-Type": kind})[2])["job"]
        assert wait_job(s, job_id)["state"] == "done"
        folder = tmp_path / "work" / "jobs" / job_id
        assert (folder / "output.mp4").is_file()
        deadline = time.monotonic() + 10
        while s.request(f"/api/jobs/{job_id}")[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert s.request(f"/api/jobs/{job_id}")[0] == 404
        assert not folder.exists()
    assert not (tmp_path / "work" / "jobs").exists()  # the server removes its job files when it stops
