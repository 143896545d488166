"""The studio's routes: the page, its WebSocket, the API (contract: ../shared/spec/cli.md,
"The web studio"). Every request has passed ``security.GuardMiddleware`` first.

    GET  /                     the page (static/index.html), its assets under /static/
    WS   /ws                   the live stream (protocol.py)
    GET  /api/styles           [{name, artwork, builtin, default}]
    GET  /api/stats            {"sessions": [...], "clients", "max_clients", "jobs", ...}
    POST /api/convert          multipart: file, style, smooth -> {"job": ID}
    GET  /api/jobs             {"jobs": [...]}
    GET  /api/jobs/ID          {"state", "progress", "error", ...}
    GET  /api/jobs/ID/output   the converted MP4
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import os
import time
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime_style.live.stats import peak_rss_mb
from realtime_style.serve import protocol
from realtime_style.serve.engines import EnginePool
from realtime_style.serve.jobs import JobQueue, MultipartUpload, UploadError
from realtime_style.serve.protocol import ClientSettings, ProtocolError
from realtime_style.serve.security import Guard, GuardMiddleware
from realtime_style.serve.sessions import ClientSession, SessionRegistry, decode_frame

STATIC = Path(__file__).parent / "static"
# The page runs only its own script, talks only to its own origin, and is never framed (a page
# that drives the camera); the token in its URL is not passed on as a referrer.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store",
}


@dataclasses.dataclass
class Studio:
    """What the routes share."""

    pool: EnginePool
    sessions: SessionRegistry
    jobs: JobQueue
    guard: Guard
    defaults: ClientSettings  # a new client's settings
    smooth_on: float  # the smoothing strength of the page's checkbox
    max_upload_bytes: int
    on_note: Callable[[str], None] = lambda _m: None
    started: float = dataclasses.field(default_factory=time.time)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def build_app(studio: Studio) -> GuardMiddleware:
    async def page(request: Request) -> Response:
        token = request.query_params.get("token", "")
        query = f"?token={html.escape(token, quote=True)}" if token and studio.guard.token else ""
        text = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{query}}", query)
        return HTMLResponse(text, headers=PAGE_HEADERS)

    async def styles(_request: Request) -> Response:
        return JSONResponse([{"name": s.name, "artwork": s.artwork, "builtin": s.builtin,
                              "default": s.name == studio.pool.default} for s in studio.pool.styles])

    async def stats(_request: Request) -> Response:
        sessions = [s.stats() for s in studio.sessions.all()]
        return JSONResponse({"sessions": sessions, "clients": len(sessions), "max_clients": studio.sessions.max_clients,
                             "clients_opened": studio.sessions.opened, "clients_refused": studio.sessions.refused,
                             "client_errors": studio.sessions.errors, "jobs": studio.jobs.counts(),
                             "provider": studio.pool.provider, "rss_mb": _rss_mb(), "peak_rss_mb": peak_rss_mb(),
                             "uptime_s": round(time.time() - studio.started, 1)})

    async def convert_upload(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > studio.max_upload_bytes:
            return _error(413, f"the upload ({int(length) >> 20} MB) is larger than the server's limit "
                               f"({studio.max_upload_bytes >> 20} MB, --max-upload-mb)")
        try:
            job = studio.jobs.new(studio.pool.default, studio.defaults.smooth)
        except UploadError as exc:
            return _error(exc.status, str(exc))
        keep = False
        try:
            upload = MultipartUpload(request.headers.get("content-type", ""), job.input, studio.max_upload_bytes)
            try:
                async for chunk in request.stream():
                    await asyncio.to_thread(upload.feed, chunk)
            finally:
                upload.close()
            if not upload.complete:
                raise UploadError(400, "the upload was cut off before its end")
            if upload.filename is None:
                raise UploadError(400, "no field named 'file' in the upload")
            if upload.file_bytes == 0:
                raise UploadError(400, "the uploaded file is empty")
            job.filename = upload.filename
            upload.path.rename(job.input)
            style = upload.fields.get("style") or studio.pool.default
            if style not in studio.pool.names:
                raise UploadError(400, f"unknown style {style!r}; GET /api/styles lists them")
            job.style = style
            smooth = upload.fields.get("smooth")
            if smooth not in (None, ""):
                job.smooth = _smooth_field(smooth, studio.smooth_on)
            keep = True
        except UploadError as exc:
            return _error(exc.status, str(exc))
        except OSError as exc:  # the work folder's disk is full, ...
            return _error(507, f"the server could not store the upload ({exc.strerror or exc})")
        finally:
            if not keep:
                studio.jobs.discard(job)
        studio.jobs.submit(job)
        studio.on_note(f"job {job.id}: {job.filename} ({job.input.stat().st_size / 1e6:.1f} MB), style {job.style}")
        return JSONResponse({"job": job.id})

    async def jobs_list(_request: Request) -> Response:
        return JSONResponse({"jobs": [j.to_json() for j in studio.jobs.list()]})

    async def job_state(request: Request) -> Response:
        job = studio.jobs.get(request.path_params["job"])
        if job is None:
            return _error(404, "no such job (finished jobs are removed after the retention time)")
        return JSONResponse(job.to_json())

    async def job_output(request: Request) -> Response:
        job = studio.jobs.get(request.path_params["job"])
        if job is None:
            return _error(404, "no such job (finished jobs are removed after the retention time)")
        if job.state != "done" or not job.output.is_file():
            return _error(409, f"job {job.id} is {job.state}; its video is not ready")
        return FileResponse(job.output, media_type="video/mp4", filename=job.download_name)

    async def socket(ws: WebSocket) -> None:
        await _serve_client(studio, ws)

    app = Starlette(routes=[
        Route("/", page),
        Route("/api/styles", styles),
        Route("/api/stats", stats),
        Route("/api/convert", convert_upload, methods=["POST"]),
        Route("/api/jobs", jobs_list),
        Route("/api/jobs/{job}", job_state),
        Route("/api/jobs/{job}/output", job_output),
        WebSocketRoute("/ws", socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    return GuardMiddleware(app, studio.guard)


def _smooth_field(value: str, smooth_on: float) -> float:
    if value.lower() in ("on", "true", "yes"):
        return smooth_on
    if value.lower() in ("off", "false", "no"):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise UploadError(400, "smooth must be a number from 0 to 1 (or on/off)")
    return number


def _rss_mb() -> float | None:
    """The server's resident memory now, in MiB (Linux; None elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20), 1)


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason[:120]


