"""`image`: still images through the engine, each written atomically."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterable

from realtime_style.engine import StyleEngine
from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import InputError, OutputError
from realtime_style.io.images import IMAGE_SUFFIXES, Picture, list_images, read_image, write_image


@dataclasses.dataclass(frozen=True)
class ImageTask:
    source: Path
    target: Path


def plan_tasks(inputs: Iterable[str | Path], output: str | Path, overwrite: bool = False) -> list[ImageTask]:
    """Expand files and directories, decide each output path, refuse clashes up front."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise InputError(f"{path} contains no images ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise InputError(f"{path} is not a regular file")
        else:
            raise InputError(f"{path} does not exist")
    if not files:
        raise InputError("no input images given")
    out = Path(output).expanduser()
    single_file = (
        len(files) == 1
        and not out.is_dir()
        and not str(output).endswith(("/", "\\"))
        and out.suffix.lower() in IMAGE_SUFFIXES
    )
    if (len(files) == 1 and not out.exists() and out.suffix and not str(output).endswith(("/", "\\"))
            and out.suffix.lower() not in IMAGE_SUFFIXES):
        raise OutputError(
            f"unknown image format {out.suffix}; use one of {', '.join(IMAGE_SUFFIXES)} "
            f"(or end the path with / for a directory)"
        )
    if not single_file and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        raise OutputError(f"{len(files)} images cannot go into the single file {out}; give a directory")
    if not single_file and out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory")
    if single_file:
        tasks = [ImageTask(files[0], out)]
    else:
        tasks = [ImageTask(f, out / f.name) for f in files]
    seen: dict[Path, Path] = {}
    for task in tasks:
        if task.target in seen:
            raise OutputError(f"{seen[task.target]} and {task.source} would both be written to {task.target}")
        seen[task.target] = task.source
        if task.target.resolve() == task.source.resolve():
            raise OutputError(f"output {task.target} would overwrite its own input")
        if task.target.exists() and not overwrite:
            raise OutputError(f"{task.target} exists; pass --overwrite to replace it")
    return tasks


def ensure_parent(tasks: list[ImageTask]) -> None:
    for parent in {t.target.parent for t in tasks}:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {parent}: {exc.strerror or exc}") from exc


def run_tasks(engine: StyleEngine, tasks: list[ImageTask], on_done: Callable[[ImageTask], None] | None = None) -> int:
    """Stylize each task in order; stop at the first failure (earlier outputs are complete)."""
    ensure_parent(tasks)
    for done, task in enumerate(tasks):
        try:
            pic = read_image(task.source)
            write_image(task.target, dataclasses.replace(pic, rgb=engine.stylize(pic.rgb)))
        except (InputError, OutputError) as exc:
            if done:
                raise type(exc)(f"{exc} ({done} of {len(tasks)} images were written)") from exc
            raise
        if on_done:
            on_done(task)
    return len(tasks)


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    inputs: tuple[str, ...]  # image files and directories
    output: str  # a file (one input) or a directory
    engine: EngineSpec = EngineSpec()
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class ImageResult:
    written: int
    where: Path  # the file written, or the directory of several
    provider: str
    precision: str


def _ignore(*_args) -> None:
    pass


def run(options: ImageOptions, *, on_note: Callable[[str], None] = _ignore,
        on_start: Callable[[int], None] = _ignore, on_done: Callable[[ImageTask], None] = _ignore) -> ImageResult:
    """Plan every output first (clashes refused before any work), then stylize in order."""
    tasks = plan_tasks(options.inputs, options.output, overwrite=options.overwrite)
    engine = open_engine(options.engine, on_note)
    on_start(len(tasks))
    written = run_tasks(engine, tasks, on_done=on_done)
    where = tasks[0].target if len(tasks) == 1 else tasks[0].target.parent
    return ImageResult(written, where, engine.provider, engine.precision)


__all__ = ["ImageOptions", "ImageResult", "ImageTask", "Picture", "plan_tasks", "run", "run_tasks"]
