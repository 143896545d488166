"""Fidelity measures and the warping error on sequences with known motion."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from realtime_style.errors import InputError
from realtime_style.metrics import lowpass_psnr, psnr, texture_ratio
from realtime_style.temporal.warping import FLO_MAGIC, backward_warp, occlusion_mask, read_flo, warping_error
from realtime_style.testcard import card_image


def shifted_pair(dx: int, dy: int, h: int = 96, w: int = 128):
    """Frame b is frame a moved by (dx, dy): the flow a->b is (dx, dy) everywhere."""
    big = card_image(h + 40, w + 40, seed=5)
    a = np.ascontiguousarray(big[20 : 20 + h, 20 : 20 + w])
    b = np.ascontiguousarray(big[20 - dy : 20 - dy + h, 20 - dx : 20 - dx + w])
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = dx, dy
    valid = np.zeros((h, w), bool)
    valid[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = True
    return a, b, flow, valid


@pytest.mark.parametrize("dx,dy", [(0, 0), (3, 0), (-2, 5), (7, -4)])
def test_warping_error_is_zero_for_exact_motion(dx, dy):
    a, b, flow, valid = shifted_pair(dx, dy)
    assert np.array_equal(backward_warp(b, flow)[valid], a[valid])
    err = warping_error(a, b, flow, valid)
    assert err.value == 0.0 and err.valid_pixels == valid.sum()


def test_warping_error_of_a_known_brightness_change():
    a, b, flow, valid = shifted_pair(4, 2)
    b = np.clip(b.astype(int) + 10, 0, 255).astype(np.uint8)
    keep = valid & np.all(a < 245, axis=2)  # no clipping in the counted pixels
    assert warping_error(a, b, flow, keep).value == pytest.approx((10 / 255) ** 2, rel=1e-5)


def test_wrong_flow_gives_error_and_the_mask_counts():
    a, b, flow, valid = shifted_pair(5, 0)
    assert warping_error(a, b, flow * 0, valid).value > 1e-3
    with pytest.raises(InputError):
        warping_error(a, b, flow, np.zeros_like(valid))


def test_occlusion_mask_flags_inconsistent_motion_only():
    h, w = 64, 80
    fwd = np.zeros((h, w, 2), np.float32)
    fwd[..., 0] = 3
    bwd = -fwd
    assert not occlusion_mask(fwd, bwd)[8:-8, 8:-8].any()
    bwd_bad = bwd.copy()
    bwd_bad[20:30, 20:30] = 6  # disagrees with the forward flow there
    occ = occlusion_mask(fwd, bwd_bad)
    assert occ[22:28, 18:24].all()


def test_read_flo_round_trip_and_bad_files(tmp_path):
    flow = np.random.default_rng(0).normal(0, 3, (7, 9, 2)).astype(np.float32)
    path = tmp_path / "f.flo"
    with open(path, "wb") as fh:
        np.array([FLO_MAGIC], np.float32).tofile(fh)
        np.array([9, 7], np.int32).tofile(fh)
        flow.tofile(fh)
    assert np.array_equal(read_flo(path), flow)
    (tmp_path / "bad.flo").write_bytes(b"\x00" * 40)
    with pytest.raises(InputError, match="magic"):
        read_flo(tmp_path / "bad.flo")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(InputError, match="truncated"):
        read_flo(path)


def test_fidelity_measures_tell_blur_from_phase():
    img = card_image(256, 256, seed=2)
    assert math.isinf(psnr(img, img)) and math.isinf(lowpass_psnr(img, img))
    assert texture_ratio(img, img) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(img, (0, 0), 1.5)
    assert texture_ratio(blurred, img) < 0.5  # blur loses texture energy...
    assert lowpass_psnr(blurred, img) > 30  # ...but keeps the low-pass picture
    shifted, ref = np.ascontiguousarray(img[:, 4:-8]), np.ascontiguousarray(img[:, 6:-6])  # 2 px apart
    assert texture_ratio(shifted, ref) == pytest.approx(1.0, abs=0.02)  # a phase shift keeps texture
    assert lowpass_psnr(shifted, ref) > psnr(shifted, ref) + 3


def test_sintel_input_floor_matches_the_published_figures(shared_data):
    """The notes give the input's own E_warp with ground-truth flow: alley_1 1e-4..2e-4."""
    from realtime_style.io.images import read_image

    d = shared_data / "flow" / "sintel"
    a = read_image(d / "alley_1_clean" / "frame_0002.png").rgb
    b = read_image(d / "alley_1_clean" / "frame_0003.png").rgb
    flow = read_flo(d / "alley_1_gt" / "frame_0002.flo")
    occ = cv2.imread(str(d / "alley_1_gt" / "occlusions_frame_0002.png"), 0) > 127
    inv = cv2.imread(str(d / "alley_1_gt" / "invalid_frame_0002.png"), 0) > 127
    assert 0.5e-4 <= warping_error(a, b, flow, ~occ & ~inv).value <= 2.5e-4
