"""ONNX Runtime inference on RGB frames, the provider probes, and ``factory``: the engine a command
asks for. Knows nothing of media files, cameras or the CLI."""

from realtime_style.engine.engine import StyleEngine
from realtime_style.engine.options import InferenceOptions

__all__ = ["InferenceOptions", "StyleEngine"]
