"""`eval`: stylize a clip and measure its temporal stability as Lai et al.'s warping error.

For each consecutive pair (a, b) it reports E_warp of the input (the floor), of the
per-frame stylization, and of the smoothed stylization when ``--smooth`` > 0, all with the
same flow and mask. The flow is never the smoother's own: ``gt`` reads ground-truth
Sintel ``.flo`` files beside the frames; ``dis`` computes forward and backward flow with
OpenCV DIS at full resolution with the *medium* preset and variational refinement (the
smoother uses a lighter ultrafast setting at half the resolution, ``FLOW_SCALE``, with the
long side capped at ``MAX_FLOW_SIDE``), and masks occlusions
and motion boundaries with Lai et al.'s checks. It also reports how far smoothing moved
the picture (low-pass PSNR to the per-frame output: ghosting) and how much texture it kept
(texture-energy ratio: blur).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from realtime_style.engine.factory import EngineSpec, open_engine
from realtime_style.errors import InputError
from realtime_style.metrics import lowpass_psnr, texture_ratio
from realtime_style.temporal.smoother import DEFAULT_STRENGTH, Smoother
from realtime_style.temporal.warping import DENOMINATOR, RANGE, occlusion_mask, read_flo, warping_error

FLOWS = ("dis", "gt")


@dataclasses.dataclass
class PairResult:
    a: str
    b: str
    input: float
    unsmoothed: float
    smoothed: float | None
    valid_pixels: int


@dataclasses.dataclass
class EvalReport:
    input: str
    flow: str
    smooth: float
    frames: int
    pairs: list[PairResult]
    fps: float
    lowpass_psnr_db: float | None  # smoothed vs per-frame output (ghosting), frames after the first
    texture_ratio: float | None  # smoothed / per-frame (blur), frames after the first
    scene_cuts: int
    provider: str = ""  # the engine's, when the job opened it

    def mean(self, field: str) -> float:
        values = [getattr(p, field) for p in self.pairs]
        return float(np.mean(values)) if values and values[0] is not None else float("nan")

    def to_json(self) -> dict:
        smoothed = self.smooth > 0
        headline = "smoothed" if smoothed else "unsmoothed"
        return {
            "input": self.input,
            "warping_error": round(self.mean(headline), 7),
            "warping_error_unsmoothed": round(self.mean("unsmoothed"), 7),
            "warping_error_input": round(self.mean("input"), 7),
            "ratio_to_unsmoothed": round(self.mean("smoothed") / self.mean("unsmoothed"), 4) if smoothed else 1.0,
            "per_pair": [dataclasses.asdict(p) for p in self.pairs],
            "flow": {"gt": "ground truth (.flo beside the frames)",
                     "dis": "OpenCV DIS medium preset, full resolution, forward-backward occlusion check"}[self.flow],
            "range": RANGE,
            "denominator": DENOMINATOR,
            "pairs": len(self.pairs),
            "frames": self.frames,
            "smooth": self.smooth,
            "smoothed_vs_unsmoothed": {"lowpass_psnr_db": self.lowpass_psnr_db, "texture_ratio": self.texture_ratio},
            "scene_cuts": self.scene_cuts,
            "fps": round(self.fps, 2),
        }


def find_gt_flow(frame_path: Path) -> tuple[Path, Path | None, Path | None] | None:
    """The ``.flo`` for a frame (flow to the next frame) and its occlusion / invalid masks,
    looked for beside the frame, in ``gt/`` or ``flow/`` below it, or in the Sintel-style
    sibling ``<scene>_gt`` (``alley_1_clean`` -> ``alley_1_gt``)."""
    d, stem = frame_path.parent, frame_path.stem
    scene = re.sub(r"_(clean|final|albedo)$", "", d.name)
    for where in (d, d / "gt", d / "flow", d.parent / f"{scene}_gt", d.parent / f"{scene}_flow"):
        flo = where / f"{stem}.flo"
        if flo.is_file():
            occ, inv = where / f"occlusions_{stem}.png", where / f"invalid_{stem}.png"
            return flo, occ if occ.is_file() else None, inv if inv.is_file() else None
    return None


def ground_truth(frame_path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """The ground-truth flow from a frame to the next and the pixels to judge (not occluded,
    not invalid; without an occlusion map, not on a motion boundary), or None without a .flo."""
    found = find_gt_flow(frame_path)
    if found is None:
        return None
    flo, occ, inv = found
    f = read_flo(flo)
    if f.shape[:2] != tuple(shape):
        raise InputError(f"{flo} is {f.shape[1]}x{f.shape[0]}; the frames are {shape[1]}x{shape[0]}")
    valid = ~_mask(occ, shape) & ~_mask(inv, shape)
    if occ is None:  # no occlusion map: at least leave out motion boundaries
        du, dv = np.gradient(f[..., 0]), np.gradient(f[..., 1])
        valid &= ~(du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2 > 0.01 * (f ** 2).sum(2) + 0.002)
    return f, valid


def _mask(path: Path | None, shape) -> np.ndarray:
    if path is None:
        return np.zeros(shape, bool)
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None or m.shape != shape:
        raise InputError(f"{path} is not a {shape[1]}x{shape[0]} mask")
    return m > 127


class _DisReference:
    """The evaluation flow: stronger than, and separate from, the smoother's."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        fwd = self._dis.calc(ga, gb, None)
        bwd = self._dis.calc(gb, ga, None)
        return fwd, ~occlusion_mask(fwd, bwd)


