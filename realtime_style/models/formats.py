"""Which kind of style checkpoint a path holds, told from its name alone (torch-free).

Used by ``models import`` (the runtime) and by the PyTorch loaders in
``realtime_style_export.checkpoints``; it reads no weights.
"""

from __future__ import annotations

from pathlib import Path

from realtime_style.errors import ModelError

#: What ``--format`` accepts; "auto" is :func:`detect_format`.
FORMATS = ("auto", "ml5", "pytorch-examples", "checkpoint", "onnx")


def detect_format(path: Path) -> str:
    """ml5 (a folder with manifest.json), onnx, pytorch-examples (.pth/.pt/.model) or checkpoint
    (ours: NAME.safetensors + NAME.json)."""
    path = Path(path)
    if path.is_dir():
        if (path / "manifest.json").is_file():
            return "ml5"
        raise ModelError(f"{path} is a directory without manifest.json; not an ml5 checkpoint")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pth", ".pt", ".model"):
        return "pytorch-examples"
    if suffix in (".safetensors", ".json"):
        return "checkpoint"
    raise ModelError(f"cannot tell the format of {path}; pass --format ml5|pytorch-examples|onnx")
