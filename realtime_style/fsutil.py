"""Atomic file writes: write beside the target under a temporary name, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from realtime_style.errors import OutputError


class PendingFile:
    """A temporary file (or directory) beside ``target``, renamed onto it by ``commit``.

    The temporary name keeps ``target``'s suffix so tools that pick a format by extension
    still work. ``discard`` removes it; both are safe to call more than once.
    """

    def __init__(self, target: str | os.PathLike, *, directory: bool = False) -> None:
        self.target = Path(target)
        parent = self.target.parent if str(self.target.parent) else Path(".")
        self._made = _make_parents(parent)  # removed again if nothing is committed
        prefix, suffix = f".{self.target.stem}.", f".tmp{self.target.suffix}"
        try:
            if directory:
                self.path = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
            else:
                fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
                os.close(fd)
                self.path = Path(tmp)
        except OSError as exc:
            _remove_empty(self._made)
            raise OutputError(f"cannot write to {parent}: {why_not_writable(exc, parent)}") from exc
        self.directory = directory
        self.done = False

    def commit(self) -> None:
        """Give the result a normal mode (mkstemp makes 0600) and move it into place."""
        try:
            os.chmod(self.path, _mode_for(self.target, self.directory))
            if self.directory and self.target.is_dir():
                old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
                os.replace(self.target, old)
                os.replace(self.path, self.target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {self.target}: {exc.strerror or exc}") from exc
        self.done = True

    def discard(self) -> None:
        if self.done:
            return
        with contextlib.suppress(OSError):
            if self.directory:
                shutil.rmtree(self.path)
            else:
                self.path.unlink()
        _remove_empty(self._made)
        self.done = True


def _make_parents(parent: Path) -> list[Path]:
    """Create the missing directories above an output (like ``mkdir -p``); return them,
    deepest first. An existing file in the way is an error."""
    missing = []
    p = parent
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p} is a file, not a directory")
    made = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_empty(made[::-1])
            raise OutputError(f"cannot create the output directory {d}: {why_not_writable(exc, d.parent)}") from exc
        made.append(d)
    return made[::-1]


def why_not_writable(exc: OSError, parent: Path) -> str:
    """Why nothing can be created in the existing directory ``parent``, in words a user can act
    on: ``/proc`` answers "No such file or directory" for a file it would never hold."""
    import errno

    if exc.errno == errno.ENOENT and parent.is_dir():
        return f"{parent} does not accept new files (a system or virtual file system); choose another place"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; choose a folder you can write to"
    if exc.errno == errno.EROFS:
        return "read-only file system; choose another place"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and the target is left untouched.
    """
    pending = PendingFile(target)
    try:
        yield pending.path
    except OSError as exc:
        pending.discard()
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        pending.discard()
        raise
    pending.commit()


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _mode_for(target: Path, directory: bool) -> int:
    """The mode of the file being replaced, else what a plain open()/mkdir() would give."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return (0o777 if directory else 0o666) & ~umask
