"""Find, list, add and remove style models.

Built-ins live in ``realtime_style/models/builtin``; imported and pulled models are ONNX
files under ``$REALTIME_STYLE_HOME/models`` (default: the platform's user data dir), written
atomically. A model's description is its own ``metadata_props``. ``home_status()`` says whether
that home can be written, for ``doctor``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
from pathlib import Path

from realtime_style.errors import ModelError, ModelNotFound, OutputError
from realtime_style.fsutil import write_bytes_atomic
from realtime_style.probing import describe_error

BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_STYLE = "wave"  # the built-in default, once built-ins ship
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def home() -> Path:
    """Where pulled and imported models (and caches) live: $REALTIME_STYLE_HOME, else the user data dir."""
    return _locate_home()[0]


def _locate_home() -> tuple[Path, str]:
    """(the home, what chose it: ``"REALTIME_STYLE_HOME"`` or ``"platformdirs"``)."""
    env = os.environ.get("REALTIME_STYLE_HOME")
    if env:
        return Path(env).expanduser(), "REALTIME_STYLE_HOME"
    import platformdirs

    return Path(platformdirs.user_data_dir("realtime-style", appauthor=False)), "platformdirs"


@dataclasses.dataclass(frozen=True)
class HomeStatus:
    """The home, what chose it, and whether it can be written (``detail`` says why not, or that
    it would be created). ``error`` is set only by :meth:`from_error`."""

    path: str | None
    source: str | None
    exists: bool
    writable: bool
    detail: str
    error: str | None = None

    @classmethod
    def from_error(cls, reason: str) -> HomeStatus:
        return cls(None, None, False, False, "", reason)

    def to_json(self) -> dict:
        if self.error is not None:
            return {"path": None, "writable": False, "error": self.error}
        return {"path": self.path, "source": self.source, "exists": self.exists, "writable": self.writable,
                "detail": self.detail}


def home_status() -> HomeStatus:
    """Where the home is and whether models could be saved there; writes nothing that stays."""
    path, source = _locate_home()
    writable, detail = _writable(path)
    return HomeStatus(str(path), source, path.is_dir(), writable, detail)


def _writable(path: Path) -> tuple[bool, str]:
    """Whether ``path`` is a writable directory, or could be created (then ``detail`` says under what)."""
    if path.is_dir():
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-", delete=True):
                pass
        except OSError as exc:
            return False, describe_error(exc)
        return True, ""
    if path.exists():
        return False, "exists but is not a directory"
    # Does not exist yet: could we create it?  Look at the nearest existing parent.
    parent = Path(os.path.abspath(path)).parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return True, f"does not exist yet; can be created under {parent}"
    return False, f"does not exist and {parent} is not writable"


def user_models_dir() -> Path:
    return home() / "models"


@dataclasses.dataclass
class ModelRecord:
    name: str
    builtin: bool
    path: str
    arch: str
    license: str
    artwork: str
    source: str
    sha256: str
    teacher: str = ""
    precision: str = "fp32"
    size: str = "dynamic"
    bytes: int = 0
    card: str = ""  # the model card (NAME.md beside the model), if there is one
    default: bool = False  # the style used when no --style is given
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self, full: bool = False) -> dict:
        data = dataclasses.asdict(self)
        if not full:
            data.pop("metadata")
        return data


def read_metadata(path: Path) -> tuple[dict[str, str], str]:
    """(metadata_props, 'dynamic' or 'WxH') of an ONNX file without starting a session."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable ONNX file: {exc}") from exc
    meta = {p.key: p.value for p in model.metadata_props}
    size = "dynamic"
    if model.graph.input:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value") and dims[2].HasField("dim_value"):
            size = f"{dims[2].dim_value}x{dims[1].dim_value}"
    return meta, size


def record_for(path: Path, name: str, builtin: bool) -> ModelRecord:
    data = path.read_bytes()
    meta, size = read_metadata(path)
    return ModelRecord(
        name=name,
        builtin=builtin,
        path=str(path),
        arch=meta.get("arch", "unknown"),
        license=meta.get("license", "unknown"),
        artwork=meta.get("artwork", "unknown"),
        source=meta.get("source", "unknown"),
        sha256=hashlib.sha256(data).hexdigest(),
        teacher=meta.get("teacher", ""),
        precision=meta.get("precision", "fp32"),
        size=size,
        bytes=len(data),
        card=str(path.with_suffix(".md")) if path.with_suffix(".md").is_file() else "",
        metadata=meta,
    )


