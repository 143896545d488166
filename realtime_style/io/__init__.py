"""Sources and sinks (image and video files, frame directories, cameras, live test sources), the
frame that travels between them, and the codec, display and camera probes. Knows no model."""
