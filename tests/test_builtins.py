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
    for needle in (f"ml5:{name}", "steps", "seed", "FPS", "low-pass PSNR", "texture", "warping error",
                   f"recipes/{name}.json"):
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
