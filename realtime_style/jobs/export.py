"""`export`: a PyTorch checkpoint into a style-model ONNX file, verified before it is kept.

The output is checked before torch is even imported, so a wrong name fails at once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from realtime_style.errors import OutputError
from realtime_style.io.images import read_image


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    checkpoint: str  # our .safetensors checkpoint, a pytorch/examples .pth, or an ml5 directory
    output: str  # the .onnx file to write
    precision: str = "fp32"  # fp32 | fp16 (fp16 keeps uint8 I/O, gated on PSNR against fp32)
    size: tuple[int, int] | None = None  # (height, width) for a static export; None: dynamic
    fmt: str = "auto"
    name: str | None = None  # default: the output file's stem
    license: str | None = None
    artwork: str | None = None
    source: str | None = None
    verify_images: tuple[str, ...] = ()  # real images the export is also verified on
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: Path
    bytes: int
    summary: str  # how it was verified


def verification_images(paths) -> list:
    """(label, RGB array) pairs for ``--verify-image``, read before any slow work."""
    return [(str(p), read_image(p).rgb) for p in paths or ()]


def run(options: ExportOptions) -> ExportResult:
    from realtime_style_export import require_torch

    out = Path(options.output)
    if out.suffix.lower() != ".onnx":
        raise OutputError(f"{out} must end in .onnx")
    if out.exists() and not options.overwrite:
        raise OutputError(f"{out} exists; pass --overwrite to replace it")
    reals = verification_images(options.verify_images)
    require_torch()
    from realtime_style_export.checkpoints import load
    from realtime_style_export.onnx_export import export_model

    loaded = load(options.checkpoint, options.fmt)
    meta = {"license": options.license, "artwork": options.artwork, "source": options.source}
    _, report = export_model(loaded, out, name=options.name or out.stem, precision=options.precision,
                             size=options.size, metadata=meta, real_images=reals)
    return ExportResult(out, report.bytes, report.summary())
