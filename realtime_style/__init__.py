"""realtime-style: real-time neural style transfer on ONNX Runtime.

The runtime (this package, except ``realtime_style.training``) never imports torch.
"""

__version__ = "0.1.0"
