"""Image I/O (`read_image` / `write_image`) and the `image` command's output fidelity.

Everything runs for real: images written with cv2 into tmp_path, the CLI through Typer's
CliRunner, ONNX Runtime sessions on the tiny generated models from conftest.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_style_model
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.io.images import read_image, write_image

runner = CliRunner()


# -- helpers ---------------------------------------------------------------------------------
def colour_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful BGR uint8 image with a little noise (JPEG-friendly, not flat)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    b = 128 + 100 * np.sin(xx / max(w, 1) * 3.1 + seed)
    g = 128 + 100 * np.cos(yy / max(h, 1) * 2.7 + seed)
    r = 128 + 100 * np.sin((xx + yy) / max(h + w, 1) * 4.0)
    img = np.dstack([b, g, r]) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).round().astype(np.uint8)


def save(path: Path, img: np.ndarray, params: list[int] | None = None) -> Path:
    assert cv2.imwrite(str(path), img, params or []), f"cv2 could not write {path}"
    return path


def load_raw(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"{path} could not be read back"
    return img


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}"
    )
    assert "Traceback" not in result.output


def stylize(src: Path, out: Path, model: Path, *extra: str) -> np.ndarray:
    res = invoke("image", src, "-o", out, "--style", model, "--provider", "cpu", *extra)
    ok(res)
    assert out.is_file()
    return load_raw(out)


def to_rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# -- read / write round trips ------------------------------------------------------------------
def test_rgb_png_round_trip_is_exact(tmp_path):
    bgr = colour_image(23, 37)
    src = save(tmp_path / "in.png", bgr)
    pic = read_image(src)
    assert pic.rgb.dtype == np.uint8 and pic.rgb.shape == (23, 37, 3)
    assert np.array_equal(pic.rgb, to_rgb(bgr))
    assert pic.alpha is None and not pic.depth16 and not pic.grayscale
    write_image(tmp_path / "out.png", pic)
    back = load_raw(tmp_path / "out.png")
    assert back.dtype == np.uint8
    assert np.array_equal(back, bgr)


def test_grayscale_png_comes_back_as_colour(tmp_path):
    gray = cv2.cvtColor(colour_image(20, 30), cv2.COLOR_BGR2GRAY)
    src = save(tmp_path / "gray.png", gray)
    assert load_raw(src).ndim == 2  # really a one-channel file
    pic = read_image(src)
    assert pic.grayscale
    assert pic.rgb.shape == (20, 30, 3)
    for c in range(3):
        assert np.array_equal(pic.rgb[:, :, c], gray)
    write_image(tmp_path / "out.png", pic)
    back = load_raw(tmp_path / "out.png")
    assert back.shape == (20, 30, 3) and back.dtype == np.uint8
    for c in range(3):
        assert np.array_equal(back[:, :, c], gray)


def _alpha_ramp(h: int, w: int, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(7)
    alpha = rng.integers(0, top + 1, (h, w), dtype=np.int64)
    alpha[0, 0], alpha[-1, -1] = 0, top
    return alpha.astype(dtype)


def test_rgba_png_alpha_passes_through_bit_exactly(tmp_path):
    bgr = colour_image(19, 27, seed=1)
    alpha = _alpha_ramp(19, 27)
    src = save(tmp_path / "rgba.png", np.dstack([bgr, alpha]))
    pic = read_image(src)
    assert pic.alpha is not None
    assert np.array_equal(pic.alpha, alpha)
    assert np.array_equal(pic.rgb, to_rgb(bgr))
    write_image(tmp_path / "out.png", pic)
    back = load_raw(tmp_path / "out.png")
    assert back.shape == (19, 27, 4) and back.dtype == np.uint8
    assert np.array_equal(back[:, :, 3], alpha)
    assert np.array_equal(back[:, :, :3], bgr)


def test_rgba_to_jpeg_drops_alpha(tmp_path):
    bgr = colour_image(32, 40, seed=2)
    src = save(tmp_path / "rgba.png", np.dstack([bgr, _alpha_ramp(32, 40)]))
    pic = read_image(src)
    write_image(tmp_path / "out.jpg", pic)
    back = load_raw(tmp_path / "out.jpg")
    assert back.shape == (32, 40, 3)
    assert np.abs(back.astype(int) - bgr.astype(int)).mean() < 4


def test_16bit_png_round_trip_stays_16bit(tmp_path):
    rng = np.random.default_rng(3)
    # multiples of 257 survive the 8-bit working precision exactly
    levels = rng.integers(0, 256, (15, 21, 3)).astype(np.uint16) * 257
    src = save(tmp_path / "deep.png", levels)
    assert load_raw(src).dtype == np.uint16
    pic = read_image(src)
    assert pic.depth16
    assert pic.rgb.dtype == np.uint8
    assert np.array_equal(pic.rgb, to_rgb((levels // 257).astype(np.uint8)))
    write_image(tmp_path / "out.png", pic)
    back = load_raw(tmp_path / "out.png")
    assert back.dtype == np.uint16 and back.shape == (15, 21, 3)
    assert np.array_equal(back, levels)


def test_16bit_png_with_alpha_keeps_16bit_alpha(tmp_path):
    rng = np.random.default_rng(4)
    colour = rng.integers(0, 65536, (13, 17, 3)).astype(np.uint16)
    alpha = _alpha_ramp(13, 17, np.uint16)
    src = save(tmp_path / "deep_rgba.png", np.dstack([colour, alpha]))
    pic = read_image(src)
    assert pic.depth16 and pic.alpha is not None and pic.alpha.dtype == np.uint16
    write_image(tmp_path / "out.png", pic)
    back = load_raw(tmp_path / "out.png")
    assert back.dtype == np.uint16 and back.shape == (13, 17, 4)
    assert np.array_equal(back[:, :, 3], alpha)  # bit-exact, all 16 bits
    # colour goes through 8 bits: within half an 8-bit step
    assert np.abs(back[:, :, :3].astype(np.int64) - colour.astype(np.int64)).max() <= 129


def test_jpeg_read_and_write(tmp_path):
    bgr = colour_image(48, 64, seed=5)
    src = save(tmp_path / "photo.jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    pic = read_image(src)
    assert pic.alpha is None and not pic.depth16
    assert np.array_equal(pic.rgb, to_rgb(cv2.imread(str(src), cv2.IMREAD_COLOR)))
    write_image(tmp_path / "out.jpg", pic)
    back = load_raw(tmp_path / "out.jpg")
    assert back.shape == (48, 64, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - bgr.astype(int)).mean() < 4
    # the file really is a JPEG (not a PNG with a .jpg name)
    assert (tmp_path / "out.jpg").read_bytes()[:2] == b"\xff\xd8"


# -- the `image` command ---------------------------------------------------------------------------
@pytest.mark.parametrize("w,h", [(1, 1), (3, 5), (5, 3), (17, 31), (640, 360)])
def test_image_keeps_odd_and_tiny_sizes(tmp_path, tiny_model, model_home, w, h):
    src = save(tmp_path / "in.png", colour_image(h, w))
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_image_output_is_really_stylized(tmp_path, tiny_model, model_home):
    bgr = colour_image(40, 56)
    src = save(tmp_path / "in.png", bgr)
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert np.abs(out.astype(int) - bgr.astype(int)).mean() > 5


def test_image_with_registry_style(tmp_path, tiny_model, model_home):
    ok(invoke("models", "import", tiny_model, "--name", "tiny"))
    src = save(tmp_path / "in.png", colour_image(30, 44))
    res = invoke("image", src, "-o", tmp_path / "out.png", "--style", "tiny")  # provider auto
    ok(res)
    direct = stylize(src, tmp_path / "direct.png", tiny_model)
    assert np.array_equal(load_raw(tmp_path / "out.png"), direct)


def test_image_grayscale_input(tmp_path, tiny_model, model_home):
    gray = cv2.cvtColor(colour_image(25, 33), cv2.COLOR_BGR2GRAY)
    src = save(tmp_path / "gray.png", gray)
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert out.shape == (25, 33, 3)


def test_image_rgba_keeps_alpha(tmp_path, tiny_model, model_home):
    alpha = _alpha_ramp(29, 41)
    src = save(tmp_path / "rgba.png", np.dstack([colour_image(29, 41), alpha]))
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert out.shape == (29, 41, 4)
    assert np.array_equal(out[:, :, 3], alpha)


def test_image_16bit_stays_16bit(tmp_path, tiny_model, model_home):
    deep = colour_image(22, 26).astype(np.uint16) * 257
    src = save(tmp_path / "deep.png", deep)
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert out.dtype == np.uint16
    assert out.shape == (22, 26, 3)


def test_image_16bit_rgba_keeps_16bit_alpha(tmp_path, tiny_model, model_home):
    alpha = _alpha_ramp(18, 24, np.uint16)
    deep = np.dstack([colour_image(18, 24).astype(np.uint16) * 257, alpha])
    src = save(tmp_path / "deep_rgba.png", deep)
    out = stylize(src, tmp_path / "out.png", tiny_model)
    assert out.dtype == np.uint16 and out.shape == (18, 24, 4)
    assert np.array_equal(out[:, :, 3], alpha)


def test_image_directory_into_directory(tmp_path, tiny_model, model_home):
    indir = tmp_path / "in"
    indir.mkdir()
    sizes = {"a.png": (10, 12), "b.jpg": (31, 17), "c.png": (64, 48)}
    for name, (h, w) in sizes.items():
        save(indir / name, colour_image(h, w, seed=len(name)))
    (indir / "notes.txt").write_text("not an image")
    outdir = tmp_path / "out"
    res = invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu")
    ok(res)
    assert sorted(p.name for p in outdir.iterdir()) == sorted(sizes)
    for name, (h, w) in sizes.items():
        assert load_raw(outdir / name).shape[:2] == (h, w)


def test_strength_zero_returns_the_input_exactly(tmp_path, tiny_model, model_home):
    bgr = colour_image(27, 35)
    src = save(tmp_path / "in.png", bgr)
    out = stylize(src, tmp_path / "out.png", tiny_model, "--strength", "0")
    assert np.array_equal(out, bgr)


def test_strength_half_lies_between(tmp_path, tiny_model, model_home):
    bgr = colour_image(27, 35)
    src = save(tmp_path / "in.png", bgr)
    full = stylize(src, tmp_path / "full.png", tiny_model).astype(int)
    half = stylize(src, tmp_path / "half.png", tiny_model, "--strength", "0.5").astype(int)
    orig = bgr.astype(int)
    lo, hi = np.minimum(full, orig), np.maximum(full, orig)
    assert np.all(half >= lo - 1) and np.all(half <= hi + 1)
    expected = (full + orig) / 2
    assert np.abs(half - expected).max() <= 1
    assert not np.array_equal(half, full) and not np.array_equal(half, orig)


def _chroma_diff(a_bgr: np.ndarray, b_bgr: np.ndarray) -> float:
    a = cv2.cvtColor(a_bgr, cv2.COLOR_BGR2YCrCb)[:, :, 1:].astype(float)
    b = cv2.cvtColor(b_bgr, cv2.COLOR_BGR2YCrCb)[:, :, 1:].astype(float)
    return float(np.abs(a - b).mean())


def test_preserve_color_keeps_source_chroma(tmp_path, tiny_model, model_home):
    bgr = colour_image(60, 80, seed=9)
    src = save(tmp_path / "in.png", bgr)
    plain = stylize(src, tmp_path / "plain.png", tiny_model)
    kept = stylize(src, tmp_path / "kept.png", tiny_model, "--preserve-color")
    without, with_flag = _chroma_diff(plain, bgr), _chroma_diff(kept, bgr)
    assert without > 5.0, f"the tiny model should shift colours (chroma diff {without:.2f})"
    assert with_flag < 2.0, f"--preserve-color left chroma diff {with_flag:.2f}"
    # luma still comes from the stylized image
    y_plain = cv2.cvtColor(plain, cv2.COLOR_BGR2YCrCb)[:, :, 0].astype(float)
    y_kept = cv2.cvtColor(kept, cv2.COLOR_BGR2YCrCb)[:, :, 0].astype(float)
    assert np.abs(y_plain - y_kept).mean() < 2.0


def test_max_side_keeps_the_source_size(tmp_path, tiny_model, model_home):
    src = save(tmp_path / "in.png", colour_image(200, 300))
    full = stylize(src, tmp_path / "full.png", tiny_model)
    small = stylize(src, tmp_path / "small.png", tiny_model, "--max-side", "64")
    assert small.shape == (200, 300, 3)
    # the network really ran at a lower resolution (so the result differs)
    assert not np.array_equal(small, full)


def test_fixed_size_model_handles_other_sizes(tmp_path, model_home):
    model = tmp_path / "fixed.onnx"
    model.write_bytes(make_style_model(fixed_hw=(32, 48)))
    src = save(tmp_path / "in.png", colour_image(70, 100))
    out = stylize(src, tmp_path / "out.png", model)
    assert out.shape == (70, 100, 3)


def test_written_files_get_normal_permissions(tmp_path, tiny_model, model_home):
    import os
    import stat

    old = os.umask(0o022)
    try:
        src = save(tmp_path / "in.png", colour_image(12, 16))
        stylize(src, tmp_path / "cli.png", tiny_model)
        write_image(tmp_path / "direct.png", read_image(src))
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("cli.png", "direct.png")}
    assert modes == {"cli.png": 0o644, "direct.png": 0o644}, {k: oct(v) for k, v in modes.items()}
