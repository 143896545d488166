"""The PyTorch side: network definitions, checkpoint loading, ONNX export and verification.

Installed under the import name ``realtime_style_export`` (not a bare ``export``).
Imported only by commands that need torch (`export`, `models import` of a checkpoint,
`distill`, `train`); the runtime never imports it at module level.
"""

from realtime_style.errors import MissingExtra


def require_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised where torch is absent
        raise MissingExtra(
            "this command needs PyTorch: install the train extra (pip install 'realtime-style[train]')"
        ) from exc
    return torch
