"""The smoother's optical flow: OpenCV DIS on small grey frames, each search started where the
motion most likely is.

DIS refines a start by local search down a pyramid whose coarsest level is set by the frame
size. Its patches are 8 px at a stride of 4 (overlapping): on the large-motion clips of
benchmarks/scenes.py that follows 85 px a frame with 6 px of error where 6 px patches at stride
6 left 24 px (benchmarks/flow_accuracy.py, RESULTS.md). Two starts are at hand:
- the previous frame's flow (motion goes on: a pan that no pyramid level reaches is followed
  once caught);
- a **global motion estimate**: phase correlation of two small copies of the frames (camera
  pans dominate real footage), which finds the dominant shift of any size in one step, blur and
  all. Where it disagrees with the previous flow's dominant motion (the camera started,
  stopped or turned), the previous flow is moved by the difference: its local structure (what
  moves its own way) is kept, its level set by the new estimate. What it buys is the first
  frames of a fast pan: from a standing start a 60 px pan of fine texture is taken for a scene
  cut (tests/test_smoothing.py); on clips where the pyramid already finds the motion it changes
  the error little either way (flow_accuracy.py measures the starts apart).
"""

from __future__ import annotations

import cv2
import numpy as np

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
# Ultrafast, but its 6 px patches matched at half instead of a quarter of the size it is given
# (finest scale 1): see benchmarks/flow_accuracy.py.
DIS_FINEST_SCALE, DIS_PATCH_SIZE, DIS_PATCH_STRIDE, DIS_ITERATIONS = 1, 8, 4, 6
# DIS's cost grows with the area it is given. On frames of over LARGE_AREA pixels (the smoother's
# flow of 720p and up: 512 x 288) patches are placed every DIS_PATCH_STRIDE_LARGE px: still more
# patches than 4 px give 320 x 180 (640 x 360 video), at three quarters of the cost (issue 16,
# fifth round: benchmarks/RESULTS.md).
DIS_PATCH_STRIDE_LARGE, LARGE_AREA = 5, 100_000
MIN_SIDE = 16  # the smallest side DIS is given (it fails below 10 px at these settings)
GLOBAL_SIDE = 128  # phase correlation on copies this long (at most)
GLOBAL_RESPONSE = 0.05  # a weaker peak than this is no estimate (flat or unrelated frames)
GLOBAL_DISAGREE_PX = 2.0  # flow-size px: closer than this, the previous flow's level is kept


class FlowTracker:
    """The flow from one small grey frame back to the one before it, for frames of one size."""

    def __init__(self, *, global_start: bool = True, previous_start: bool = True) -> None:
        self.global_start = global_start
        self.previous_start = previous_start
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESET)
        self._dis.setFinestScale(DIS_FINEST_SCALE)
        self._dis.setPatchSize(DIS_PATCH_SIZE)
        self._dis.setGradientDescentIterations(DIS_ITERATIONS)
        self._window: np.ndarray | None = None
        self._small: tuple[np.ndarray, np.ndarray] | None = None  # (a frame, its small copy): the next one's previous

    def __call__(self, grey: np.ndarray, prev_grey: np.ndarray, prev_flow: np.ndarray | None) -> np.ndarray:
        """(h, w, 2) float32: for each pixel of ``grey``, where it is in ``prev_grey`` (offsets)."""
        self._dis.setPatchStride(DIS_PATCH_STRIDE_LARGE if grey.size > LARGE_AREA else DIS_PATCH_STRIDE)
        return self._dis.calc(grey, prev_grey, self.start(grey, prev_grey, prev_flow))

    def start(self, grey: np.ndarray, prev_grey: np.ndarray, prev_flow: np.ndarray | None) -> np.ndarray | None:
        """Where the search starts (None: from zero)."""
        prev_flow = prev_flow if self.previous_start else None
        shift = self.global_shift(grey, prev_grey) if self.global_start else None
        if shift is None:
            return prev_flow
        if prev_flow is None:
            return np.broadcast_to(np.float32(shift), (*grey.shape, 2)).copy()
        level = np.median(prev_flow[::8, ::8].reshape(-1, 2), axis=0)
        step = np.float32(shift) - level
        if float(np.hypot(*step)) < GLOBAL_DISAGREE_PX:
            return prev_flow
        return cv2.add(prev_flow, (float(step[0]), float(step[1]), 0.0, 0.0))

    def global_shift(self, grey: np.ndarray, prev_grey: np.ndarray) -> tuple[float, float] | None:
        """The dominant shift from ``grey`` to ``prev_grey`` in their pixels, or None."""
        h, w = grey.shape
        k = max(1, int(np.ceil(max(h, w) / GLOBAL_SIDE)))
        if min(h, w) // k < 8:
            return None
        size = (w // k, h // k)
        # Shrunk by exactly k (OpenCV's fast path for whole factors), the last few rows and columns
        # left out
        def shrink(g: np.ndarray) -> np.ndarray:
            return cv2.resize(g[: size[1] * k, : size[0] * k], size, interpolation=cv2.INTER_AREA).astype(np.float32)

        a = shrink(grey)
        if self._small is not None and self._small[0] is prev_grey and self._small[1].shape == a.shape:
            b = self._small[1]  # made as the previous frame's ``a``
        else:
            b = shrink(prev_grey)
        self._small = (grey, a)
        if self._window is None or self._window.shape != a.shape:
            self._window = cv2.createHanningWindow(size, cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(a, b, self._window)
        if not response >= GLOBAL_RESPONSE:
            return None
        return dx * k, dy * k
