"""Run-time temporal smoothing: the previous output, carried along the input's motion,
blended into the current output where it can be trusted -- without washing texture out.

Per frame (everything but the last three steps at ``FLOW_SCALE`` of the frame size, never
under ``flow.MIN_SIDE`` on the short side; a frame smaller than that is passed through):
1. Optical flow from the current *input* frame back to the previous one (``flow.FlowTracker``:
   OpenCV DIS, ultrafast preset with larger, overlapping patches), each search starting from
   the previous frame's flow (reset at a scene cut), so fast pans are followed once caught.
   Motion under 0.15 px is taken as none, so a still camera does not slowly blur the background.
2. Confidence per pixel: a photometric term ``exp(-k dI^2)`` on the warped previous input
   (Lai et al.'s form, looser, since step 4 guards against ghosts), zero on motion
   boundaries (the flow's own discontinuities: occlusions live there). A scene cut (most
   of the picture, or a large part with nearly all its texture, unexplained by motion) resets
   the history; a region whose flow leaves too many of its *textured* pixels unexplained
   (motion beyond what DIS follows: flat regions pass any flow) takes nothing from the
   history unless the frame as a whole is followed, so smoothing never adds flicker there,
   and the followable part of a frame is still smoothed.
3. The sampling map is built at flow size and scaled up; the previous *output* is warped
   along it at full size (bilinear; the history is kept as RGBA, whose warp along two float
   maps OpenCV vectorises: half the work of three channels).
4. Neighbourhood clamping, as in temporal anti-aliasing: the warped history may only take
   colours that the current output has in the same 5 x 5 neighbourhood (per channel,
   between its minimum and maximum there). Strokes that are merely out of phase
   pass; ghosts of what is gone, and drift from a wrong flow, do not.
5. The blend is a per-pixel weighted average in 8 bits (at most 80 % history, 64 % at the default
   strength), after which the current frame's local detail energy (5 px scale) is restored in
   the luminance where the average lost it and things move: out-of-phase brush strokes would
   otherwise cancel into grey mush (what a plain blend does). Where nothing moves the average
   removes flicker, not texture, and is left alone; where nothing was carried nothing is
   restored. The restoration is then scaled, for the frame as a whole, so the output keeps
   ``TEXTURE_BUDGET`` (0.9) of the current frame's texture energy: more puts flicker back,
   less washes the strokes out (issue 16, second round).

``strength`` 0 returns the stylized frame untouched (bit-identical); 1 trusts the past
as much as the confidence allows (up to ``MAX_CARRY`` of it per frame). As a pipeline stage
it takes each frame's strength from the frame's settings where they name one (live: the
``s`` key), so nobody changes a smoother another thread is using.

Cost: flow, confidence and the trust tests run at ``FLOW_SCALE`` of the frame size, at most
``MAX_FLOW_SIDE`` long and ``MAX_FLOW_AREA`` pixels (or below; large ones with sides in multiples of 4); the
full-size work is one remap, one clamp, one blend and a luminance-only sharpening, in 8 bits and
in bands of ``STRIP_ROWS`` rows that stay in the cache; the detail energies are averaged over
the gain's blocks and the texture budget is judged on small copies. Measured
(``benchmarks/smoothing_cost.py --parts``) in ``benchmarks/RESULTS.md``, sections "2026-11-22 ·
Smoothing, third round: ..." (issue 6), "2026-12-01 · Smoothing under large motion" and "... issue
16's third round", "... fourth round", "... fifth round" and "... sixth round" (issue 16: the cost).
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime_style.io.frames import Frame
from realtime_style.temporal.flow import LARGE_AREA, MIN_SIDE, FlowTracker

DEFAULT_STRENGTH = 0.8
MAX_CARRY = 0.8  # the most of the previous output any pixel takes, at strength 1
FLOW_SCALE = 0.5  # flow and confidence at this fraction of the frame size ...
MAX_FLOW_SIDE = 512  # ... at most this long side (what a 1024 px Sintel frame gets) ...
# ... and at most this many pixels (what a 1024 x 436 Sintel frame gets: DIS and the flow-size work cost
# by the pixel; 1280 x 720 gets 448 x 252 instead of 512 x 288, issue 16's sixth round)
MAX_FLOW_AREA = 112_000
STILL_PX = 0.15
CUT_DIFF, CUT_FRACTION = 0.1, 0.5  # a scene cut: over half the motion-compensated grey differs by > 10 %
CUT_FRACTION_TEXTURED = (0.3, 0.6)  # ... or over 30 % of it, with over 60 % of its textured pixels
PHOTOMETRIC_SCALE = 50.0  # exp(-k dI^2), grey in [0, 1]; Lai et al.'s exp(-50 (sum_c dI)^2) is k = 450
BOUNDARY_FLOOR = 0.5  # squared flow gradient (px/px) above which a pixel is on a motion boundary
DETAIL_TARGET = 1.10  # restore local detail energy to this fraction of the current frame's ...
MAX_GAIN = 3.0  # ... amplifying the blend's detail at most this much
DETAIL_PX = 5  # the scale (box size) at which detail energy is measured and restored
TEXTURE_BUDGET = 0.9  # ... scaled so the frame keeps this fraction of its texture energy ...
BUDGET_MAX_SCALE = 2.0  # ... at most twice the per-pixel restoration
BOOST_STEPS = 32  # the full-size boost's 8-bit steps: 1/32 (up to 7.97)
BUDGET_SIDE = 512  # texture energy judged at this long side (as the texture measure does)
DETAIL_MOTION_PX = 1.0  # detail is restored in full where things move this much a frame, less below
# A region whose flow explains too few of its textured pixels (grey gradient over TEXTURE_LEVEL
# in a 3x3 window) is not trusted: fully up to FLOW_FAIL_LOW unexplained, not at all from
# FLOW_FAIL_HIGH (set by looking at followed motion -- Sintel alley, the known-motion clips -- and
# failed flow -- 90-120 px pans, Sintel ambush; benchmarks/smoothing_quality.py judges the result).
# Regions are TRUST_BLOCK flow-size pixels square; one with under MIN_TEXTURED of its pixels
# textured cannot be judged (flat regions pass any flow) and takes the trust of the textured
# regions around it (TRUST_REACH blocks), or the frame's where there are none.
TEXTURE_LEVEL, MIN_TEXTURED = 20, 0.01
FLOW_FAIL_LOW, FLOW_FAIL_HIGH = 0.18, 0.3
TRUST_BLOCK, TRUST_REACH, BLOCK_TEXTURED = 16, 5, 0.05


class Smoother:
    def __init__(self, strength: float = DEFAULT_STRENGTH, *, flow_scale: float = FLOW_SCALE,
                 max_flow_side: int = MAX_FLOW_SIDE, max_flow_area: int = MAX_FLOW_AREA,
                 base_px: int = DETAIL_PX, max_gain: float = MAX_GAIN,
                 detail_target: float = DETAIL_TARGET, texture_budget: float = TEXTURE_BUDGET,
                 clamp_px: int = 5) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError("smoothing strength must be within 0..1")
        self.strength = strength
        self.flow_scale = flow_scale
        self.max_flow_side = max_flow_side
        self.max_flow_area = max_flow_area
        self.base_px = base_px
        self.max_gain = max_gain
        self.detail_target = detail_target  # 0 turns the detail restoration off
        self.texture_budget = texture_budget  # 0: restore as the per-pixel aim says, whatever the total
        self.cuts = 0
        self.flow_failures = 0  # frames whose flow was not trusted at all
        self.passed_through = 0  # frames too small for the flow, returned as they came
        self._flow = FlowTracker()
        d = np.arange(256, dtype=np.float32) / 255.0
        self._confidence_lut = np.round(255 * np.exp(-PHOTOMETRIC_SCALE * d * d)).astype(np.uint8)
        self._cut_level = int(round(CUT_DIFF * 255))
        self._clamp_kernel = np.ones((clamp_px, clamp_px), np.uint8) if clamp_px else None
        self.reset()

    def reset(self) -> None:
        self._prev_grey: np.ndarray | None = None
        self._prev_flow: np.ndarray | None = None  # the last flow (none after a cut): where the next search starts
        self._prev_out: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None

    # -- the pipeline stage -----------------------------------------------------------------
    def __call__(self, frame: Frame) -> Frame:
        """The stage: at the frame's own smoothing strength (``frame.settings.smooth``, set as
        it entered the pipeline) where it has one, else at ``strength``."""
        stylized = frame.output if frame.output is not None else frame.rgb
        settings = frame.settings
        frame.output = self.smooth(frame.rgb, stylized, settings.smooth if settings is not None else None)
        return frame

    def smooth(self, source: np.ndarray, stylized: np.ndarray, strength: float | None = None) -> np.ndarray:
        """One frame: ``source`` the input picture, ``stylized`` the network's output;
        ``strength`` this frame's smoothing strength (default: the smoother's ``strength``)."""
        if strength is None:
            strength = self.strength
        elif not 0.0 <= strength <= 1.0:
            raise ValueError("smoothing strength must be within 0..1")
        if strength <= 0.0:
            self.reset()  # switched off: the history is stale when it is switched back on
            return stylized
        h, w = source.shape[:2]
        if min(h, w) < MIN_SIDE:  # too small for any flow to follow: as the network made it
            self.reset()
            self.passed_through += 1
            return stylized
        grey = self._flow_grey(source)
        if self._prev_out is None or self._shape != (h, w):
            self.reset()  # a first frame, or a new size: no history, no flow to start from
            return self._remember(grey, stylized, (h, w))
        found = self._motion(grey, h, w, strength)
        if found is None:  # a scene cut, or a flow not trusted at all: nothing is taken from the past
            return self._remember(grey, stylized, (h, w))
        at, carry, moving = found
        mix, g_cur, g_mix = self._carry(stylized, at, cv2.resize(carry, (w, h), interpolation=cv2.INTER_LINEAR))
        # The history's buffer has been read by the warp: the new history is written into it,
        # band by band while each band is in the cache.
        history = self._prev_out
        if self.detail_target > 0:
            self._restore_detail(g_cur, mix, g_mix, moving, carry, strength, history)
        else:
            cv2.cvtColor(mix, cv2.COLOR_RGB2RGBA, dst=history)
        return self._remember(grey, mix, (h, w), history)

    # -- steps -------------------------------------------------------------------------------
    def _flow_grey(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        # As small as asked, but never under MIN_SIDE on the short side (thin strips, tiny frames)
        scale = min(self.flow_scale, self.max_flow_side / max(h, w), (self.max_flow_area / (h * w)) ** 0.5)
        scale = min(max(scale, MIN_SIDE / min(h, w)), 1.0)
        if scale < 1.0:  # the grey of a small copy: the small copy of the grey to a level, for less work
            small = tuple(max(MIN_SIDE, round(n * scale)) for n in (w, h))
            if small[0] * small[1] > LARGE_AREA:  # where DIS costs most, sides in multiples of 4: its
                # vectorised loops then have no ragged ends (6-20 % fewer instructions: 512 x 216
                # against 218, 448 x 252 against 446 x 251)
                small = tuple(min(n, 4 * round(m / 4)) for n, m in zip((w, h), small))
            rgb = cv2.resize(rgb, small, interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def _remember(self, grey: np.ndarray, out: np.ndarray, shape: tuple[int, int],
                  history: np.ndarray | None = None) -> np.ndarray:
        """Keep this frame as the next one's past; ``history``: ``out`` as RGBA where it is made
        already. The history is kept as RGBA: warping four channels with float maps costs half of
        three (OpenCV's vectorised path), more than the conversion."""
        if history is None:
            history = cv2.cvtColor(out, cv2.COLOR_RGB2RGBA)
        self._prev_grey, self._prev_out, self._shape = grey, history, shape
        return out

    def _motion(self, grey: np.ndarray, h: int, w: int, strength: float):
        """The full-size sampling maps (x, y; float), the carry at flow size (8-bit, 255 = all
        history) and how much each place moves (0..1, at half the flow size); None at a scene cut
        (counted in ``cuts``) and where no part of the flow is trusted (``flow_failures``). The
        motion-boundary and still tests run at half the flow size (a conservative, slightly
        wider boundary, at a quarter of the cost)."""
        sh, sw = grey.shape
        start, self._prev_flow = self._prev_flow, None
        flow, at, diff, trust = self._follow(grey, start)
        if trust is None:
            self.cuts += 1  # most of the picture cannot be explained by motion: a new scene
            return None
        # The next search starts from this flow (not changed in place below), even from one not
        # trusted: on a fast pan it is often near enough for the next one to be caught, and DIS
        # still finds small motion from a start that is far off.
        self._prev_flow = flow
        if not isinstance(trust, float):
            if not trust.any():
                self.flow_failures += 1
                return None
            trust = cv2.resize(trust, (sw, sh), interpolation=cv2.INTER_LINEAR)
        confidence = cv2.LUT(diff, self._confidence_lut)  # 8-bit: 255 = sure
        # Lai et al.'s motion-boundary test (central differences, in flow-size pixels), with a
        # floor suited to DIS's blocky flow: |grad u|^2 + |grad v|^2 > 0.01 |F|^2 + floor.
        qw, qh = max(4, sw // 2), max(4, sh // 2)
        fu, fv = cv2.split(_area_resize(flow, (qw, qh)))
        grad = sum(cv2.Sobel(f, cv2.CV_32F, dx, 1 - dx, ksize=1, scale=0.25) ** 2 for f in (fu, fv) for dx in (0, 1))
        magnitude2 = fu * fu + fv * fv
        boundary = cv2.compare(grad, 0.01 * magnitude2 + BOUNDARY_FLOOR, cv2.CMP_GT)
        # A still camera gives DIS a little sub-pixel noise; warping by it every frame would
        # slowly blur a static background. Motion below STILL_PX is taken as none.
        still = cv2.compare(magnitude2, (STILL_PX * sw / w) ** 2, cv2.CMP_LT)
        boundary, still = (cv2.resize(m, (sw, sh), interpolation=cv2.INTER_NEAREST) for m in (boundary, still))
        confidence = cv2.bitwise_and(confidence, confidence, mask=cv2.bitwise_not(boundary))
        confidence = cv2.erode(confidence, _KERNEL_3)  # keep clear of unreliable edges
        # Where nothing moves, strokes do not drift out of phase and the blend loses no
        # texture, only flicker: detail restoration there would put the flicker back.
        moving = np.minimum(cv2.sqrt(magnitude2) * np.float32(w / sw / DETAIL_MOTION_PX), 1.0)
        # The sampling maps in full-size pixels, built at flow size (pixel centres line up under
        # a linear resize: x_full = sx (x + 0.5) - 0.5, one affine transform of where the pixels
        # were) and then scaled up: two float maps, x and y (OpenCV's remap has a vectorised path
        # for them with four-channel pictures, which the history is kept as: ``_remember``).
        sx, sy = w / sw, h / sh
        to_full = np.float32([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
        at = cv2.transform(at, to_full)
        # Where nothing moves, nothing is moved.
        cv2.copyTo(_cached(("full", sh, sw, sx, sy), lambda: cv2.transform(_grid2(sh, sw), to_full)), still, at)
        at = tuple(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in cv2.split(at))
        # The carry as 8-bit weights (255: all history).
        if isinstance(trust, float):
            weight = cv2.convertScaleAbs(confidence, alpha=MAX_CARRY * strength * trust)
        else:
            weight = cv2.multiply(confidence, trust, scale=MAX_CARRY * strength, dtype=cv2.CV_8U)
        return at, weight, moving

    def _follow(self, grey: np.ndarray, start: np.ndarray | None):
        """The flow from ``grey`` back to the previous frame (started as ``FlowTracker`` does), where
        it says each pixel was (flow-size coordinates), the grey difference it leaves, and how far
        it is trusted: None for a scene cut (most of the picture cannot be explained by motion),
        else 1.0 or a map of 0..1 per region (``_flow_trust``)."""
        sh, sw = grey.shape
        flow = self._flow(grey, self._prev_grey, start)  # current -> previous, (sh, sw, 2)
        at = cv2.add(flow, _grid2(sh, sw))  # where each pixel was, in flow-size pixels
        warped_prev = cv2.remap(self._prev_grey, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        diff = cv2.absdiff(grey, warped_prev)
        unexplained = cv2.threshold(diff, self._cut_level, 255, cv2.THRESH_BINARY)[1]
        share = cv2.countNonZero(unexplained) / diff.size
        if share > CUT_FRACTION:
            return flow, at, diff, None
        return flow, at, diff, self._flow_trust(grey, unexplained, share)

    @staticmethod
    def _flow_trust(grey: np.ndarray, unexplained: np.ndarray, share: float) -> float | np.ndarray | None:
        """How far the flow can be trusted, region by region (a float32 map of 0..1 at
        ``TRUST_BLOCK`` flow pixels a cell; 1.0 for a frame with too little texture to judge).
        In flat or blurred regions almost any flow passes the photometric test, so a flow that
        failed (motion beyond what DIS follows) would drag misplaced strokes in; on textured
        pixels it cannot hide. Full trust while at most ``FLOW_FAIL_LOW`` of a region's textured
        pixels are unexplained, none from ``FLOW_FAIL_HIGH``, and never more than its judged
        neighbours'; a region too flat to judge takes its textured neighbours' trust (weighted by
        their texture), or the whole frame's. None (a scene cut) where a large part of the
        picture (``share`` unexplained) and nearly all of its texture are unexplained: a flow
        that follows large motion can fit smooth parts of an unrelated picture."""
        textured = cv2.threshold(cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, _KERNEL_3), TEXTURE_LEVEL, 255,
                                 cv2.THRESH_BINARY)[1]
        n = cv2.countNonZero(textured)
        if n < MIN_TEXTURED * grey.size:
            return 1.0  # too little texture to judge by
        failed = cv2.bitwise_and(textured, unexplained)
        failed_share = cv2.countNonZero(failed) / n
        if share > CUT_FRACTION_TEXTURED[0] and failed_share > CUT_FRACTION_TEXTURED[1]:
            return None
        frame = _ramp(failed_share)
        sh, sw = grey.shape
        cells = (max(1, -(-sw // TRUST_BLOCK)), max(1, -(-sh // TRUST_BLOCK)))
        tex = cv2.resize(textured, cells, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1 / 255)
        bad = cv2.resize(failed, cells, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1 / 255)
        judged = tex >= np.float32(BLOCK_TEXTURED)
        share = bad / np.maximum(tex, np.float32(1e-6))
        # A region is trusted only as far as its judged neighbours are too: a piece of flow that
        # happens to fit amid failed ones (a stroke matched along an edge) is not motion followed.
        trust = cv2.erode(np.where(judged, _ramp(share), np.float32(1.0)), _KERNEL_3, borderType=cv2.BORDER_REPLICATE)
        weight = np.where(judged, tex, np.float32(0.0))
        k = (2 * TRUST_REACH + 1,) * 2
        near = cv2.boxFilter(weight, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
        spread = cv2.boxFilter(trust * weight, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
        filled = np.where(near > np.float32(1e-3), spread / np.maximum(near, np.float32(1e-6)), np.float32(frame))
        # Where the whole frame's flow is trusted, so is every region of it (the photometric
        # confidence and the clamp handle what moves its own way); the regions add trust to a
        # frame that as a whole is not.
        return np.maximum(np.where(judged, trust, filled), np.float32(frame))

    def _carry(self, stylized: np.ndarray, at: tuple[np.ndarray, np.ndarray], weight: np.ndarray):
        """The previous output warped along the maps ``at`` (x, y), clamped to the current output's 5 x 5
        neighbourhood and blended into it by ``weight`` (8-bit, 255 = all history); with the greys
        of the current output and of the blend. Worked in bands of ``STRIP_ROWS`` rows, each band
        through every step while it is in the cache (the results are the whole frame's)."""
        h, w = stylized.shape[:2]
        mix = np.empty_like(stylized)
        g_cur, g_mix = np.empty((h, w), np.uint8), np.empty((h, w), np.uint8)
        k = self._clamp_kernel
        # The neighbourhood's bounds for the whole frame at once (a morphology call costs a
        # set-up that bands would pay again and again).
        low, high = (cv2.erode(stylized, k), cv2.dilate(stylized, k)) if k is not None else (None, None)
        for y0, y1 in _strips(h):
            warped = cv2.cvtColor(cv2.remap(self._prev_out, at[0][y0:y1], at[1][y0:y1], cv2.INTER_LINEAR,
                                            borderMode=cv2.BORDER_REPLICATE), cv2.COLOR_RGBA2RGB)
            if k is not None:
                warped = cv2.min(cv2.max(warped, low[y0:y1]), high[y0:y1])
            # cur + c (warped - cur) in 8 bits with one product, exactly rounded: the step
            # c |warped - cur| taken from cur towards warped -- min(cur + step, max(cur - step,
            # warped)) is cur + step where warped is above cur and cur - step where it is below.
            cur, band, c = stylized[y0:y1], mix[y0:y1], weight[y0:y1]
            step = cv2.absdiff(warped, cur)
            cv2.multiply(step, cv2.cvtColor(c, cv2.COLOR_GRAY2RGB), dst=step, scale=1 / 255)
            cv2.max(cv2.subtract(cur, step), warped, dst=warped)
            cv2.min(cv2.add(cur, step, dst=step), warped, dst=band)
            cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY, dst=g_cur[y0:y1])
            cv2.cvtColor(band, cv2.COLOR_RGB2GRAY, dst=g_mix[y0:y1])
        return mix, g_cur, g_mix

    def _restore_detail(self, g_cur: np.ndarray, mix: np.ndarray, g_mix: np.ndarray, moving: np.ndarray,
                        carry: np.ndarray, strength: float, history: np.ndarray) -> None:
        """Give the blend (``mix``, changed in place; ``g_mix`` its grey) back the current frame's
        (grey ``g_cur``) local detail energy (5 px scale) where the average lost it and ``moving``
        says things move, in the luminance only (what the eye, and the texture measure, see);
        the result is also written to ``history`` as RGBA."""
        k = (self.base_px, self.base_px)
        smooth_mix = cv2.blur(g_mix, k)
        # The energies (mean absolute detail) are averaged over blocks of the size of ``moving``
        # (half the flow size: 4 x 4 pixels at 640 x 360), where the gain is worked out (it varies
        # slowly), and over 3 x 3 of those blocks: a smoother gain than a 5 x 5 mean at full size,
        # at a fraction of its cost (issue 16, fourth round: Sintel alley_1 0.536 against 0.545).
        small = moving.shape[::-1]
        e_cur = _area_resize(cv2.absdiff(g_cur, cv2.blur(g_cur, k)), small)
        e_mix = _area_resize(cv2.absdiff(g_mix, smooth_mix), small)
        e_cur, e_mix = (cv2.blur(e, (3, 3)) for e in (e_cur, e_mix))
        # boost = clip(aim * e_cur / (e_mix + 0.5), 1, max_gain) - 1, faded where nothing moves
        # The aim above 1 (``detail_target``) makes up for what the average blurs beyond the
        # measured energy, so it applies as far as history was mixed in: where nothing was
        # carried the frame is left as the network made it (sharpening it would amplify its flicker).
        carried = cv2.resize(carry, small, interpolation=cv2.INTER_LINEAR).astype(np.float32)
        aim = carried * np.float32((self.detail_target - 1.0) / (255 * MAX_CARRY * strength)) + np.float32(1.0)
        ratio = e_cur.astype(np.float32) * aim / (e_mix.astype(np.float32) + np.float32(0.5))
        boost = cv2.multiply(cv2.subtract(cv2.min(cv2.max(ratio, 1.0), self.max_gain), 1.0), moving)
        # In 8 bits from here, in steps of 1/BOOST_STEPS (the boost is at most
        # (MAX_GAIN - 1) * BUDGET_MAX_SCALE = 4; 8-bit products cost a third of float ones).
        if self.texture_budget > 0:  # scaled while it is small
            scale = self._budget_scale(g_cur, g_mix, smooth_mix, cv2.convertScaleAbs(boost, alpha=BOOST_STEPS))
        else:
            scale = 1.0
        boost = cv2.resize(cv2.convertScaleAbs(boost, alpha=BOOST_STEPS * scale), g_mix.shape[::-1],
                           interpolation=cv2.INTER_LINEAR)
        # The same change on every channel (a luminance change), band by band as in ``_carry``.
        for y0, y1 in _strips(mix.shape[0]):
            rise, fall = _scaled_detail(g_mix[y0:y1], smooth_mix[y0:y1], boost[y0:y1])
            band = mix[y0:y1]
            cv2.add(band, cv2.cvtColor(rise, cv2.COLOR_GRAY2RGB), dst=band)
            cv2.subtract(band, cv2.cvtColor(fall, cv2.COLOR_GRAY2RGB), dst=band)
            cv2.cvtColor(band, cv2.COLOR_RGB2RGBA, dst=history[y0:y1])

    def _budget_scale(self, g_cur: np.ndarray, g_mix: np.ndarray, smooth_mix: np.ndarray, boost: np.ndarray) -> float:
        """How much of the restoration to apply (0..``BUDGET_MAX_SCALE``) so the frame's texture
        energy (mean absolute Laplacian of the grey near ``BUDGET_SIDE``, as
        ``metrics.texture_energy`` measures it) comes out at ``texture_budget``
        of the current frame's: restoring more than that puts flicker back for no visible gain,
        less lets the blend wash the strokes out. Energy is taken as linear in the scale (the
        added detail follows the blend's own). The images are brought to ``BUDGET_SIDE`` by exact
        halvings and a linear resize for the rest (``_area_resize``: a fractional area resize of
        three full-size images cost more than the rest of the restoration), the restoration
        (the blend's detail, ``g_mix - smooth_mix``, times the boost: 8-bit, in steps of
        1/BOOST_STEPS, as it is applied) is added at that size, and the Laplacians are taken in 8
        and 16 bits."""
        h, w = g_cur.shape
        f = min(1.0, BUDGET_SIDE / max(h, w))
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            g_cur, g_mix, smooth_mix = (_area_resize(g, size) for g in (g_cur, g_mix, smooth_mix))
        if boost.shape != g_cur.shape:  # the boost varies slowly (it is worked out at a quarter of the
            # size or less), so the product of the detail shrunk and the boost grown is the shrunk product
            boost = cv2.resize(boost, g_cur.shape[::-1], interpolation=cv2.INTER_LINEAR)
        rise, fall = _scaled_detail(g_mix, smooth_mix, boost)  # shrinking is linear: the shrunk detail
        restored = cv2.subtract(cv2.add(g_mix, rise), fall)
        # the L1 norm of the 16-bit Laplacian, over the pixels (a third of the time of absdiff and mean)
        e_cur, e_mix, e_full = (cv2.norm(cv2.Laplacian(g, cv2.CV_16S), cv2.NORM_L1) / g.size
                                for g in (g_cur, g_mix, restored))
        if e_full <= e_mix + 1e-3:
            return 1.0  # nothing to restore (or no way to): the restoration as it stands
        return float(np.clip((self.texture_budget * e_cur - e_mix) / (e_full - e_mix), 0.0, BUDGET_MAX_SCALE))


_KERNEL_3 = np.ones((3, 3), np.uint8)


def _scaled_detail(grey: np.ndarray, local_mean: np.ndarray, boost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The detail of ``grey`` above and below its local mean, each scaled by ``boost`` (8-bit, in
    steps of 1/BOOST_STEPS): (the rise, the fall), 8-bit; a pixel has only one of them, so adding
    the rise and subtracting the fall is the saturated signed sum."""
    return (cv2.multiply(cv2.subtract(grey, local_mean), boost, scale=1 / BOOST_STEPS),
            cv2.multiply(cv2.subtract(local_mean, grey), boost, scale=1 / BOOST_STEPS))


STRIP_ROWS = 48  # full-size work in bands of rows that stay in the cache (issue 16, third round)


def _strips(h: int):
    """(first row, end row) of each band of ``STRIP_ROWS`` rows."""
    for y0 in range(0, h, STRIP_ROWS):
        yield y0, min(h, y0 + STRIP_ROWS)


_GRIDS: dict[tuple, np.ndarray] = {}


def _cached(key: tuple, make) -> np.ndarray:
    g = _GRIDS.get(key)
    if g is None:
        if len(_GRIDS) > 32:
            _GRIDS.clear()
        g = _GRIDS[key] = make()
    return g


def _ramp(failed_share):
    """Trust from the share of textured pixels left unexplained (a number or a float32 map):
    1 up to FLOW_FAIL_LOW, 0 from FLOW_FAIL_HIGH."""
    trust = np.clip((np.float32(FLOW_FAIL_HIGH) - failed_share) * np.float32(1 / (FLOW_FAIL_HIGH - FLOW_FAIL_LOW)),
                    0.0, 1.0)
    return float(trust) if np.ndim(trust) == 0 else trust


def _area_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink to ``size`` by exact halvings (area averages: OpenCV's fast path) while the
    result is no smaller than ``size``, then a linear resize for what is left (less than 2x)."""
    while img.shape[1] >= 2 * size[0] and img.shape[0] >= 2 * size[1]:
        h2, w2 = img.shape[0] // 2, img.shape[1] // 2
        img = cv2.resize(img[: 2 * h2, : 2 * w2], (w2, h2), interpolation=cv2.INTER_AREA)
    return img if img.shape[1::-1] == size else cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)


def _grid2(h: int, w: int) -> np.ndarray:
    """Pixel coordinates as one (h, w, 2) array, built once per size."""
    return _cached(("xy", h, w), lambda: np.dstack(np.meshgrid(np.arange(w, dtype=np.float32),
                                                               np.arange(h, dtype=np.float32))))
