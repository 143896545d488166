"""`serve`: the web studio. Checks the address and the token, loads the first style, binds the
socket, then runs the ASGI app (``realtime_style/serve``) under uvicorn until Ctrl-C.

Live frames are stylized as `live` does them: the engine built the same way (one inference at
a time; the CPU threads sleep rather than spin, since JPEG work and smoothing share the cores),
the same ``Smoother`` per client, its strength and the default on/off rule of `live`
(``default_live_smoothing``: on where the network runs on a GPU, off on the CPU).
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable

from realtime_style.engine.factory import EngineSpec
from realtime_style.errors import MissingExtra, ServeError
from realtime_style.serve.security import WILDCARDS, is_loopback

DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 2048


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port (the URL printed says which)
    token: str | None = None  # "auto": a generated one
    engine: EngineSpec = EngineSpec()
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_clients: int = 4
    allow_hosts: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    retention_minutes: float = 60.0  # a finished job's files are removed after this
    work_dir: Path | None = None  # uploads and results; None: a temporary folder, removed at exit
    smooth: float | None = None  # the page's smoothing checkbox starts on (at this strength) or off; None: as `live`


@dataclasses.dataclass
class ServeResult:
    url: str
    interrupted: bool


def check_options(options: ServeOptions) -> str | None:
    """The token to use (None: none), or a ServeError saying what to pass."""
    token = options.token
    if token == "auto":
        token = secrets.token_urlsafe(24)
    if token is not None and (len(token) < 8 or any(c.isspace() for c in token)):
        raise ServeError("--token must be at least 8 characters, without spaces (or --token auto)")
    if not is_loopback(options.host) and token is None:
        raise ServeError(f"--host {options.host} serves the camera stream beyond this machine: give it a token "
                         "(--token auto generates one and prints the URL with it), or use ssh -L to a loopback server")
    if (options.tls_cert is None) != (options.tls_key is None):
        raise ServeError("HTTPS needs both --tls-cert and --tls-key")
    for path in (options.tls_cert, options.tls_key):
        if path is not None and not path.is_file():
            raise ServeError(f"{path} does not exist")
    return token


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now, so a taken port is reported before anything loads."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                 flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, IndexError) as exc:
        raise ServeError(f"cannot listen on {host}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; pass another --port (or --port 0 for any free one)" if exc.errno == 98 else ""
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.set_inheritable(True)
    return sock


def url_for(options: ServeOptions, sock: socket.socket, token: str | None) -> str:
    port = sock.getsockname()[1]
    host = options.host
    if host in WILDCARDS:
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if options.tls_cert else "http"
    return f"{scheme}://{host}:{port}/" + (f"?token={token}" if token else "")


def run(options: ServeOptions, *, on_ready: Callable[[str], None] = lambda _u: None,
        on_note: Callable[[str], None] = lambda _m: None, stop: threading.Event | None = None) -> ServeResult:
    """Serve until Ctrl-C (or SIGTERM), or until ``stop`` is set (a server run on another thread)."""
    try:
        import uvicorn

        from realtime_style.serve.app import Studio, build_app
    except ImportError as exc:
        raise MissingExtra(f"`serve` needs the serve extra ({exc.name} is missing): pip install "
                           "'realtime-style[serve]'") from None
    token = check_options(options)
    sock = bind(options.host, options.port)
    temporary = options.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="realtime-style-studio-")) if temporary else options.work_dir
    try:
        studio = _studio(options, token, work_dir, Studio, on_note)
        url = url_for(options, sock, token)
        config = uvicorn.Config(build_app(studio), log_level="warning", access_log=False, lifespan="off",
                                ssl_certfile=str(options.tls_cert) if options.tls_cert else None,
                                ssl_keyfile=str(options.tls_key) if options.tls_key else None,
                                ws_max_size=8 << 20, timeout_graceful_shutdown=3)
        server = _server_class(uvicorn)(config)
        on_ready(url)
        # SIGTERM stops it as Ctrl-C does (uvicorn re-raises the signal once it has shut down).
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler) \
            if _main_thread() else None
        interrupted = False
        if stop is not None:
            threading.Thread(target=_stop_when, args=(stop, server), name="studio-stop", daemon=True).start()
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the signal it stopped on; not always reaching here
            interrupted = True
        finally:
            interrupted = interrupted or server.signalled
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            studio.sessions.close_all()
            studio.jobs.close()
    finally:
        sock.close()
        if temporary:
            shutil.rmtree(work_dir, ignore_errors=True)
    return ServeResult(url, interrupted)


def _server_class(uvicorn):
    class StudioServer(uvicorn.Server):
        """uvicorn's server, remembering whether a signal (Ctrl-C, SIGTERM) stopped it: the
        signal it re-raises afterwards does not always surface as a KeyboardInterrupt."""

        signalled = False

        def handle_exit(self, sig, frame) -> None:
            self.signalled = True
            super().handle_exit(sig, frame)

    return StudioServer


def _stop_when(event: threading.Event, server) -> None:
    event.wait()
    server.should_exit = True


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _studio(options: ServeOptions, token: str | None, work_dir: Path, studio_cls, on_note):
    from realtime_style.jobs.live import default_live_smoothing
    from realtime_style.serve.engines import EnginePool
    from realtime_style.serve.jobs import JobQueue
    from realtime_style.serve.protocol import ClientSettings
    from realtime_style.serve.security import Guard
    from realtime_style.serve.sessions import SessionRegistry
    from realtime_style.temporal.smoother import DEFAULT_STRENGTH

    spec = options.engine.with_options(workers=1, spin=False)
    pool = EnginePool(spec, on_note=on_note)
    pool.get(pool.default).warmup(360, 640)
    smooth = options.smooth if options.smooth is not None else default_live_smoothing(pool.providers_active)
    defaults = ClientSettings(style=pool.default, strength=spec.options.strength,
                              preserve_color=spec.options.preserve_color, smooth=smooth)
    jobs = JobQueue(work_dir / "jobs", _convert_job(pool), retention_s=options.retention_minutes * 60.0)
    return studio_cls(pool=pool, sessions=SessionRegistry(options.max_clients), jobs=jobs,
                      guard=Guard(token, options.host, options.allow_hosts), defaults=defaults,
                      smooth_on=smooth or DEFAULT_STRENGTH, max_upload_bytes=options.max_upload_mb << 20,
                      on_note=on_note)


def _convert_job(pool):
    """A job's work: `convert`'s path on the pool's engine for the job's style."""

    def work(job, on_start, on_frame) -> int:
        from realtime_style.io.video_file import EncodeSettings
        from realtime_style.jobs.convert import convert, smoothing_stages, use_nvenc

        result = convert(job.input, job.output, pool.get(job.style),
                         settings=EncodeSettings(nvenc=use_nvenc("auto", pool.provider)),
                         extra_stages=smoothing_stages(job.smooth), on_start=on_start,
                         on_frame=lambda _f: on_frame())
        return result.frames

    return work