def evaluate(input_path: str | os.PathLike, stylize: Callable[[np.ndarray], np.ndarray], *, smooth: float = 0.0,
             flow: str = "dis", frame_limit: int = 0) -> EvalReport:
    from realtime_style.jobs.convert import open_source

    input_path = Path(input_path)
    if flow not in FLOWS:
        raise InputError(f"--flow must be one of {', '.join(FLOWS)}")
    if not input_path.exists():
        raise InputError(f"{input_path} does not exist")
    if flow == "gt" and not input_path.is_dir():
        raise InputError("--flow gt needs a directory of frames with .flo files beside them (Sintel layout)")
    source = open_source(input_path, audio=False, fps=Fraction(25))
    smoother = Smoother(smooth) if smooth > 0 else None
    reference = _DisReference() if flow == "dis" else None
    pairs: list[PairResult] = []
    lp, tr = [], []
    prev = None  # (name, input, unsmoothed, smoothed)
    frames, busy = 0, 0.0
    try:
        for frame in source.frames():
            if frame_limit and frames >= frame_limit:
                break
            t0 = time.perf_counter()
            raw = stylize(frame.rgb)
            out = smoother.smooth(frame.rgb, raw) if smoother else None
            busy += time.perf_counter() - t0
            frames += 1
            name = frame.name or f"frame {frame.index + 1}"
            if out is not None and prev is not None:  # the first frame has no history: identical
                lp.append(lowpass_psnr(out, raw))
                tr.append(texture_ratio(out, raw))
            if prev is not None:
                pair = _pair(prev, (name, frame.rgb, raw, out), flow, reference, input_path)
                if pair is not None:
                    pairs.append(pair)
            prev = (name, frame.rgb, raw, out)
    finally:
        source.close()
    if frames < 2:
        raise InputError(f"{input_path} has {frames} frame(s); the warping error needs at least two")
    if not pairs:
        raise InputError(f"no ground-truth flow (.flo) found beside the frames of {input_path}; use --flow dis")
    finite = [v for v in lp if np.isfinite(v)]
    return EvalReport(str(input_path), flow, smooth, frames, pairs, frames / busy if busy else 0.0,
                      round(float(np.mean(finite)), 2) if finite else (float("inf") if lp else None),
                      round(float(np.mean(tr)), 4) if tr else None, smoother.cuts if smoother else 0)


