"""ONNX Runtime inference on RGB frames. Knows nothing of files, cameras or the CLI."""

from realtime_style.engine.engine import StyleEngine
from realtime_style.engine.options import InferenceOptions

__all__ = ["InferenceOptions", "StyleEngine"]
