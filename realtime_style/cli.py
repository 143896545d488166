"""The command line: parses options into a job's options, runs the job, prints its result.

Each command's work is a job in ``realtime_style/jobs/`` (an options dataclass and ``run``);
this module only parses, delegates and prints. Every failure the user can act on is a
StyleError, printed as one ``error: ...`` line with exit code 1 (tracebacks only after
``--debug``); Ctrl-C exits 130. This is the only module that prints for the user.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from realtime_style import __version__
from realtime_style.errors import QuietExit, StyleError
from realtime_style.models.registry import DEFAULT_STYLE

# Metavars in help: Typer would print <str>, <int range>, <list[str]>; these say what to type.
_METAVARS = {"style": "NAME|PATH", "output": "PATH", "json_path": "PATH", "stats": "PATH", "record": "PATH",
             "plot": "PATH", "out": "PATH", "data": "DIR", "teacher_cache": "DIR", "style_image": "IMAGE",
             "vgg_weights": "PATH",
             "tls_cert": "PATH", "tls_key": "PATH", "allow_host": "NAME", "host": "ADDRESS",
             "verify_image": "IMAGE", "sizes": "WxH,...", "providers": "LIST",
             "precisions": "LIST", "source": "0|PATH|synthetic", "init": "NAME|PATH", "teacher": "NAME|PATH",
             **dict.fromkeys(("provider", "precision", "codec", "preset", "mode", "flow", "arch", "device",
                              "optimizer", "fmt", "motion", "name", "license", "artwork"), "NAME")}
_TYPE_METAVARS = {"int": "N", "float": "X", "str": "TEXT"}


def _plain_metavars(command) -> None:
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)
    for param in command.params:
        if isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = lambda ctx: None  # its metavar is enough (INPUT..., OUTPUT.onnx)
            param.metavar = param.metavar or param.name.upper()
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            kind = param.bare_type().removeprefix("list[").removesuffix("]")
            if param.name == "size":
                param.metavar = "WxH" if kind == "str" else "N"
            else:
                param.metavar = _METAVARS.get(param.name) or _TYPE_METAVARS.get(kind, "TEXT")


class StyleGroup(typer.core.TyperGroup):
    """The root command: ``--debug`` is accepted anywhere on the line (moved before the
    command, where the root option lives); usage errors are one plain line, exit 2."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _plain_metavars(self)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from typer._click import exceptions as click_errors

        args = list(sys.argv[1:] if args is None else args)
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [x for x in args[:end] if x != "--debug"] + args[end:]
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _err(f"error: {' '.join(exc.format_message().split())}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            _err("aborted")
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=StyleGroup,
    name="realtime-style",
    help="Real-time neural style transfer for images, video files and the webcam (ONNX Runtime).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List, inspect, import and remove style models.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(models_app, name="models")

_state = {"debug": False}


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _note(message: str) -> None:
    _err(f"note: {message}")


def _above(progress, prefix: str = ""):
    """Lines printed above a running progress bar instead of through it (plain stderr without one)."""
    if progress.disable:
        return lambda message: _err(prefix + message)
    return lambda message: progress.console.print(prefix + message, markup=False, highlight=False, soft_wrap=True)


def _note_above(progress):
    """Notes printed above a running progress bar instead of through it."""
    return _above(progress, "note: ")


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 frame', '3 frames'."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"realtime-style {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True)] = None,
) -> None:
    _state["debug"] = debug


