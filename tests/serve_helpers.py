"""A real studio server on a loopback port for the serve tests (``jobs/serve.py``'s ``run`` on a
thread, port 0), and small clients: HTTP through urllib, the WebSocket through the
``websockets`` package (what uvicorn speaks it with)."""

from __future__ import annotations

import contextlib
import json
import struct
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from realtime_style.engine.factory import EngineSpec
from realtime_style.jobs import serve as serve_job


class Server:
    def __init__(self, url: str, options: serve_job.ServeOptions) -> None:
        self.url = url.split("?")[0].rstrip("/")
        self.options = options
        self.token = url.split("?token=")[1] if "?token=" in url else None
        self.ssl_context = None  # for an https server with a self-signed certificate

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"

    def request(self, path: str, *, data: bytes | None = None, headers: dict | None = None, method: str | None = None,
                token: bool = True, timeout: float = 20.0) -> tuple[int, dict, bytes]:
        headers = dict(headers or {})
        if token and self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, **kwargs):
        status, _headers, body = self.request(path, **kwargs)
        assert status == 200, (status, body)
        return json.loads(body)

    def wait_sessions(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            sessions = self.json("/api/stats")["sessions"]
            if len(sessions) == count or time.monotonic() > deadline:
                return sessions
            time.sleep(0.05)


@contextlib.contextmanager
def running_server(style: Path, ssl_context=None, **changes):
    """A studio on 127.0.0.1, any free port, stopped (and its threads joined) afterwards."""
    options = serve_job.ServeOptions(host="127.0.0.1", port=0, engine=EngineSpec(str(style)), **changes)
    ready = threading.Event()
    stop = threading.Event()
    box: dict = {}

    def target() -> None:
        try:
            box["result"] = serve_job.run(options, on_ready=lambda url: (box.setdefault("url", url), ready.set()),
                                          stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, name="test-studio", daemon=True)
    thread.start()
    assert ready.wait(60), "the studio did not start within 60 s"
    if "error" in box:
        raise box["error"]
    server = Server(box["url"], options)
    server.ssl_context = ssl_context
    _wait_http(server)
    try:
        yield server
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the studio did not stop within 30 s"


def _wait_http(server: Server, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.request("/api/stats", timeout=2.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def unjpeg(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def frame_message(frame_id: int, rgb: np.ndarray) -> bytes:
    return struct.pack(">I", frame_id) + jpeg(rgb)


def split_reply(data: bytes) -> tuple[int, float, np.ndarray]:
    frame_id, server_ms = struct.unpack(">If", data[:8])
    return frame_id, server_ms, unjpeg(data[8:])


def multipart(fields: dict[str, str], file_name: str, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = "----studio-test-boundary-7d1f"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + file_bytes + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
