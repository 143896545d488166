"""Temporal consistency: run-time smoothing (``smoother``), flow warping and the warping-error
metric (``warping``). Knows no model and no file format beyond flow fields."""
