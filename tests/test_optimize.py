"""`optimize` (Gatys et al.) end to end on a random VGG16: L-BFGS and Adam, multi-scale,
--preserve-color, and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.testcard import card_image


@pytest.fixture
def images(tmp_path):
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    cv2.imwrite(str(content), card_image(45, 60, seed=1)[..., ::-1])
    rng = np.random.default_rng(0)
    cv2.imwrite(str(style), (rng.random((40, 40, 3)) * 255).astype(np.uint8))
    return content, style, tmp_path


def optimize(content, style, out, vgg, *extra):
    return CliRunner().invoke(app, ["optimize", str(content), str(style), "-o", str(out), "--vgg-weights", str(vgg),
                                    "--size", "48", "--steps", "6", "--log-every", "2", "--threads", "2", *extra])


def test_lbfgs_lowers_the_loss_and_writes_the_image(images, vgg_weights):
    content, style, tmp = images
    res = optimize(content, style, tmp / "out.png", vgg_weights)
    assert res.exit_code == 0, res.output
    assert "step 6/6" in res.stderr and "ETA" in res.stderr
    out = cv2.imread(str(tmp / "out.png"))
    assert out.shape == (36, 48, 3)  # long side --size, the photo's aspect ratio
    summary = res.stderr.strip().splitlines()[-1]
    first, final = (float(v) for v in summary.split("loss ")[1].split(" in ")[0].split(" -> "))
    assert final < 0.5 * first, summary
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_adam_multiscale_preserve_color(images, vgg_weights):
    content, style, tmp = images
    res = optimize(content, style, tmp / "out.jpg", vgg_weights, "--optimizer", "adam", "--scales", "2",
                   "--preserve-color", "--steps", "3")
    assert res.exit_code == 0, res.output
    assert "step 6/6" in res.stderr  # 3 steps at each of 2 scales (24 px, then 48 px)
    out = cv2.imread(str(tmp / "out.jpg"))
    assert out.shape == (36, 48, 3)
    # the chroma is the photo's (luminance transfer), up to JPEG rounding
    photo = cv2.resize(cv2.imread(str(content)), (48, 36), interpolation=cv2.INTER_AREA)
    chroma = lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)
    assert np.abs(chroma(out) - chroma(photo)).mean() < 4


@pytest.mark.parametrize("case", ["style_not_image", "content_missing", "vgg_missing", "exists", "bad_suffix",
                                  "bad_optimizer"])
def test_optimize_errors_are_one_line(images, vgg_weights, case):
    content, style, tmp = images
    out, vgg = tmp / "out.png", vgg_weights
    if case == "style_not_image":
        style = tmp / "style.png"
        style.write_bytes(b"GIF89a but not really")
    elif case == "content_missing":
        content = tmp / "nope.png"
    elif case == "vgg_missing":
        vgg = tmp / "nope.pth"
    elif case == "exists":
        out.write_bytes(b"keep me")
    elif case == "bad_suffix":
        out = tmp / "out.txt"
    res = optimize(content, style, out, vgg, *(["--optimizer", "sgd"] if case == "bad_optimizer" else []))
    assert res.exit_code == (2 if case == "bad_optimizer" else 1), res.output
    if case != "bad_optimizer":
        lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in res.output, res.output
    if case == "exists":
        assert out.read_bytes() == b"keep me"
    else:
        assert not out.exists()