def _pair(prev, cur, flow: str, reference, input_path: Path) -> PairResult | None:
    name_a, in_a, raw_a, out_a = prev
    name_b, in_b, raw_b, out_b = cur
    if flow == "gt":
        found = ground_truth(input_path / name_a, in_a.shape[:2])
        if found is None:
            return None
        f, valid = found
    else:
        f, valid = reference(in_a, in_b)
    e_in = warping_error(in_a, in_b, f, valid)
    e_raw = warping_error(raw_a, raw_b, f, valid)
    e_out = warping_error(out_a, out_b, f, valid).value if out_a is not None else None
    return PairResult(name_a, name_b, round(e_in.value, 7), round(e_raw.value, 7),
                      round(e_out, 7) if e_out is not None else None, e_in.valid_pixels)


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    input: str  # a video file, or a directory of frames (Sintel layout for flow="gt")
    engine: EngineSpec = EngineSpec()
    smooth: float = DEFAULT_STRENGTH
    flow: str = "dis"
    frame_limit: int = 0


def run(options: EvalOptions, *, on_note: Callable[[str], None] = lambda _m: None) -> EvalReport:
    """``eval`` as the command runs it (a video file has one frame size; a directory may not)."""
    engine = open_engine(options.engine.with_options(workers=1, one_size=Path(options.input).is_file()), on_note)
    report = evaluate(options.input, engine.stylize, smooth=options.smooth, flow=options.flow,
                      frame_limit=options.frame_limit)
    return dataclasses.replace(report, provider=engine.provider)


def summary_lines(report: EvalReport) -> list[str]:
    """The short human-readable report: what the number means, then the three means."""
    data = report.to_json()
    pairs = f"{data['pairs']} frame pair{'' if data['pairs'] == 1 else 's'}"
    lines = [f"warping error (Lai et al. 2018; lower is steadier) over {pairs}; {data['range']}, "
             f"flow {data['flow']}, denominator {data['denominator']}",
             f"  input (the floor)   {data['warping_error_input']:.6f}",
             f"  per-frame style     {data['warping_error_unsmoothed']:.6f}"]
    if report.smooth > 0:
        sv = data["smoothed_vs_unsmoothed"]
        lines.append(f"  smoothed ({report.smooth:g})      {data['warping_error']:.6f}  = "
                     f"{data['ratio_to_unsmoothed']:.2f} of per-frame (texture kept {sv['texture_ratio']}, "
                     f"low-pass PSNR {sv['lowpass_psnr_db']} dB, scene cuts {data['scene_cuts']})")
    lines.append(f"  speed {data['fps']:.1f} fps ({report.provider}); every pair: --per-pair; all figures: --json")
    return lines


def table_lines(report: EvalReport) -> list[str]:
    """The full human-readable report: a row per pair, then the means."""
    data = report.to_json()
    smoothed = report.smooth > 0
    lines = [f"warping error E_warp ({data['range']}; denominator: {data['denominator']}; flow: {data['flow']})",
             f"{'pair':<40} {'input':>10} {'per-frame':>10}" + (f" {'smoothed':>10}" if smoothed else "")]
    for p in report.pairs:
        row = f"{p.a + ' -> ' + p.b:<40} {p.input:>10.6f} {p.unsmoothed:>10.6f}"
        lines.append(row + (f" {p.smoothed:>10.6f}" if p.smoothed is not None else ""))
    pairs = f"{data['pairs']} pair{'' if data['pairs'] == 1 else 's'}"
    summary = (f"mean over {pairs}: input {data['warping_error_input']:.6f} (floor), "
               f"per-frame {data['warping_error_unsmoothed']:.6f}")
    if smoothed:
        sv = data["smoothed_vs_unsmoothed"]
        summary += (f", smoothed ({report.smooth:g}) {data['warping_error']:.6f} = {data['ratio_to_unsmoothed']:.2f} "
                    f"of per-frame; smoothed vs per-frame: low-pass PSNR {sv['lowpass_psnr_db']} dB, texture ratio "
                    f"{sv['texture_ratio']}; scene cuts {data['scene_cuts']}")
    lines.append(summary + f"; {data['fps']:.1f} fps ({report.provider})")
    return lines