async def _serve_client(studio: Studio, ws: WebSocket) -> None:
    """One page's stream: hello, then frames and settings until either side closes."""
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue = asyncio.Queue()

    def send(message) -> None:  # from the session's threads
        try:
            loop.call_soon_threadsafe(outbox.put_nowait, message)
        except RuntimeError:  # the loop is gone: the server stopped
            pass

    def send_later(delay: float, message: dict) -> None:  # from the session's threads
        try:
            loop.call_soon_threadsafe(loop.call_later, delay, outbox.put_nowait, message)
        except RuntimeError:
            pass

    def ended(session: ClientSession, error: BaseException | None) -> None:
        if error is not None:
            studio.sessions.errors += 1
            studio.on_note(f"client {session.id}: {type(error).__name__}: {error}")
            send(_Close(protocol.CLOSE_INTERNAL, f"server error: {error}"))

    session = ClientSession(studio.pool, studio.defaults, send, smooth_on=studio.smooth_on, send_later=send_later,
                            on_end=ended)
    await ws.accept()
    if not studio.sessions.add(session):
        reason = f"busy: {studio.sessions.max_clients} clients are connected already (--max-clients)"
        await ws.send_json({"type": "busy", "message": reason})
        await ws.close(protocol.CLOSE_BUSY, reason)
        return
    # Everything to the page goes through the outbox, in order: hello first.
    outbox.put_nowait({"type": "hello", "session": session.id, "credits": protocol.CREDITS,
                       "styles": studio.pool.names, "settings": session.settings.to_json(),
                       "smooth_on": studio.smooth_on, "provider": studio.pool.provider})
    session.start()
    writer = asyncio.create_task(_write(ws, outbox))
    loading: set[asyncio.Task] = set()
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                frame_id, jpeg = protocol.split_frame(message["bytes"])
                rgb = await asyncio.to_thread(decode_frame, jpeg, session.settings.mirror)
                session.receive(frame_id, rgb)
            elif message.get("text") is not None:
                request = protocol.parse_text(message["text"])
                if request["type"] != "settings":
                    raise ProtocolError(f"unknown message type {request['type']!r}")
                wanted = protocol.apply_settings(session.settings, request, studio.pool.names, studio.smooth_on)
                if studio.pool.loaded(wanted.style) is None:
                    task = asyncio.create_task(_switch_style(studio, session, wanted, send))
                    loading.add(task)
                    task.add_done_callback(loading.discard)
                    wanted = dataclasses.replace(wanted, style=session.settings.style)  # until it is loaded
                session.settings = wanted
                send({"type": "settings", "settings": wanted.to_json()})
    except ProtocolError as exc:
        send(_Close(exc.code, str(exc)))  # the writer closes with it after what was queued before
    except WebSocketDisconnect:
        pass
    finally:
        session.close()
        studio.sessions.remove(session)
        for task in loading:
            task.cancel()
        send(None)
        try:
            await asyncio.wait_for(writer, 2.0)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - the client is gone
            writer.cancel()
        await asyncio.to_thread(session.join, 10.0)


async def _switch_style(studio: Studio, session: ClientSession, wanted: ClientSettings, send) -> None:
    send({"type": "style", "name": wanted.style, "state": "loading"})
    try:
        await asyncio.to_thread(studio.pool.get, wanted.style)
    except Exception as exc:  # noqa: BLE001 - a style that fails to load leaves the current one
        send({"type": "style", "name": wanted.style, "state": "failed", "message": str(exc)})
        return
    session.settings = dataclasses.replace(session.settings, style=wanted.style)
    send({"type": "style", "name": wanted.style, "state": "ready"})
    send({"type": "settings", "settings": session.settings.to_json()})


async def _write(ws: WebSocket, outbox: asyncio.Queue) -> None:
    """Everything the server sends to one page, in order, from one task."""
    while True:
        message = await outbox.get()
        if message is None:
            return
        try:
            if isinstance(message, _Close):
                await ws.close(message.code, message.reason)
                return
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_json(message)
        except (WebSocketDisconnect, RuntimeError, OSError):  # the page went away
            return
