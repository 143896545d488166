"""`models pull NAME`: fetch an original public teacher, verify it, convert it, cache it.

The six ml5 style networks (Engstrom architecture) come from the ml5js/ml5-data-and-models
repository's raw files. Every file's sha256 is pinned (``ml5_sha256.json``). The files land
in ``$REALTIME_STYLE_HOME/teachers/ml5/NAME`` (the teacher `distill` reads by name), and the
converted ONNX model joins the registry under NAME. ``REALTIME_STYLE_MIRROR`` (a directory
or a base URL holding ``ml5/NAME/FILE``) replaces the public source, for offline machines.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from realtime_style.errors import InputError, ModelError, OutputError
from realtime_style.fsutil import atomic_path
from realtime_style.models import registry

ML5_BASE_URL = "https://raw.githubusercontent.com/ml5js/ml5-data-and-models/main/models/style-transfer"
_PINS = Path(__file__).with_name("ml5_sha256.json")
TIMEOUT_S = 30


def pins() -> dict[str, dict[str, str]]:
    return json.loads(_PINS.read_text())


def teacher_dir(name: str) -> Path:
    return registry.home() / "teachers" / "ml5" / name


def _source(name: str, file: str) -> str:
    mirror = os.environ.get("REALTIME_STYLE_MIRROR", "").strip()
    if not mirror:
        return f"{ML5_BASE_URL}/{name}/{file}"
    if "://" in mirror:
        return f"{mirror.rstrip('/')}/ml5/{name}/{file}"
    return str(Path(mirror).expanduser() / "ml5" / name / file)


_ML5_HINT = "offline machines can set REALTIME_STYLE_MIRROR to a directory or URL that holds ml5/NAME/FILE"


@contextlib.contextmanager
def _open_source(src: str, hint: str, missing: str = "the mirror has no") -> Iterator[BinaryIO]:
    """A readable binary stream from a URL or a local path; failures become one-line errors."""
    if "://" not in src:
        try:
            fh = open(src, "rb")
        except OSError as exc:
            raise InputError(f"{missing} {src} ({exc.strerror or exc})") from exc
        with fh:
            yield fh
        return
    try:
        response = urllib.request.urlopen(src, timeout=TIMEOUT_S)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"cannot download {src} ({reason}); {hint}") from exc
    with response:
        yield response


def _chunks(fh: BinaryIO, src: str, hint: str, size: int = 1 << 20) -> Iterator[bytes]:
    while True:
        try:
            chunk = fh.read(size)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise InputError(f"reading {src} broke off ({exc}); {hint}") from exc
        if not chunk:
            return
        yield chunk


def _fetch(src: str) -> bytes:
    with _open_source(src, _ML5_HINT) as fh:
        return b"".join(_chunks(fh, src, _ML5_HINT))


def fetch_file(src: str, target: Path, *, sha256_prefix: str, hint: str,
               on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
    """Stream ``src`` (a URL or a local path) to ``target`` under a temporary name, check that
    its sha256 starts with ``sha256_prefix`` (torchvision's check: the prefix is in the file
    name), then rename it into place. ``on_bytes(done, total)`` reports progress."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256()
    with _open_source(src, hint, missing="cannot read") as fh, atomic_path(target) as tmp:
        total = getattr(fh, "length", None)
        done = 0
        with open(tmp, "wb") as out:
            for chunk in _chunks(fh, src, hint):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_bytes:
                    on_bytes(done, total)
        got = digest.hexdigest()
        if not got.startswith(sha256_prefix):
            raise ModelError(f"{src} has sha256 {got[:16]}..., expected {sha256_prefix}...: the download was "
                             "damaged or the source changed; nothing was kept")
    return target


def download_teacher(name: str, on_file: Callable[[str], None] | None = None) -> Path:
    """Fetch and verify every file of an ml5 teacher into the home, atomically."""
    catalogue = pins()
    if name not in catalogue:
        raise ModelError(f"unknown teacher {name!r}; `models pull` knows {', '.join(sorted(catalogue))}")
    target = teacher_dir(name)
    if target.is_dir() and _verified(target, catalogue[name]):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror or exc}") from exc
    try:
        for file, digest in sorted(catalogue[name].items()):
            data = _fetch(_source(name, file))
            got = hashlib.sha256(data).hexdigest()
            if got != digest:
                raise ModelError(f"{name}/{file} has sha256 {got[:16]}..., expected {digest[:16]}...: "
                                 "the source changed or the download was damaged; nothing was kept")
            (tmp / file).write_bytes(data)
            if on_file:
                on_file(file)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _verified(directory: Path, files: dict[str, str]) -> bool:
    try:
        return all(hashlib.sha256((directory / f).read_bytes()).hexdigest() == d for f, d in files.items())
    except OSError:
        return False


def registered_name(name: str) -> str:
    """The registry name of a pulled teacher: NAME, or NAME-teacher where NAME is a built-in
    (the built-in student of that painting keeps its name)."""
    return f"{name}-teacher" if name in registry.builtin_names() else name


def pull(name: str, overwrite: bool = False, on_file: Callable[[str], None] | None = None):
    """Download (or reuse) the teacher, convert it, and register it (see ``registered_name``)."""
    from realtime_style.models.importer import import_model

    folder = download_teacher(name, on_file)
    return import_model(folder, registered_name(name), "ml5", overwrite=overwrite)
