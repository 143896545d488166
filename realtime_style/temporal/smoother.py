"""Run-time temporal smoothing: the previous output, carried along the input's motion,
blended into the current output where it can be trusted -- without washing texture out.

Per frame:
1. Optical flow from the current *input* frame back to the previous one (OpenCV DIS,
   ultrafast preset, at most 640 px on the long side; scaled back up). Motion under
   0.15 px is taken as none, so a still camera does not slowly blur the background.
2. The previous *output* is warped along it (bicubic: less blur piles up over frames).
3. Neighbourhood clamping, as in temporal anti-aliasing: the warped history may only take
   colours that the current output has within 5 px. Strokes that are merely out of phase
   pass; ghosts of what is gone, and drift from a wrong flow, do not.
4. Confidence per pixel: a photometric term ``exp(-k dI^2)`` on the warped previous input
   (Lai et al.'s form, looser, since the clamp guards against ghosts), zero on motion
   boundaries (the flow's own discontinuities: occlusions live there).
5. The blend is a per-pixel weighted average (at most 60 % history), after which the
   current frame's local detail energy (3 px scale) is restored where the average lost it:
   out-of-phase brush strokes would otherwise cancel into grey mush (what a plain blend does).
6. A scene cut (most of the picture unexplained by motion) resets the history.

``strength`` 0 returns the stylized frame untouched (bit-identical); 1 trusts the past
as much as the confidence allows (up to ``MAX_CARRY`` of it per frame).
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime_style.io.frames import Frame

DEFAULT_STRENGTH = 0.8
MAX_CARRY = 0.6  # the most of the previous output any pixel takes, at strength 1
WARP_INTERPOLATION = cv2.INTER_CUBIC  # sharper than bilinear: less blur piles up frame after frame
STILL_PX = 0.15
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
CUT_DIFF, CUT_FRACTION = 0.1, 0.5  # a scene cut: over half the motion-compensated grey differs by > 10 %
PHOTOMETRIC_SCALE = 50.0  # exp(-k dI^2), grey in [0, 1]; Lai et al.'s exp(-50 (sum_c dI)^2) is k = 450
BOUNDARY_FLOOR = 0.5  # squared flow gradient (px/px) above which a pixel is on a motion boundary


class Smoother:
    def __init__(self, strength: float = DEFAULT_STRENGTH, *, flow_side: int = 640, base_px: int = 3,
                 max_gain: float = 2.0, detail_gain: float = 1.0, clamp_px: int = 5) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError("smoothing strength must be within 0..1")
        self.strength = strength
        self.flow_side = flow_side  # the flow is computed at this longest side
        self.base_px = base_px
        self.max_gain = max_gain
        self.clamp_px = clamp_px
        self.detail_gain = detail_gain  # how much of the lost detail energy comes back (0..1)
        self.cuts = 0
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESET)
        self.reset()

    def reset(self) -> None:
        self._prev_small: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None

    # -- the pipeline stage -----------------------------------------------------------------
    def __call__(self, frame: Frame) -> Frame:
        stylized = frame.output if frame.output is not None else frame.rgb
        frame.output = self.smooth(frame.rgb, stylized)
        return frame

    def smooth(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """One frame: ``source`` the input picture, ``stylized`` the network's output."""
        if self.strength <= 0.0:
            self.reset()  # switched off: the history is stale when it is switched back on
            return stylized
        h, w = source.shape[:2]
        small = self._small_grey(source)
        if self._prev_out is None or self._shape != (h, w):
            return self._remember(small, stylized, (h, w))
        carry = self._carry_weight(small, h, w)
        if carry is None:  # scene cut
            self.cuts += 1
            return self._remember(small, stylized, (h, w))
        warped = cv2.remap(self._prev_out, self._map_x, self._map_y, WARP_INTERPOLATION,
                           borderMode=cv2.BORDER_REPLICATE)
        if self.clamp_px:
            # Neighbourhood clamping (as in temporal anti-aliasing): the history may only take
            # colours the current output has nearby. Out-of-phase strokes pass; ghosts of
            # what is no longer there, and drift from a wrong flow, do not.
            kernel = np.ones((self.clamp_px, self.clamp_px), np.uint8)
            warped = cv2.min(cv2.max(warped, cv2.erode(stylized, kernel)), cv2.dilate(stylized, kernel))
        return self._remember(small, self._blend(stylized, warped, carry), (h, w))

    # -- steps -------------------------------------------------------------------------------
    def _small_grey(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.flow_side / max(h, w))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
        return grey

    def _remember(self, small: np.ndarray, out: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        self._prev_small, self._prev_out, self._shape = small, out, shape
        return out

    def _carry_weight(self, small: np.ndarray, h: int, w: int) -> np.ndarray | None:
        """Per-pixel weight of the warped previous output (full size, float32), or None at a
        scene cut. Also prepares the full-size sampling maps."""
        sh, sw = small.shape
        flow = self._dis.calc(small, self._prev_small, None)  # current -> previous
        gx, gy = _grid(sh, sw)
        warped_prev = cv2.remap(self._prev_small, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        diff = cv2.absdiff(small, warped_prev).astype(np.float32) * (1.0 / 255.0)
        if np.count_nonzero(diff > CUT_DIFF) > CUT_FRACTION * diff.size:
            return None  # most of the picture cannot be explained by motion: a new scene
        conf = np.exp(-PHOTOMETRIC_SCALE * diff * diff)
        # Lai et al.'s motion-boundary test, with a floor suited to DIS's blocky flow.
        du_y, du_x = np.gradient(flow[..., 0])
        dv_y, dv_x = np.gradient(flow[..., 1])
        grad = du_x**2 + du_y**2 + dv_x**2 + dv_y**2
        conf[grad > 0.01 * (flow[..., 0] ** 2 + flow[..., 1] ** 2) + BOUNDARY_FLOOR] = 0.0
        conf = cv2.erode(conf, np.ones((3, 3), np.uint8))  # keep clear of unreliable edges
        # A still camera gives DIS a little sub-pixel noise; warping by it every frame would
        # slowly blur a static background. Motion below STILL_PX is taken as none.
        still = (flow[..., 0] ** 2 + flow[..., 1] ** 2) < (STILL_PX * sw / w) ** 2
        flow[still] = 0.0
        flow_full = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        gx_full, gy_full = _grid(h, w)
        self._map_x = cv2.scaleAdd(flow_full[..., 0], w / sw, gx_full)
        self._map_y = cv2.scaleAdd(flow_full[..., 1], h / sh, gy_full)
        return cv2.resize(conf, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(MAX_CARRY * self.strength)

    def _blend(self, current: np.ndarray, warped: np.ndarray, carry: np.ndarray) -> np.ndarray:
        mix = cv2.blendLinear(current, warped, 1.0 - carry, carry)
        if self.detail_gain <= 0:
            return mix
        # Restore part of the current frame's local detail energy where the average lost it.
        k = (self.base_px, self.base_px)
        g_cur = cv2.cvtColor(current, cv2.COLOR_RGB2GRAY).astype(np.float32)
        g_mix = cv2.cvtColor(mix, cv2.COLOR_RGB2GRAY).astype(np.float32)
        e_cur = cv2.blur(cv2.absdiff(g_cur, cv2.blur(g_cur, k)), k)
        e_mix = cv2.blur(cv2.absdiff(g_mix, cv2.blur(g_mix, k)), k)
        gain = np.clip(e_cur / (e_mix + 0.5), 1.0, self.max_gain)
        gain = 1.0 + self.detail_gain * (gain - 1.0)
        return cv2.blendLinear(mix, cv2.blur(mix, k), gain, 1.0 - gain)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids, built once per size."""
    g = _GRIDS.get((h, w))
    if g is None:
        if len(_GRIDS) > 16:
            _GRIDS.clear()
        g = _GRIDS[(h, w)] = tuple(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    return g
