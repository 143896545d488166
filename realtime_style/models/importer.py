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
                 overwrite: bool = False, real_images=(), artwork: str | None = None,
                 license: str | None = None) -> ImportResult:
    """``real_images``: (label, RGB array) pairs to verify a checkpoint's export on, besides
    the random image and test card every export is checked on. ``artwork`` and ``license``
    replace what the file says (or "unknown")."""
    path = Path(path).expanduser()
    registry.check_name(name)
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ModelError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    given = {k: v for k, v in (("artwork", artwork), ("license", license)) if v}
    if fmt == "onnx":
        data, detail = _import_onnx(path, name, given)
    else:
        data, detail = _import_checkpoint(path, name, fmt, precision, real_images, given)
    target = registry.add(name, data, overwrite=overwrite)
    return ImportResult(registry.record_for(target, name, False), detail)


def _import_onnx(path: Path, name: str, given: dict[str, str]) -> tuple[bytes, str]:
    import onnx

    from realtime_style.engine.session import check_output_size, check_signature, cpu_session
    from realtime_style.models import nchw

    if path.is_dir():
        raise ModelError(f"{path} is a directory, not an ONNX file")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        raise ModelError(f"{path} is not an ONNX file: {type(exc).__name__}") from exc
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        raise ModelError(f"{path} keeps its weights in external data; re-export it with the weights inside")
    learnt: dict[str, str] = {}
    if nchw.looks_nchw(model):  # the model zoo's and pytorch/examples' float NCHW graphs
        data, detail, learnt = nchw.convert(data, str(path))
        model = onnx.load_from_string(data)
        learnt["arch"] = "onnx-nchw"
    else:
        detail = "signature checked with a CPU session"
    session = cpu_session(data, threads=1)
    h, w = check_output_size(session, check_signature(session, str(path)), str(path))
    detail += f"; output size checked on a {w}x{h} probe frame"
    props = {p.key: p for p in model.metadata_props}
    for key, value in {"name": name, **learnt, **given}.items():
        if key in props:
            props[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)
    present = {p.key for p in model.metadata_props}
    for key in ("arch", "license", "artwork"):
        if key not in present:
            model.metadata_props.add(key=key, value="unknown")
    if "source" not in present:
        model.metadata_props.add(key="source", value=f"onnx:{path.name}")
    return model.SerializeToString(), detail


def _import_checkpoint(path: Path, name: str, fmt: str, precision: str, real_images,
                       given: dict[str, str]) -> tuple[bytes, str]:
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
    data, report = export_model(loaded, None, name=name, precision=precision, metadata={**meta, **given},
                                real_images=real_images)
    return data, report.summary()
