"""`image`: still images through the engine, each written atomically."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterable

from realtime_style.engine import StyleEngine
from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import why_not_writable
from realtime_style.io.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Picture, read_image, write_image


@dataclasses.dataclass(frozen=True)
class ImageTask:
    source: Path
    target: Path


@dataclasses.dataclass
class ImagePlan:
    """What `image` will do: the tasks, and what it leaves out (said to the user)."""

    tasks: list[ImageTask]
    out: Path  # the output file (one input) or directory
    not_images: list[Path] = dataclasses.field(default_factory=list)  # files in a directory that are no image
    subfolders: list[Path] = dataclasses.field(default_factory=list)  # left out without --recursive
    existing: list[ImageTask] = dataclasses.field(default_factory=list)  # left out by --skip-existing

    def skipped_lines(self) -> list[str]:
        """One line per kind of thing left out, naming a few of them."""
        lines = []
        if self.not_images:
            videos = [p for p in self.not_images if p.suffix.lower() in VIDEO_SUFFIXES]
            hint = "; videos go through `realtime-style convert`" if videos else ""
            lines.append(f"skipped {_count(len(self.not_images), 'file')} that {_is(len(self.not_images))} not "
                         f"an image ({_names(self.not_images)}){hint}")
        if self.subfolders:
            lines.append(f"skipped {_count(len(self.subfolders), 'subfolder')} ({_names(self.subfolders)}); "
                         "--recursive includes them")
        if self.existing:
            lines.append(f"skipped {_count(len(self.existing), 'image')} whose output exists already "
                         "(--skip-existing)")
        return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _is(n: int) -> str:
    return "is" if n == 1 else "are"


def _names(paths: list[Path], limit: int = 3) -> str:
    shown = ", ".join(p.name for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _not_a_video(path: Path) -> None:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        raise InputError(f"{path} is a video; stylize it with `realtime-style convert {path} "
                         f"{path.stem}_styled.mp4` (`image` takes still images)")


def _scan(directory: Path, recursive: bool, plan: ImagePlan) -> list[tuple[Path, Path]]:
    """(file, its path relative to ``directory``) for each image; the rest noted in ``plan``."""
    found = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if recursive:
                found.extend((f, entry.name / rel) for f, rel in _scan(entry, True, plan))
            else:
                plan.subfolders.append(entry)
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            found.append((entry, Path(entry.name)))
        elif entry.is_file():
            plan.not_images.append(entry)
    return found


def plan_tasks(inputs: Iterable[str | Path], output: str | Path, overwrite: bool = False, *,
               skip_existing: bool = False, recursive: bool = False) -> ImagePlan:
    """Expand files and directories, decide each output path, refuse clashes up front.

    A directory's images keep their names under the output directory (with ``recursive``,
    their subfolders too); other files and (without ``recursive``) subfolders are left out
    and listed in the plan. An existing output is an error unless ``overwrite`` (replace it)
    or ``skip_existing`` (leave it and its input out)."""
    out = Path(output).expanduser()
    plan = ImagePlan([], out)
    files: list[tuple[Path, Path]] = []  # (source, where it goes under a directory output)
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = _scan(path, recursive, plan)
            if not found:
                more = "; --recursive looks in its subfolders" if plan.subfolders and not recursive else ""
                raise InputError(f"{path} contains no images ({', '.join(IMAGE_SUFFIXES)}){more}")
            files.extend(found)
        elif path.is_file():
            _not_a_video(path)
            files.append((path, Path(path.name)))
        elif path.exists():
            raise InputError(f"{path} is not a regular file")
        else:
            raise InputError(f"{path} does not exist")
    if not files:
        raise InputError("no input images given")
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
        tasks = [ImageTask(files[0][0], out)]
    else:
        tasks = [ImageTask(f, out / rel) for f, rel in files]
    seen: dict[Path, Path] = {}
    for task in tasks:
        if task.target in seen:
            raise OutputError(f"{seen[task.target]} and {task.source} would both be written to {task.target}")
        seen[task.target] = task.source
        if task.target.resolve() == task.source.resolve():
            raise OutputError(f"output {task.target} would overwrite its own input")
        if task.target.exists() and not overwrite:
            if skip_existing:
                plan.existing.append(task)
                continue
            others = sum(t.target.exists() for t in tasks) - 1
            also = f" (and {_count(others, 'other output')})" if others > 0 else ""
            raise OutputError(f"{task.target} exists{also}; pass --skip-existing to leave existing outputs "
                              "and do the rest, or --overwrite to replace them")
        plan.tasks.append(task)
    return plan


def ensure_parent(tasks: list[ImageTask]) -> None:
    for parent in sorted({t.target.parent for t in tasks}):
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            raise OutputError(f"cannot create {parent}: a file of that name is in the way") from exc
        except OSError as exc:
            above = next((q for q in parent.parents if q.exists()), parent)
            raise OutputError(f"cannot create {parent}: {why_not_writable(exc, above)}") from exc


@dataclasses.dataclass(frozen=True)
class ImageFailure:
    task: ImageTask
    reason: str


class ImagesFailed(InputError):
    """Some images of several could not be done; the others were written."""

    def __init__(self, written: int, total: int, failures: list[ImageFailure], where: Path) -> None:
        shown = "; ".join(f.reason for f in failures[:3])
        more = f"; and {len(failures) - 3} more (each named above)" if len(failures) > 3 else ""
        super().__init__(f"{written} of {total} written to {where}; {len(failures)} failed: {shown}{more}")
        self.written, self.total, self.failures = written, total, failures


def run_tasks(engine: StyleEngine, tasks: list[ImageTask], on_done: Callable[[ImageTask], None] | None = None,
              on_failure: Callable[[ImageFailure], None] | None = None) -> tuple[int, list[ImageFailure]]:
    """Stylize each task in order. A file that cannot be read or written is skipped and
    recorded (the others still go); each output is complete or absent."""
    ensure_parent(tasks)
    failures: list[ImageFailure] = []
    for task in tasks:
        try:
            pic = read_image(task.source)
            write_image(task.target, dataclasses.replace(pic, rgb=engine.stylize(pic.rgb)))
        except (InputError, OutputError) as exc:
            if len(tasks) == 1:
                raise
            failures.append(ImageFailure(task, str(exc)))
            if on_failure:
                on_failure(failures[-1])
            continue
        if on_done:
            on_done(task)
    return len(tasks) - len(failures), failures


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    inputs: tuple[str, ...]  # image files and directories
    output: str  # a file (one input) or a directory
    engine: EngineSpec = EngineSpec()
    overwrite: bool = False
    skip_existing: bool = False  # leave inputs whose output exists (a rerun)
    recursive: bool = False  # directories: their subfolders too, mirrored under the output


@dataclasses.dataclass(frozen=True)
class ImageResult:
    written: int
    where: Path  # the file written, or the directory of several
    provider: str
    precision: str
    skipped_existing: int = 0


def _ignore(*_args) -> None:
    pass


def run(options: ImageOptions, *, on_note: Callable[[str], None] = _ignore,
        on_start: Callable[[int], None] = _ignore, on_done: Callable[[ImageTask], None] = _ignore) -> ImageResult:
    """Plan every output first (clashes refused before any work), say what is left out, then
    stylize in order; bad files are skipped and named, and :class:`ImagesFailed` (exit 1)
    follows at the end when any failed."""
    plan = plan_tasks(options.inputs, options.output, overwrite=options.overwrite,
                      skip_existing=options.skip_existing, recursive=options.recursive)
    for line in plan.skipped_lines():
        on_note(line)
    tasks = plan.tasks
    if not tasks:
        return ImageResult(0, plan.out, "-", "-", len(plan.existing))
    engine = open_engine(options.engine, on_note)
    on_start(len(tasks))
    written, failures = run_tasks(engine, tasks, on_done=on_done,
                                  on_failure=lambda f: on_note(f"skipped {f.reason}"))
    where = tasks[0].target if len(tasks) == 1 else plan.out
    if failures:
        raise ImagesFailed(written, len(tasks), failures, where)
    return ImageResult(written, where, engine.provider, engine.precision, len(plan.existing))


__all__ = ["ImageFailure", "ImageOptions", "ImagePlan", "ImageResult", "ImageTask", "ImagesFailed", "Picture",
           "plan_tasks", "run", "run_tasks"]
