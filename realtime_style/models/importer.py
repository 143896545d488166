"""`models import`: a teacher checkpoint or a contract-following ONNX file into the registry.

PyTorch formats go through the one export path in ``export/`` (imported as ``realtime_style_export``,
lazily: it needs torch); ONNX files are checked by starting a real session and reading their signature.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from realtime_style.errors import ModelError
from realtime_style.models import registry
from realtime_style.models.catalogue import ML5_LICENSE, ML5_STYLES
from realtime_style.models.formats import FORMATS, detect_format


@dataclasses.dataclass
class ImportResult:
    record: registry.ModelRecord
    detail: str  # how it was verified


def import_model(path: str | Path, name: str, fmt: str = "auto", *, precision: str = "fp32",
                 overwrite: bool = False, real_images=()) -> ImportResult:
    """``real_images``: (label, RGB array) pairs to verify a checkpoint's export on, besides
    the random image and test card every export is checked on."""
    path = Path(path).expanduser()
    registry.check_name(name)
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ModelError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        data, detail = _import_onnx(path, name)
    else:
        data, detail = _import_checkpoint(path, name, fmt, precision, real_images)
    target = registry.add(name, data, overwrite=overwrite)
    return ImportResult(registry.record_for(target, name, False), detail)


def _import_onnx(path: Path, name: str) -> tuple[bytes, str]:
    import onnx

    from realtime_style.engine.session import check_output_size, check_signature, cpu_session

    if path.is_dir():
        raise ModelError(f"{path} is a directory, not an ONNX file")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        raise ModelError(f"{path} is not an ONNX file: {type(exc).__name__}") from exc
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        raise ModelError(f"{path} keeps its weights in external data; re-export it with the weights inside")
    session = cpu_session(data, threads=1)
    h, w = check_output_size(session, check_signature(session, str(path)), str(path))
    props = {p.key: p for p in model.metadata_props}
    if "name" in props:
        props["name"].value = name
    else:
        model.metadata_props.add(key="name", value=name)
    for key in ("arch", "license", "artwork"):
        if key not in props:
            model.metadata_props.add(key=key, value="unknown")
    if "source" not in props:
        model.metadata_props.add(key="source", value=f"onnx:{path.name}")
    return model.SerializeToString(), f"signature and output size checked with a CPU session (a {w}x{h} probe frame)"


def _import_checkpoint(path: Path, name: str, fmt: str, precision: str, real_images) -> tuple[bytes, str]:
    from realtime_style_export import require_torch

    require_torch()
    from realtime_style_export.checkpoints import load
    from realtime_style_export.onnx_export import export_model

    loaded = load(path, fmt)
    meta: dict[str, str] = {}
    if fmt == "ml5":
        style = path.name
        art = ML5_STYLES.get(style)
        meta = {"license": ML5_LICENSE, "artwork": art.describe() if art else "unknown",
                "source": f"ml5:{style}"}
    data, report = export_model(loaded, None, name=name, precision=precision, metadata=meta,
                                real_images=real_images)
    return data, report.summary()
