"""Videos uploaded from the page: streamed to disk under a size cap, converted one at a time by
`convert`'s own path (``jobs/convert.py``: frame-exact, timestamps and audio kept), downloaded by
the id the server made, removed after a retention time.

A job's files live in its own folder under the studio's work folder (``<work>/<id>/``); nothing
a client sends names a path. An upload over the cap, or one that is cut off or malformed,
leaves nothing behind; a file that is not a video fails its job with convert's message, and
the job's folder is removed then too (only the record stays, until the retention time).
"""

from __future__ import annotations

import dataclasses
import queue
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from realtime_style.errors import StyleError

ID_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_FIELD_BYTES = 1024
MAX_QUEUED = 16
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class UploadError(Exception):
    """A refused upload: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Job:
    id: str
    filename: str
    style: str
    smooth: float
    folder: Path
    state: str = "queued"  # queued | running | done | failed
    progress: float = 0.0
    error: str | None = None
    frames: int = 0
    total: int = 0
    created: float = dataclasses.field(default_factory=time.time)
    finished: float | None = None
    output_bytes: int = 0

    @property
    def input(self) -> Path:
        suffix = Path(self.filename).suffix
        return self.folder / ("input" + (suffix if _SUFFIX_RE.match(suffix) else ".video"))

    @property
    def output(self) -> Path:
        return self.folder / "output.mp4"

    @property
    def download_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.filename).stem)[:80] or "video"
        return f"{stem}_{self.style}.mp4"

    def to_json(self) -> dict:
        return {"id": self.id, "state": self.state, "progress": round(self.progress, 4), "error": self.error,
                "filename": self.filename, "style": self.style, "smooth": self.smooth, "frames": self.frames,
                "total": self.total, "created": self.created, "output_bytes": self.output_bytes}


class MultipartUpload:
    """A streaming multipart/form-data reader: the part named ``file`` goes straight to
    ``path``, the other fields (small) are kept; ``feed`` raises UploadError(413) the moment the
    body passes ``limit`` bytes (the caller removes what was written)."""

    def __init__(self, content_type: str, path: Path, limit: int) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        self._parse_header = parse_options_header
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadError(400, "send the video as multipart/form-data with a field named 'file'")
        self.path = path
        self.limit = limit
        self.received = 0
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.complete = False
        self._file = None
        self._name: str | None = None
        self._value = bytearray()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end})

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            raise UploadError(413, f"the upload is larger than the server's limit ({self.limit // (1 << 20)} MB, "
                                   "--max-upload-mb)")
        try:
            self._parser.write(chunk)
        except UploadError:
            raise
        except Exception as exc:  # noqa: BLE001 - python-multipart's parse errors: a malformed body
            raise UploadError(400, f"malformed multipart body ({exc})") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- parser callbacks --------------------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers, self._name, self._value = {}, None, bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _kind, params = self._parse_header(self._headers.get("content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file":
            if self._file is not None:
                raise UploadError(400, "send one file per upload")
            self.filename = params.get(b"filename", b"video").decode("utf-8", "replace") or "video"
            self._file = open(self.path, "wb")  # closed in _part_end, or close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == "file":
            self._file.write(data[start:end])
            self.file_bytes += end - start
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field {self._name!r} is too long")

    def _part_end(self) -> None:
        if self._name == "file":
            self.close()
        elif self._name:
            self.fields[self._name] = self._value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.complete = True


class JobQueue:
    """Conversion jobs, run one at a time on a worker thread, with ``convert_job(job)`` doing
    the work and ``retention_s`` after which a finished job and its files are removed."""

    def __init__(self, work_dir: Path, convert_job: Callable[[Job, Callable[[int], None], Callable[[], None]], int],
                 *, retention_s: float = 3600.0) -> None:
        self.work_dir = work_dir
        self.retention_s = retention_s
        self._convert = convert_job
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="studio-jobs", daemon=True)
        self._thread.start()

    def new(self, style: str, smooth: float) -> Job:
        """A job folder for an upload about to be read (``filename`` is set once known)."""
        with self._lock:
            waiting = sum(j.state in ("queued", "running") for j in self._jobs.values())
        if waiting >= MAX_QUEUED:
            raise UploadError(429, f"{waiting} videos are waiting already; try again when one is done")
        job_id = secrets.token_hex(8)
        job = Job(job_id, "video", style, smooth, self.work_dir / job_id)
        job.folder.mkdir(parents=True)
        return job

    def discard(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)

    def submit(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put(job)

    def get(self, job_id: str) -> Job | None:
        self.sweep()
        if not ID_RE.match(job_id):
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        self.sweep()
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created)

    def sweep(self, now: float | None = None) -> None:
        """Remove finished jobs older than the retention time, with their files."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished is not None and now - j.finished > self.retention_s]
            for j in old:
                del self._jobs[j.id]
        for j in old:
            shutil.rmtree(j.folder, ignore_errors=True)

    def close(self) -> None:
        """Stop after the running job's next frame, and remove every job's files."""
        self._closing = True
        self._queue.put(None)
        self._thread.join(timeout=10.0)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [j.state for j in self._jobs.values()]
        return {s: states.count(s) for s in ("queued", "running", "done", "failed")}

    _closing = False

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=30.0)
            except queue.Empty:
                self.sweep()
                continue
            if job is None or self._closing:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        job.state = "running"

        def on_start(total: int) -> None:
            job.total = total

        def on_frame() -> None:
            job.frames += 1
            if job.total:
                job.progress = min(0.999, job.frames / job.total)
            if self._closing:
                raise StyleError("the server is stopping")

        try:
            frames = self._convert(job, on_start, on_frame)
        except Exception as exc:  # noqa: BLE001 - any failure fails this job only, with its reason
            job.error = str(exc) if isinstance(exc, StyleError) else f"internal error ({type(exc).__name__}: {exc})"
            job.state = "failed"
            shutil.rmtree(job.folder, ignore_errors=True)
        else:
            job.input.unlink(missing_ok=True)
            job.frames, job.progress, job.state = frames, 1.0, "done"
            job.output_bytes = job.output.stat().st_size if job.output.exists() else 0
        job.finished = time.time()
