"""The built-in styles shipped in the package: contract, provenance, model cards, recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.models import registry
from realtime_style.models.catalogue import ML5_STYLES
from realtime_style.testcard import card_image

runner = CliRunner()
BUILTINS = registry.builtin_names()
RECIPES = registry.BUILTIN_DIR.parent / "recipes"


def test_the_four_public_domain_styles_ship_and_wave_is_the_default():
    assert {"wave", "scream", "udnie", "wreck"} <= set(BUILTINS)
    assert registry.default_name() == "wave"


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_contract_provenance_and_card(name, model_home):
    record = registry.info(name)
    assert record.builtin and record.arch == "student"
    assert record.teacher == f"ml5:{name}"
    assert "public domain" in record.artwork.lower()
    assert ML5_STYLES[name].public_domain  # only public-domain artworks ship
    assert record.card, "a model card must sit beside the model"
    card = open(record.card).read()
    for needle in (f"ml5:{name}", "steps", "seed", "FPS", "stroke correlation", "shift probe", "Borders",
                   "low-pass PSNR", "texture", "warping error", f"recipes/{name}.json"):
        assert needle in card, needle
    recipe = json.loads((RECIPES / f"{name}.json").read_text())
    assert recipe["teacher"] == f"ml5:{name}" and recipe["distill"]["seed"] == 0
    engine = StyleEngine(record.path, InferenceOptions(provider="cpu"))
    img = card_image(37, 53)
    out = engine.stylize(img)
    assert out.shape == img.shape and np.abs(out.astype(int) - img).mean() > 10  # it does style


def test_models_list_marks_builtins(model_home):
    r = runner.invoke(app, ["models", "list", "--json"])
    listed = {m["name"]: m for m in json.loads(r.stdout)}
    for name in BUILTINS:
        assert listed[name]["builtin"] is True and listed[name]["card"].endswith(f"{name}.md")


# -- borders: the outer rows and columns are painted as well as the interior ---------------------
BORDER_SIZES = [(640, 360), (1280, 720), (1001, 563), (1920, 1080)]


@pytest.fixture(scope="module")
def border_photo():
    from conftest import SHARED

    val = SHARED / "images" / "val"
    if not val.is_dir():
        pytest.skip(f"needs the validation photos and ml5 teachers of {SHARED} (not on this machine)")
    from realtime_style.io.images import list_images, read_image

    return read_image(list_images(val)[3]).rgb


@pytest.fixture(scope="module")
def teachers():
    from conftest import SHARED

    pytest.importorskip("torch")
    from realtime_style_export.checkpoints import load_ml5
    from realtime_style_export.onnx_export import export_model

    made = {}

    def get(name):
        if name not in made:
            folder = SHARED / "teachers" / "ml5" / name
            if not folder.is_dir():
                pytest.skip(f"no ml5 teacher at {folder}")
            made[name] = StyleEngine(export_model(load_ml5(folder), None, name=name)[0],
                                     InferenceOptions(provider="cpu"))
        return made[name]

    return get


# Known: these built-ins paint their outer 16 px worse than the interior (scream at 640x360: stroke
# correlation 0.79 against 0.89). Strict, so a fixed model turns these red until the mark goes.
WEAK_BORDERS = {"scream", "udnie"}


def _border_cases(names):
    mark = pytest.mark.xfail(strict=True, reason="issue 14: this built-in's border band is weaker than its interior")
    return [pytest.param(n, marks=mark) if n in WEAK_BORDERS else n for n in names]


@pytest.mark.parametrize("name", _border_cases(BUILTINS))
@pytest.mark.parametrize("size", BORDER_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_border_band_is_as_good_as_the_interior(name, size, border_photo, teachers):
    """The outer 16 px against the teacher, as close as the interior is (a newcomer once saw a
    striped band along the top and bottom of 720p frames). Frame sizes of real video, and an
    odd one that the engine pads."""
    import cv2

    from realtime_style.metrics import border_mask, lowpass_psnr, stroke_correlation

    if size == (1920, 1080) and name != registry.default_name():
        pytest.skip("1080p is checked on the default style only (the teacher takes seconds a frame)")
    img = cv2.resize(border_photo, size, interpolation=cv2.INTER_AREA)
    student = StyleEngine(registry.find(name)[0], InferenceOptions(provider="cpu")).stylize(img)
    teacher = teachers(name).stylize(img)
    edge = border_mask(img.shape, 16)
    strokes = stroke_correlation(student, teacher, edge), stroke_correlation(student, teacher, ~edge)
    colour = (lowpass_psnr(student, teacher, max_side=10**6, mask=edge),
              lowpass_psnr(student, teacher, max_side=10**6, mask=~edge))
    assert strokes[0] >= strokes[1] - 0.05, f"strokes border {strokes[0]:.3f}, interior {strokes[1]:.3f}"
    assert colour[0] >= colour[1] - 1.5, f"low-pass PSNR border {colour[0]:.2f}, interior {colour[1]:.2f} dB"
