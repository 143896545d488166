"""Temporal consistency: optical flow, warping, the warping-error metric. Knows no model and
no file format beyond flow fields."""