def _files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.onnx")) if p.is_file()}


def builtin_names() -> list[str]:
    return sorted(_files(BUILTIN_DIR))


def _default_or_none() -> str | None:
    try:
        return default_name()
    except ModelNotFound:
        return None


def list_models() -> list[ModelRecord]:
    """Every style; exactly one (``default``) is used when no --style is given."""
    default = _default_or_none()
    records = [dataclasses.replace(record_for(p, n, True), default=n == default)
               for n, p in _files(BUILTIN_DIR).items()]
    builtins = {r.name for r in records}
    records += [record_for(p, n, False) for n, p in _files(user_models_dir()).items() if n not in builtins]
    return records


def find(name: str) -> tuple[Path, bool]:
    """(path, builtin) of a named model. Names match regardless of case (``Wave`` is
    ``wave``) unless two styles differ only in case; an unknown name gets the closest ones."""
    builtin = _files(BUILTIN_DIR)
    if name in builtin:
        return builtin[name], True
    user = _files(user_models_dir())
    if name in user:
        return user[name], False
    known = sorted(set(builtin) | set(user))
    folded = [n for n in known if n.lower() == name.lower()]
    if len(folded) == 1:
        return find(folded[0])
    import difflib

    lower = {n.lower(): n for n in known}
    close = [lower[n] for n in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)]
    guess = f"did you mean {' or '.join(repr(n) for n in close)}? " if close else ""
    hint = f"known styles: {', '.join(known)}" if known else "no styles are installed yet"
    raise ModelNotFound(
        f"unknown style {name!r} ({guess}{hint}); import one with `realtime-style models import PATH --name NAME`"
    )


def info(name: str) -> ModelRecord:
    path, builtin = find(name)
    name = path.stem
    return dataclasses.replace(record_for(path, name, builtin), default=builtin and name == _default_or_none())


def names() -> list[str]:
    """Every style name: the built-ins, then the user's own (in name order)."""
    builtin = builtin_names()
    return builtin + sorted(n for n in _files(user_models_dir()) if n not in builtin)


def default_name() -> str:
    """The style used when no --style is given: ``wave`` if built in, else the first built-in."""
    builtin = builtin_names()
    if not builtin:
        raise ModelNotFound(
            "no --style given and no built-in styles are installed; import one with "
            "`realtime-style models import PATH --name NAME` and pass --style NAME"
        )
    return DEFAULT_STYLE if DEFAULT_STYLE in builtin else builtin[0]


def resolve_style(style: str | None) -> Path:
    """``--style``: a registry name, or a path to an ``.onnx`` file; None: the default."""
    if style is None:
        return find(default_name())[0]
    candidate = Path(style).expanduser()
    if style.lower().endswith(".onnx") or os.sep in style or (candidate.is_file() and not NAME_RE.match(style)):
        if not candidate.is_file():
            raise ModelError(f"model file {candidate} does not exist")
        return candidate
    return find(style)[0]


def style_label(style: str) -> str:
    """How reports name a ``--style``: a registry name as is, a model path by its file stem."""
    return Path(style).stem if style.lower().endswith(".onnx") else style


def check_name(name: str) -> None:
    if not NAME_RE.match(name) or name.lower().endswith(".onnx"):
        raise ModelError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, starting with a letter or digit, not ending in .onnx)"
        )


def add(name: str, data: bytes, overwrite: bool = False) -> Path:
    check_name(name)
    if name in builtin_names():
        raise ModelError(f"{name!r} is a built-in style; choose another --name")
    directory = user_models_dir()
    target = directory / f"{name}.onnx"
    if target.exists() and not overwrite:
        raise OutputError(f"a model named {name!r} exists already; pass --overwrite or `models remove {name}` first")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the model directory {directory}: {exc.strerror or exc}") from exc
    write_bytes_atomic(target, data)
    return target


def remove(name: str) -> Path:
    path, builtin = find(name)
    if builtin:
        raise ModelError(f"{name!r} is a built-in style and cannot be removed")
    try:
        path.unlink()
    except OSError as exc:
        raise OutputError(f"cannot remove {path}: {exc.strerror or exc}") from exc
    return path
