"""Sources and sinks: files, cameras, windows. Knows no model."""