def reports_errors(fn):
    """Turn StyleErrors into one line + exit 1, Ctrl-C into exit 130, bugs into one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors keep exit 2
            raise
        except QuietExit as exc:
            raise typer.Exit(exc.code) from None
        except BrokenPipeError:  # stdout piped into `head` and closed: not an error of ours
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            _err("interrupted")
            raise typer.Exit(130) from None
        except StyleError as exc:
            if _state["debug"]:
                raise
            _err(f"error: {exc}")
            raise typer.Exit(1) from None
        except MemoryError as exc:
            if _state["debug"]:
                raise
            _err(f"error: out of memory ({exc or 'MemoryError'}); try a smaller frame size (--size, --max-side)")
            raise typer.Exit(1) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            _err(f"error: internal error ({type(exc).__name__}: {exc}); rerun with --debug for the traceback")
            raise typer.Exit(1) from None

    return wrapper


# -- shared inference options --------------------------------------------------------------
StyleOpt = Annotated[Optional[str], typer.Option("--style", "-s", help="A style name or a path to an .onnx file "
                                                 f"(default: {DEFAULT_STYLE}, built in; `models list` shows all).")]
ProviderOpt = Annotated[str, typer.Option(help="auto|tensorrt|cuda|cpu (auto: the fastest that really loads).")]
PrecisionOpt = Annotated[str, typer.Option(help="auto|fp32|fp16 (auto: fp16 on GPU, fp32 on CPU).")]
MaxSideOpt = Annotated[int, typer.Option(min=0, help="Longest side the network sees (0 = source size).")]
StrengthOpt = Annotated[float, typer.Option(min=0.0, max=1.0, help="Style strength, 1 = full style.")]
PreserveOpt = Annotated[bool, typer.Option("--preserve-color", "--preserve-colour",
                                           help="Keep the source's colours.")]
ThreadsOpt = Annotated[int, typer.Option(min=0, help="CPU threads (0 = automatic).")]
MaxFramesOpt = Annotated[int, typer.Option("--max-frames", min=0, help="Stop after N frames (0 = all).")]
# The old spelling of --max-frames (convert, eval): still accepted, not shown.
FrameLimitAlias = Annotated[Optional[int], typer.Option("--frame-limit", min=0, hidden=True)]


def _alias(value, alias):
    """An option's value, or its hidden old spelling's when that was given."""
    return value if alias is None else alias


DEFAULT_CRF = 23  # realtime_style.io.video_file.EncodeSettings.crf (checked by a test); RESULTS.md, issue 17
DEFAULT_SMOOTH = 0.8  # realtime_style.temporal.smoother.DEFAULT_STRENGTH (checked by a test)
SmoothOpt = Annotated[float, typer.Option(min=0.0, max=1.0, help="Temporal smoothing along the input's motion "
                                          "(0 = off, exactly the per-frame output).")]


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    value = value.lower()
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    return value


def _engine(style, *, provider, precision, max_side, strength, preserve_color, threads, workers=1):
    """The shared inference options, parsed into what a job asks of the engine."""
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec
    from realtime_style.engine.options import PRECISIONS, PROVIDERS

    options = InferenceOptions(provider=_choice(provider, PROVIDERS, "--provider"),
                               precision=_choice(precision, PRECISIONS, "--precision"), max_side=max_side,
                               strength=strength, preserve_color=preserve_color, threads=threads, workers=workers)
    return EngineSpec(style, options, verbose=_state["debug"])


MAX_FRAME_SIDE = 16384  # 16K: beyond any camera, screen or video codec level


def _parse_size(text: Optional[str], option: str = "--size") -> Optional[tuple[int, int]]:
    """'WxH' -> (H, W)."""
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x360", param_hint=option) from None
    if w < 1 or h < 1:
        raise typer.BadParameter("sizes must be positive", param_hint=option)
    if max(w, h) > MAX_FRAME_SIDE:
        raise typer.BadParameter(f"{text} is larger than any camera or screen (at most {MAX_FRAME_SIDE} px on a "
                                 "side), e.g. 1280x720", param_hint=option)
    return h, w


VerifyOpt = Annotated[Optional[list[str]], typer.Option(help="Real images to verify the export on (repeatable).")]


class LineProgress:
    """Progress for logs and pipes, where a bar cannot redraw: one plain line on stderr every
    ``interval_s`` seconds of work ("converting: 120 of 350 frames (34 %), 11.8 fps, about 20 s
    left"); nothing for work shorter than that. The part of rich's Progress the commands use."""

    disable = True  # notes go straight to stderr (nothing to print above)

    def __init__(self, interval_s: float = 10.0, clock=None) -> None:
        import time

        self.interval_s = interval_s
        self.clock = clock or time.monotonic
        self.tasks: list[dict] = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def add_task(self, description: str, total: float | None = None) -> int:
        now = self.clock()
        self.tasks.append({"description": description, "total": total, "done": 0, "start": now, "last": now})
        return len(self.tasks) - 1

    def update(self, task: int, total: float | None = None) -> None:
        self.tasks[task]["total"] = total

    def advance(self, task: int, amount: float = 1) -> None:
        t = self.tasks[task]
        t["done"] += amount
        now = self.clock()
        if now - t["last"] < self.interval_s or (t["total"] and t["done"] >= t["total"]):
            return  # not yet; or finished (the command's summary line follows)
        t["last"] = now
        rate = t["done"] / max(now - t["start"], 1e-9)
        line = f"{t['description']}: {t['done']:g}"
        if t["total"]:
            left = (t["total"] - t["done"]) / rate if rate else 0
            line += f" of {t['total']:g} ({100 * t['done'] / t['total']:.0f} %), {rate:.1f}/s, about {left:.0f} s left"
        else:
            line += f", {rate:.1f}/s"
        _err(line)


def _progress():
    """A progress bar on stderr (frames, FPS, ETA) on a terminal; in logs and pipes a plain line
    every few seconds instead (``LineProgress``)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class FpsColumn(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:5.1f} fps" if task.speed else "  ... fps")

    console = Console(stderr=True)
    if not console.is_terminal:
        return LineProgress()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        FpsColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


# -- image -----------------------------------------------------------------------------------
@app.command()
@reports_errors
def image(
    inputs: Annotated[list[str], typer.Argument(help="Image files or directories.", metavar="INPUT...")],
    output: Annotated[str, typer.Option("--output", "-o", help="A file (one input) or a directory.")],
    style: StyleOpt = None,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    skip_existing: Annotated[bool, typer.Option("--skip-existing", help="Leave inputs whose output exists "
                                                "already (a rerun does only the rest).")] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Directories: their subfolders too, "
                                            "mirrored under the output directory.")] = False,
) -> None:
    """Stylize still images; outputs keep each input's size, alpha and bit depth.

    A bad file among several is skipped and named; the rest are written (exit 1 at the end)."""
    from realtime_style.jobs import image as job

    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads)
    with _progress() as progress:
        bar = None

        def start(total: int) -> None:
            nonlocal bar
            if total > 1:
                bar = progress.add_task("stylizing images", total=total)

        options = job.ImageOptions(tuple(inputs), output, spec, overwrite, skip_existing=skip_existing,
                                   recursive=recursive)
        result = job.run(options, on_note=_note_above(progress), on_start=start,
                         on_done=lambda _t: bar is not None and progress.advance(bar))
    if not result.written:
        _err(f"nothing to do: every output in {result.where} exists already (--skip-existing)")
        return
    _err(f"wrote {_count(result.written, 'image')} to {result.where} ({result.provider}, {result.precision})")


# -- export ----------------------------------------------------------------------------------
@app.command("export")
@reports_errors
def export_cmd(
    checkpoint: Annotated[str, typer.Argument(help="Our .safetensors checkpoint, a pytorch/examples .pth, or an "
                                              "ml5 directory.")],
    output: Annotated[str, typer.Argument(help="The .onnx file to write.", metavar="OUTPUT.onnx")],
    precision: Annotated[str, typer.Option(help="fp32|fp16 (fp16 keeps uint8 I/O, gated on PSNR against "
                                           "fp32).")] = "fp32",
    size: Annotated[Optional[str], typer.Option(help="WxH for a static export (default: dynamic height and "
                                                "width).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|ml5|pytorch-examples|checkpoint")] = "auto",
    name: Annotated[Optional[str], typer.Option(help="Model name in the metadata (default: the file's stem).")] = None,
    license: Annotated[Optional[str], typer.Option(help="Licence of the weights, for the metadata.")] = None,
    artwork: Annotated[Optional[str], typer.Option(help="The artwork, for the metadata.")] = None,
    source: Annotated[Optional[str], typer.Option(help="Where the weights come from, for the metadata.")] = None,
    verify_image: VerifyOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUTPUT.")] = False,
) -> None:
    """Export a PyTorch checkpoint to a style-model ONNX file, verified before it is kept."""
    from realtime_style.jobs import export as job

    result = job.run(job.ExportOptions(
        checkpoint, output, precision=_choice(precision, ("fp32", "fp16"), "--precision"), size=_parse_size(size),
        fmt=fmt, name=name, license=license, artwork=artwork, source=source, verify_images=tuple(verify_image or ()),
        overwrite=overwrite))
    _err(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB, {precision}, {size if size else 'dynamic size'})")
    _err(result.summary)


# -- convert ---------------------------------------------------------------------------------
@app.command()
@reports_errors
def convert(
    input: Annotated[str, typer.Argument(help="A video file, or a directory of PNG/JPEG frames.")],
    output: Annotated[str, typer.Argument(help="A .mp4/.mkv/.mov file, or a directory for one PNG per frame.")],
    style: StyleOpt = None,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    workers: Annotated[int, typer.Option(min=0, help="Frames inferred at once (0 = automatic: one per CPU core "
                                          "on the CPU provider).")] = 0,
    codec: Annotated[str, typer.Option(help="Video encoder: auto (h264_nvenc when the network runs on a GPU "
                                       "and NVENC works here, else libx264), libx264, libx265, h264_nvenc, "
                                       "...")] = "auto",
    crf: Annotated[int, typer.Option(min=0, max=51, help="Quality: lower is better and bigger; every 3 steps "
                                     "about halve or double the file (nvenc: cq).")] = DEFAULT_CRF,
    preset: Annotated[str, typer.Option(help="x264/x265 speed preset (slower presets: smaller files).")] = "superfast",
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Drop the audio streams.")] = False,
    max_frames: MaxFramesOpt = 0,
    frame_limit: FrameLimitAlias = None,
    fps: Annotated[float, typer.Option(min=0.001, help="Frame rate for a frame-directory input.")] = 25.0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUTPUT.")] = False,
    smooth: SmoothOpt = DEFAULT_SMOOTH,
) -> None:
    """Stylize a video frame by frame: same frames, size, timestamps; audio kept."""
    from realtime_style.jobs import convert as job

    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads, workers=workers)
    options = job.ConvertOptions(input, output, spec, codec=codec, crf=crf, preset=preset, audio=not no_audio,
                                 frame_limit=_alias(max_frames, frame_limit), fps=fps, overwrite=overwrite,
                                 smooth=smooth)
    with _progress() as progress:
        bar = progress.add_task("converting frames", total=None)
        result = job.run(options, on_note=_note_above(progress),
                         on_start=lambda total: progress.update(bar, total=total or None),
                         on_frame=lambda _f: progress.advance(bar))
    streams = result.audio_streams
    audio = f", {streams} audio stream{'s' if streams != 1 else ''} kept" if streams else ""
    summary = (f"{_count(result.frames, 'frame')} in {result.stats.wall_s:.1f} s ({result.stats.fps:.1f} fps, "
               f"{result.provider}){audio}")
    size = f"{result.bytes / 1e6:.1f} MB" + (f", {result.kbit_s / 1000:.1f} Mbit/s" if result.kbit_s else "")
    if result.interrupted:
        _err(f"interrupted: kept a playable {result.output} ({size}) with the first {summary}")
        raise typer.Exit(130)
    _err(f"wrote {result.output} ({size}): {summary}")


# -- batch -----------------------------------------------------------------------------------
@app.command()
@reports_errors
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Video files, directories of videos, globs.",
                                                metavar="INPUT...")],
    output: Annotated[str, typer.Option("--output", "-o", help="The output directory (OUTDIR/<stem>.mp4, "
                                        "OUTDIR/batch.json).", metavar="OUTDIR")],
    style: StyleOpt = None,
    engine: Annotated[str, typer.Option(help="local (a process pool here) or ray (a Ray cluster; pip install "
                                        "'realtime-style[ray]').", metavar="local|ray")] = "local",
    address: Annotated[Optional[str], typer.Option(help="--engine ray: auto (a running cluster) or HOST:PORT; "
                                                   "none: a local Ray instance.", metavar="ADDR")] = None,
    workers: Annotated[int, typer.Option(min=0, help="Workers (0 = one per GPU, else one per CPU core; ray: "
                                         "one per slot of the cluster).")] = 0,
    segment_seconds: Annotated[Optional[float], typer.Option(min=0.0, help="Split files into segments of about "
                                                             "N seconds at keyframes (default: automatic from "
                                                             "the file's length and the workers; 0 = never).",
                                                             metavar="N")] = None,
    smooth: SmoothOpt = DEFAULT_SMOOTH,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    codec: Annotated[str, typer.Option(help="Video encoder: auto, libx264, libx265, h264_nvenc, ...")] = "auto",
    crf: Annotated[int, typer.Option(min=0, max=51, help="Quality: lower is better and bigger.")] = DEFAULT_CRF,
    preset: Annotated[str, typer.Option(help="x264/x265 speed preset.")] = "superfast",
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Drop the audio streams.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace outputs in OUTDIR that no earlier batch wrote.")] = False,
    retries: Annotated[int, typer.Option(min=0, help="Tries again for a unit whose worker died.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="A summary as JSON on stdout.")] = False,
) -> None:
    """Stylize many videos into OUTDIR, each frame-exact with its audio; resumable (OUTDIR/batch.json).

    One failing input does not stop the others (exit 1 at the end, naming it)."""
    from realtime_style.batch.worker import WorkerSpec
    from realtime_style.jobs import batch as job

    engine = _choice(engine, job.ENGINES, "--engine")
    if address is not None and engine != "ray":
        raise typer.BadParameter("--address needs --engine ray", param_hint="--address")
    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads)
    options = job.BatchOptions(tuple(inputs), output, WorkerSpec(spec, codec=codec, crf=crf, preset=preset,
                                                                 smooth=smooth, audio=not no_audio),
                               engine=engine, address=address, workers=workers, segment_seconds=segment_seconds,
                               overwrite=overwrite, max_retries=retries)
    with _progress() as progress:
        bar = progress.add_task("batch frames", total=None)
        say, line = _note_above(progress), _above(progress)

        def on_input(s) -> None:
            if s.state == "skipped":
                line(f"skipped {s.input}: done by an earlier run ({s.output})")
            elif s.state == "failed":
                line(f"failed  {s.input}: {s.error}")
            else:
                workers_used = ", ".join(s.worker)
                retried = f", {_count(s.retries, 'retry', 'retries')}" if s.retries else ""
                parts = f", {s.segments} segments" if s.segments else ""
                line(f"done    {s.input} -> {s.output}: {_count(s.frames, 'frame')} in {s.seconds:.1f} s "
                     f"({s.fps:.1f} fps{parts}, {workers_used}{retried})")

        result = job.run(options, on_note=say, on_start=lambda total: progress.update(bar, total=total or None),
                         on_progress=lambda n: progress.advance(bar, n), on_input=on_input)
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=1))
    done, skipped, failed = result.count("done"), result.count("skipped"), result.failed
    pool = f" ({result.engine}, {_count(result.workers, 'worker')})" if result.workers else ""
    summary = (f"{done} of {_count(len(result.inputs), 'input')} written to {result.outdir} in {result.wall_s:.1f} s"
               f"{pool}" + (f", {skipped} skipped (done before)" if skipped else ""))
    if result.interrupted:
        _err(f"interrupted: {summary}; finished files and segments are kept, a rerun does the rest")
        raise typer.Exit(130)
    if failed:
        names = "; ".join(f"{f.input} ({f.error})" for f in failed[:3]) + (" ..." if len(failed) > 3 else "")
        _err(f"error: {len(failed)} of {_count(len(result.inputs), 'input')} failed: {names}; {summary}")
        raise typer.Exit(1)
    _err(summary)


# -- live ------------------------------------------------------------------------------------
@app.command()
@reports_errors
def live(
    source: Annotated[str, typer.Option(help="A camera index, a video file or frame directory played as a "
                                        "camera, or 'synthetic' (a moving test scene).")] = "0",
    size: Annotated[Optional[str], typer.Option(help="WIDTHxHEIGHT asked of the camera (default 640x360), or "
                                                "the size a file or the synthetic scene is played at.")] = None,
    fps: Annotated[Optional[float], typer.Option(min=0.1, help="Frame rate asked of the camera / of the "
                                                 "synthetic scene / of a frame directory.")] = None,
    style: StyleOpt = None,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    mirror: Annotated[bool, typer.Option("--mirror", help="Flip left-right, like a mirror.")] = False,
    loop: Annotated[bool, typer.Option("--loop", help="Replay a file source from the start when it ends.")] = False,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Show the original beside the "
                                               "stylized frame.")] = False,
    headless: Annotated[bool, typer.Option("--headless", help="No window (with --virtual-cam, --record, "
                                           "--stats).")] = False,
    max_frames: Annotated[int, typer.Option(min=0, help="Stop after N captured frames (0 = no limit).")] = 0,
    duration: Annotated[float, typer.Option(min=0.0, help="Stop after N seconds (0 = no limit).")] = 0.0,
    stats: Annotated[Optional[str], typer.Option(help="Write run statistics as JSON here when the run ends.")] = None,
    virtual_cam: Annotated[bool, typer.Option("--virtual-cam", help="Send the stylized stream to a virtual "
                                              "camera (v4l2loopback / OBS), 1280x720 at 30 fps.")] = False,
    record: Annotated[Optional[str], typer.Option(help="Also write the stylized stream to this "
                                                  ".mp4/.mkv/.mov.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --record file.")] = False,
    smooth: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help=f"Temporal smoothing (default: "
                                                    f"{DEFAULT_SMOOTH} when the network runs on a GPU, off on "
                                                    f"the CPU; the `s` key toggles {DEFAULT_SMOOTH}).")] = None,
) -> None:
    """Stylize a webcam (or a file played as one) live: window, virtual camera, recording."""
    from realtime_style.jobs import live as job

    wh = _parse_size(size)
    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads)
    config = job.LiveConfig(source=source, size=(wh[1], wh[0]) if wh else None, fps=fps, loop=loop, mirror=mirror,
                            headless=headless, max_frames=max_frames, duration_s=duration,
                            stats_path=Path(stats) if stats else None, virtual_cam=virtual_cam,
                            record=Path(record) if record else None, overwrite=overwrite, engine=spec,
                            side_by_side=side_by_side, smooth=smooth)
    result = job.run(config, on_note=_note)
    s = result.stats
    lat = s["latency_ms"]
    _err(f"{s['frames_displayed']} of {_count(s['frames_captured'], 'frame')} shown at {s['fps']:.1f} fps "
         f"(model {s['model_fps']:.1f} fps, {s['provider']}); latency p50 {lat['p50']} ms, p95 {lat['p95']} ms"
         + (f"; recorded {_count(result.recorded, 'frame')} to {record}" if record else ""))
    if result.interrupted:
        raise typer.Exit(130)


# -- serve -----------------------------------------------------------------------------------
@app.command()
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (any other than loopback needs --token).")] = \
        "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 = any free one).")] = 8000,
    token: Annotated[Optional[str], typer.Option(help="Required on every request and on the stream "
                                                 "(Authorization: Bearer T or ?token=T); 'auto' generates one "
                                                 "and prints the URL with it.")] = None,
    style: StyleOpt = None,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    smooth: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help=f"Smoothing a new page starts with "
                                                    f"(default: as `live`, {DEFAULT_SMOOTH} on a GPU, off on "
                                                    "the CPU); the page's checkbox toggles it.")] = None,
    max_clients: Annotated[int, typer.Option(min=1, help="Pages streaming at once; more are told the "
                                             "studio is busy.")] = 4,
    max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest video upload (413 beyond it).")] = 2048,
    allow_host: Annotated[Optional[list[str]], typer.Option(help="Another name the server may be reached by "
                                                            "(Host header check against DNS rebinding; "
                                                            "repeatable; '*' = any).")] = None,
    tls_cert: Annotated[Optional[str], typer.Option(help="PEM certificate: serve HTTPS (browsers give the "
                                                    "camera only to https pages and localhost).")] = None,
    tls_key: Annotated[Optional[str], typer.Option(help="PEM private key of --tls-cert.")] = None,
    retention_minutes: Annotated[float, typer.Option(min=0.0, help="Converted videos are removed this long "
                                                     "after their job finished.")] = 60.0,
) -> None:
    """The web studio: your webcam stylized in the browser (locally, or from a GPU server), and
    video uploads converted frame-exact with audio kept."""
    from realtime_style.jobs import serve as job

    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads)
    options = job.ServeOptions(host=host, port=port, token=token, engine=spec, max_upload_mb=max_upload_mb,
                               max_clients=max_clients, allow_hosts=tuple(allow_host or ()),
                               tls_cert=Path(tls_cert) if tls_cert else None,
                               tls_key=Path(tls_key) if tls_key else None, retention_minutes=retention_minutes,
                               smooth=smooth)

    def ready(url: str) -> None:
        _err(f"studio: {url}")
        _err("stop it with Ctrl-C")

    result = job.run(options, on_ready=ready, on_note=_note)
    if result.interrupted:
        _err("stopped")
        raise typer.Exit(130)


# -- eval ------------------------------------------------------------------------------------
@app.command("eval")
@reports_errors
def eval_command(
    input: Annotated[str, typer.Argument(help="A video file, or a directory of frames (Sintel layout for --flow gt).")],
    smooth: SmoothOpt = DEFAULT_SMOOTH,
    flow: Annotated[str, typer.Option(help="dis: OpenCV DIS (medium preset, full resolution; not the smoother's "
                                      "flow); gt: ground-truth .flo files beside the frames.")] = "dis",
    style: StyleOpt = None,
    provider: ProviderOpt = "auto",
    precision: PrecisionOpt = "auto",
    max_side: MaxSideOpt = 0,
    strength: StrengthOpt = 1.0,
    preserve_color: PreserveOpt = False,
    threads: ThreadsOpt = 0,
    max_frames: MaxFramesOpt = 0,
    frame_limit: FrameLimitAlias = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    per_pair: Annotated[bool, typer.Option("--per-pair", help="Also print a row per frame pair.")] = False,
) -> None:
    """Warping error (Lai et al. 2018) of the stylized clip: smoothed, per-frame, and the input's floor."""
    from realtime_style.jobs import evaluate as job

    spec = _engine(style, provider=provider, precision=precision, max_side=max_side, strength=strength,
                   preserve_color=preserve_color, threads=threads)
    report = job.run(job.EvalOptions(input, spec, smooth=smooth, flow=_choice(flow, job.FLOWS, "--flow"),
                                     frame_limit=_alias(max_frames, frame_limit)), on_note=_note)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    for line in (job.table_lines if per_pair else job.summary_lines)(report):
        typer.echo(line)


# -- distill ---------------------------------------------------------------------------------
@app.command()
@reports_errors
def distill(
    teacher: Annotated[str, typer.Option(help="Teacher: an ml5 folder, a .pth, our checkpoint, or a pulled name.")],
    data: Annotated[str, typer.Option(help="Directory of training photos.")],
    out: Annotated[str, typer.Option(help="Checkpoint to write (NAME.safetensors + NAME.json).")],
    arch: Annotated[str, typer.Option(help="Student architecture.")] = "student",
    steps: Annotated[int, typer.Option(min=1)] = 2000,
    batch: Annotated[int, typer.Option(min=1)] = 4,
    crop: Annotated[int, typer.Option(min=0, help="Training crop size in pixels (0: whole photos, with "
                                      "--teacher-cache).")] = 192,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    temporal_weight: Annotated[float, typer.Option(min=0.0, help="Stability under motion and noise.")] = 1.0,
    adversarial_weight: Annotated[float, typer.Option(min=0.0, help="PatchGAN term (0 = off).")] = 0.0,
    gram_weight: Annotated[float, typer.Option(min=0.0, help="Texture statistics of the teacher's layers.")] = 50.0,
    feature_weight: Annotated[float, typer.Option(min=0.0, help="The teacher's own first-layer activations "
                                                  "(with --gram-weight 0 as well, the teacher runs no layer "
                                                  "during a step).")] = 1.0,
    detail_weight: Annotated[float, typer.Option(min=0.0, help="Local detail energy matched to the teacher's "
                                                 "(keeps the student from blurring).")] = 2.0,
    seed: Annotated[int, typer.Option()] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 250,
    sample_every: Annotated[int, typer.Option(min=0, help="Sample sheet every N steps (0 = off).")] = 250,
    threads: ThreadsOpt = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run saved at --out.")] = False,
    init: Annotated[str, typer.Option(help="Start from this student: a built-in name, an exported .onnx or a "
                                      "checkpoint (grown by --mid-blocks/--head-blocks).")] = "",
    mid_blocks: Annotated[int, typer.Option(min=0, help="Refinement blocks at 1/4 resolution.")] = 0,
    head_blocks: Annotated[int, typer.Option(min=0, help="Refinement blocks at 1/2 resolution.")] = 0,
    head_width: Annotated[int, typer.Option(min=4, help="Channels inside a 1/2-resolution block.")] = 24,
    photo_skip: Annotated[bool, typer.Option(help="The 1/2-resolution blocks also see the photo.")] = False,
    stroke_weight: Annotated[float, typer.Option(min=0.0, help="The teacher's band-passed lightness, in place "
                                                 "(strokes where the teacher paints them).")] = 0.0,
    lowpass_weight: Annotated[float, typer.Option(min=0.0, help="Colour and layout: the blurred outputs "
                                                  "matched to the teacher's.")] = 0.0,
    motion: Annotated[str, typer.Option(help="Stability under small moves, or large ones with blur and "
                                        "occluders (small|large).")] = "small",
    teacher_cache: Annotated[str, typer.Option(help="Folder for the teacher's paintings of whole photos, made "
                                               "once and reused (steps no longer repaint them).")] = "",
    cache_photos: Annotated[int, typer.Option(min=1, help="Photos painted into --teacher-cache.")] = 400,
) -> None:
    """Distil a teacher into a fast, steady student network."""
    from realtime_style.jobs import training

    path = training.distill(
        resume=resume, on_progress=_training_progress, on_note=_note,
        teacher=teacher, data=data, out=out, arch=arch, steps=steps, batch=batch, crop=crop, lr=lr,
        temporal_weight=temporal_weight, adversarial_weight=adversarial_weight, gram_weight=gram_weight,
        feature_weight=feature_weight, detail_weight=detail_weight, seed=seed, checkpoint_every=checkpoint_every,
        sample_every=sample_every, threads=threads, init=init, mid_blocks=mid_blocks, head_blocks=head_blocks,
        head_width=head_width, photo_skip=photo_skip, stroke_weight=stroke_weight, lowpass_weight=lowpass_weight,
        motion=motion, teacher_cache=teacher_cache, cache_photos=cache_photos)
    _err(f"wrote {path} (export it with `realtime-style export {path} STYLE.onnx`)")


def _training_progress(p) -> None:
    """One line per report: step, each loss, time per step, ETA (``training.loop.Progress``)."""
    losses = " ".join(f"{k} {v:.4g}" for k, v in p.losses.items())
    eta = f"{int(p.eta_s // 3600)}h{int(p.eta_s % 3600 // 60):02d}m" if p.eta_s >= 3600 else \
        f"{int(p.eta_s // 60)}m{int(p.eta_s % 60):02d}s"
    _err(f"step {p.step}/{p.steps}  {losses}  {p.seconds_per_step:.2f} s/step  ETA {eta}")


# -- train -----------------------------------------------------------------------------------
VggOpt = Annotated[Optional[str], typer.Option(help="torchvision's vgg16 weights (vgg16-397923af.pth, keys "
                                               "features.N.*). Default: downloaded once into the models home.")]
DeviceOpt = Annotated[str, typer.Option(help="auto|cpu|cuda (auto: the GPU when PyTorch sees one).")]
TUNING = ("Weights: only their ratios matter much (Adam). More texture: raise --style-weight 3x at a time; "
          "more of the photo: raise --content-weight; speckle or checkerboards: raise --tv-weight.")


@app.command()
@reports_errors
def train(
    style_image: Annotated[str, typer.Option(help="The painting to learn (any image file).")],
    data: Annotated[str, typer.Option(help="Directory of training photos (e.g. a few thousand COCO images).")],
    out: Annotated[str, typer.Option(help="Checkpoint to write (NAME.safetensors + NAME.json).")],
    vgg_weights: VggOpt = None,
    arch: Annotated[str, typer.Option(help="johnson (pytorch/examples TransformerNet) or student (our "
                                      "real-time CPU network).")] = "johnson",
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps (Johnson et al.: 40000 at batch 4).")] = 40000,
    batch: Annotated[int, typer.Option(min=1, help="Images per step (per process under torchrun).")] = 4,
    size: Annotated[int, typer.Option(min=32, help="Training crop size in pixels.")] = 256,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    content_weight: Annotated[float, typer.Option(min=0.0, help="VGG relu2_2 feature match. " + TUNING)] = 1e5,
    style_weight: Annotated[float, typer.Option(min=0.0, help="Gram matrices at relu1_2, relu2_2, relu3_3, "
                                                "relu4_3.")] = 1e10,
    tv_weight: Annotated[float, typer.Option(min=0.0, help="Total variation (smoothness); 0 = off.")] = 2e5,
    style_size: Annotated[int, typer.Option(min=0, help="Long side the style image is scaled to (0 = as it "
                                            "is): sets the size of the brush strokes.")] = 512,
    temporal_weight: Annotated[float, typer.Option(min=0.0, help="Stability under motion and noise, on a "
                                                   "0..1 scale: try 1e5 for video (0 = off).")] = 0.0,
    adversarial_weight: Annotated[float, typer.Option(min=0.0, help="PatchGAN on crops of the style image, "
                                                      "on a 0..1 scale: try 1e4 (0 = off).")] = 0.0,
    seed: Annotated[int, typer.Option()] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 1000,
    sample_every: Annotated[int, typer.Option(min=0, help="Sample sheet every N steps (0 = off).")] = 1000,
    log_every: Annotated[int, typer.Option(min=1, help="Progress line every N steps.")] = 10,
    device: DeviceOpt = "auto",
    precision: Annotated[str, typer.Option(help="auto|fp32|bf16|fp16 (auto: bf16 or fp16 autocast on a GPU, "
                                           "fp32 on the CPU).")] = "auto",
    threads: ThreadsOpt = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run saved at --out.")] = False,
) -> None:
    """Train a fast style network on a painting with the VGG16 perceptual loss (Johnson et al. 2016).

    Several GPUs: torchrun --nproc_per_node N -m realtime_style train ... (DDP; --batch is per process).

    Weights: content 1e5 and style 1e10 are pytorch/examples' defaults (same loss conventions).
    Only their ratios matter much. More texture: raise --style-weight 3x at a time.
    More of the photo: raise --content-weight. Speckle: raise --tv-weight.

    Ctrl-C saves a checkpoint; --resume continues the run.
    """
    from realtime_style.jobs import training

    path = training.train(
        resume=resume, on_progress=_training_progress, on_note=_note,
        style_image=style_image, data=data, out=out, vgg_weights=vgg_weights, arch=arch.lower(), steps=steps,
        batch=batch, size=size, lr=lr, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        style_size=style_size, temporal_weight=temporal_weight, adversarial_weight=adversarial_weight, seed=seed,
        checkpoint_every=checkpoint_every, sample_every=sample_every, log_every=log_every, threads=threads,
        device=device.lower(), precision=precision.lower())
    if path is not None:  # rank 0 of a torchrun launch, or the only process, says everything
        _err(f"wrote {path} (export it with `realtime-style export {path} STYLE.onnx`)")
    training.leave_process_group()


# -- optimize --------------------------------------------------------------------------------
@app.command()
@reports_errors
def optimize(
    content: Annotated[str, typer.Argument(help="The photo.")],
    style: Annotated[str, typer.Argument(help="The painting.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The image to write (.png, .jpg, ...).")],
    vgg_weights: VggOpt = None,
    steps: Annotated[int, typer.Option(min=1, help="Loss evaluations per scale.")] = 300,
    optimizer: Annotated[str, typer.Option(help="lbfgs (Gatys et al.) or adam.")] = "lbfgs",
    lr: Annotated[Optional[float], typer.Option(min=0.0, help="Step size (default: 1 for lbfgs, 0.02 for adam, "
                                                "pixels in 0..1).")] = None,
    max_side: Annotated[int, typer.Option("--max-side", min=0, help="Longest side of the result (0 = the "
                                          "photo's size).")] = 512,
    size: Annotated[Optional[int], typer.Option("--size", min=0, hidden=True)] = None,  # the old name
    scales: Annotated[int, typer.Option(min=1, max=6, help="Coarse to fine: start at max-side/2^(N-1), upsample "
                                        "each result into the next (helps large images).")] = 1,
    style_size: Annotated[int, typer.Option(min=0, help="Long side of the style image (0 = the result's).")] = 0,
    content_weight: Annotated[float, typer.Option(min=0.0, help=TUNING)] = 1e5,
    style_weight: Annotated[float, typer.Option(min=0.0)] = 1e11,
    tv_weight: Annotated[float, typer.Option(min=0.0, help="Total variation (smoothness); 0 = off.")] = 2e5,
    preserve_color: PreserveOpt = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
    log_every: Annotated[int, typer.Option(min=1, help="Progress line every N steps.")] = 10,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Style one photo by optimising its pixels (Gatys et al. 2016), with the VGG16 loss of `train`."""
    from realtime_style.jobs import training

    result = training.optimize(
        on_progress=_training_progress, on_note=_note,
        content=content, style=style, out=output, vgg_weights=vgg_weights, steps=steps,
        optimizer=_choice(optimizer, ("lbfgs", "adam"), "--optimizer"), lr=lr, size=_alias(max_side, size),
        scales=scales,
        style_size=style_size, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        preserve_color=preserve_color, overwrite=overwrite, device=device.lower(), threads=threads,
        log_every=log_every)
    w, h = result.size
    _err(f"wrote {result.path} ({w}x{h}; loss {result.first_loss:.4g} -> {result.final_loss:.4g} "
         f"in {result.seconds:.1f} s)")


# -- models ----------------------------------------------------------------------------------
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@models_app.command("list")
@reports_errors
def models_list(as_json: JsonOpt = False) -> None:
    """The built-in and imported styles."""
    from realtime_style.models import registry

    records = registry.list_models()
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        _err(f"no styles installed (models directory: {registry.user_models_dir()}); "
             "add one with `realtime-style models import PATH --name NAME`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "kind", "arch", "size", "precision", "artwork")
    for r in records:
        table.add_row(r.name + (" (default)" if r.default else ""), "built-in" if r.builtin else "imported",
                      r.arch, r.size, r.precision, r.artwork)
    Console().print(table)
    default = next((r.name for r in records if r.default), None)
    if default:
        _err(f"without --style, {default} is used")


@models_app.command("info")
@reports_errors
def models_info(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Everything known about one style model."""
    from realtime_style.models import registry

    record = registry.info(name)
    if as_json:
        typer.echo(json.dumps(record.to_json(full=True), indent=2))
        return
    for key, value in record.to_json().items():
        typer.echo(f"{key:10} {value}")
    for key, value in sorted(record.metadata.items()):
        if key not in record.to_json():
            typer.echo(f"{key:10} {value}")


@models_app.command("import")
@reports_errors
def models_import(
    path: Annotated[str, typer.Argument(help="An ml5 directory, a pytorch/examples .pth, our checkpoint, or an "
                                        ".onnx file.")],
    name: Annotated[str, typer.Option(help="The name to use with --style.")],
    fmt: Annotated[str, typer.Option("--format", help="auto|ml5|pytorch-examples|checkpoint|onnx")] = "auto",
    precision: Annotated[str, typer.Option(help="fp32|fp16 for checkpoints.")] = "fp32",
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
    verify_image: VerifyOpt = None,
    artwork: Annotated[Optional[str], typer.Option(help="The artwork, for the metadata (default: what the file "
                                                   "says, or unknown).")] = None,
    license: Annotated[Optional[str], typer.Option(help="Licence of the weights, for the metadata (default: "
                                                   "what the file says, or unknown).")] = None,
) -> None:
    """Convert and verify a pretrained style, then add it to the registry.

    Accepts ml5 folders, pytorch/examples .pth files, our checkpoints, ONNX files that follow
    our contract, and float NCHW style graphs in 0..255 (the ONNX model zoo's, pytorch/examples'
    --export_onnx), which are wrapped into the contract without PyTorch.
    """
    from realtime_style.jobs.export import verification_images
    from realtime_style.models.importer import FORMATS, import_model

    result = import_model(path, name, _choice(fmt, FORMATS, "--format"),
                          precision=_choice(precision, ("fp32", "fp16"), "--precision"), overwrite=overwrite,
                          real_images=verification_images(verify_image), artwork=artwork, license=license)
    _err(f"imported {name!r} ({result.record.arch}) to {result.record.path}")
    _err(result.detail)


@models_app.command("pull")
@reports_errors
def models_pull(
    name: Annotated[str, typer.Argument(help="An ml5 teacher: wave, scream, udnie, wreck, la_muse, rain_princess.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Download an original public teacher (sha256-checked), convert it, add it to the registry."""
    from realtime_style.models.pull import pull

    result = pull(name, overwrite=overwrite)
    _err(f"pulled {name!r} ({result.record.arch}) as style {result.record.name!r} to {result.record.path}")
    _err(result.detail)


@models_app.command("remove")
@reports_errors
def models_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Delete an imported style model."""
    from realtime_style.models import registry

    path = registry.remove(name)
    _err(f"removed {name!r} ({path})")


# -- bench -----------------------------------------------------------------------------------
def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        h, w = _parse_size(part.strip(), "--sizes")
        out.append((w, h))
    return out


def _list(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    return [_choice(v.strip(), allowed, option) for v in text.split(",") if v.strip()]


@app.command()
@reports_errors
def bench(
    style: Annotated[Optional[list[str]], typer.Option("--style", "-s", help="Style name or .onnx path "
                                                       f"(repeatable; default: {DEFAULT_STYLE}).")] = None,
    sizes: Annotated[str, typer.Option(help="Comma-separated WIDTHxHEIGHT list.")] = "640x360,1280x720,1920x1080",
    providers: Annotated[str, typer.Option(help="Comma-separated: cpu, cuda, tensorrt.")] = "cpu",
    precisions: Annotated[str, typer.Option(help="Comma-separated: fp32, fp16.")] = "fp32",
    mode: Annotated[str, typer.Option(help="model (network alone), pipeline (source -> engine -> smoothing "
                                      "-> sink) or both.")] = "both",
    frames: Annotated[int, typer.Option(min=1, help="Timed frames per case.")] = 100,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed frames first.")] = 10,
    threads: ThreadsOpt = 0,
    smooth: SmoothOpt = DEFAULT_SMOOTH,
    per_size: Annotated[bool, typer.Option("--per-size/--no-per-size", help="On a GPU, a session made for "
                                           "each size (CUDA graph / exact TensorRT profile); off: the general "
                                           "session only, for comparison.")] = True,
    json_path: Annotated[Optional[str], typer.Option("--json", help="Write the results as JSON here.")] = None,
) -> None:
    """Model-only and pipeline FPS with latency percentiles, per style x size x provider x precision."""
    from realtime_style.engine.options import PROVIDERS
    from realtime_style.jobs import bench as job
    from realtime_style.models import registry

    modes = list(job.MODES) if mode == "both" else [_choice(mode, job.MODES, "--mode")]
    plan = job.BenchPlan(styles=style or [registry.default_name()], sizes=_sizes(sizes),
                         providers=_list(providers, tuple(p for p in PROVIDERS if p != "auto"), "--providers"),
                         precisions=_list(precisions, ("fp32", "fp16"), "--precisions"), modes=modes,
                         frames=frames, warmup=warmup, threads=threads, smooth=smooth, per_size=per_size,
                         json_path=json_path)
    job.run_plan(plan, on_result=lambda r: _err(job.describe(r)), on_note=_err)
    if json_path:
        _err(f"wrote {json_path}")


@app.command("bench-compare")
@reports_errors
def bench_compare(
    files: Annotated[list[str], typer.Argument(help="bench --json files.")],
    plot: Annotated[Optional[str], typer.Option(help="Draw a PNG bar chart of FPS per size here.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the markdown table (the default when "
                                           "no --plot is given).")] = False,
    mode: Annotated[str, typer.Option(help="Which results the chart shows: model or pipeline.")] = "model",
) -> None:
    """Compare bench results across machines, providers and precisions."""
    from pathlib import Path

    from realtime_style.jobs import bench_compare as bc

    runs = bc.load(files)
    if markdown or not plot:
        typer.echo(bc.markdown(runs), nl=False)
    if plot:
        bc.plot(runs, Path(plot), _choice(mode, ("model", "pipeline"), "--mode"))
        _err(f"wrote {plot}")


# -- doctor ----------------------------------------------------------------------------------
@app.command()
@reports_errors
def doctor(as_json: JsonOpt = False) -> None:
    """Versions, providers that really load, GPU, codecs, display, cameras."""
    from realtime_style.doctor import collect, render_text

    report = collect()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for line in render_text(report):
            typer.echo(line)


def main() -> None:
    try:
        app(prog_name="realtime-style")
    except KeyboardInterrupt:  # outside a command (e.g. during import)
        sys.exit(130)
