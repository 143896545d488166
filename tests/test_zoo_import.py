"""`models import` of float NCHW style graphs (the ONNX model zoo's fast-neural-style files,
pytorch/examples' --export_onnx): wrapped into our uint8 contract by the runtime, without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
from conftest import ROOT
from onnx import TensorProto, helper
from test_no_torch import BLOCK_TORCH

from realtime_style.engine import InferenceOptions, StyleEngine
from realtime_style.metrics import psnr
from realtime_style.testcard import card_image

CLI = BLOCK_TORCH + "from realtime_style.cli import main; main()"


def cli(home, *args: str) -> subprocess.CompletedProcess:
    """The command line with torch blocked from the import path, as a runtime-only user has it."""
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "REALTIME_STYLE_HOME": str(home)})


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Our Johnson network (pytorch/examples' TransformerNet) with weights that paint in 0..255,
    exported by torch's TorchScript exporter as the zoo and pytorch/examples do: a static
    1x3x224x224 float input named input1, at opset 9 and at opset 11."""
    torch = pytest.importorskip("torch")
    from realtime_style_export.networks import TransformerNet

    torch.manual_seed(0)
    net = TransformerNet().eval()
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():  # an untrained net paints around 0; a trained one in 0..255
        last.weight.mul_(60.0)
        last.bias.fill_(127.0)
    folder = tmp_path_factory.mktemp("zoo")
    files = {}
    for key, opset, axes in ((9, 9, None), (11, 11, None), ("dynamic", 11, {2: "h", 3: "w"})):
        files[key] = folder / f"johnson-{key}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, torch.rand(1, 3, 224, 224) * 255, str(files[key]), opset_version=opset,
                              dynamo=False, input_names=["input1"], output_names=["output1"],
                              dynamic_axes={"input1": axes, "output1": axes} if axes else None)

    def forward(rgb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = net(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())
        return y[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()

    return files, forward


@pytest.mark.parametrize("opset", [9, 11, "dynamic"])
def test_zoo_graph_is_imported_without_torch_and_matches_the_network(zoo, opset, tmp_path):
    files, forward = zoo
    home = tmp_path / "home"
    r = cli(home, "models", "import", files[opset], "--name", f"zoo{opset}", "--artwork", "A test painting")
    assert r.returncode == 0, r.stderr
    assert "wrapped a float NCHW graph" in r.stderr and "dynamic size" in r.stderr
    assert ("upgraded from opset 9" in r.stderr) == (opset == 9)
    assert ("(it takes any size)" in r.stderr) == (opset == "dynamic")
    info = json.loads(cli(home, "models", "info", f"zoo{opset}", "--json").stdout)
    meta = info.get("metadata", info)
    assert info["arch"] == "onnx-nchw" and info["license"] == "unknown" and info["artwork"] == "A test painting"
    assert info["source"] == f"onnx:johnson-{opset}.onnx" and meta.get("pad_multiple") == "4"
    engine = StyleEngine(home / "models" / f"zoo{opset}.onnx", InferenceOptions(provider="cpu"))
    for h, w in ((224, 224), (320, 480)):  # its own size, and another one
        picture = card_image(h, w)
        got = engine.stylize(picture)
        assert got.shape == (h, w, 3)
        assert psnr(got, forward(picture)) >= 40.0, (h, w)


def _graph(nodes, inputs, outputs, opset: int = 11, initializers=()) -> bytes:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(initializers)),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model.SerializeToString()


def _value(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def test_a_graph_that_runs_at_one_size_keeps_it_and_the_engine_resizes_around_it(tmp_path):
    """Reshapes with constant shapes only run at 224x224: imported as fixed size (opset 8, upgraded)."""
    flat = helper.make_tensor("flat", TensorProto.INT64, [3], [1, 3, 224 * 224])
    back = helper.make_tensor("back", TensorProto.INT64, [4], [1, 3, 224, 224])
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"]), helper.make_node("Neg", ["f"], ["n"]),
             helper.make_node("Neg", ["n"], ["m"]), helper.make_node("Reshape", ["m", "back"], ["y"])]
    path = tmp_path / "fixed.onnx"
    path.write_bytes(_graph(nodes, [_value("x", [1, 3, 224, 224])], [_value("y", [1, 3, 224, 224])], opset=8,
                            initializers=[flat, back]))
    home = tmp_path / "home"
    r = cli(home, "models", "import", path, "--name", "fixed")
    assert r.returncode == 0, r.stderr
    assert "fixed size 224x224" in r.stderr and "upgraded from opset 8" in r.stderr
    engine = StyleEngine(home / "models" / "fixed.onnx", InferenceOptions(provider="cpu"))
    picture = card_image(320, 480)
    out = engine.stylize(picture)
    assert out.shape == picture.shape
    assert psnr(out, picture) > 25.0  # the identity, through a resize to 224x224 and back


@pytest.mark.parametrize("case, fragment", [
    ("nhwc", "NHWC"),
    ("unit_range", "0..255"),
    ("two_inputs", "2 inputs"),
    ("batch", "batch of 4"),
])
def test_graphs_that_cannot_be_wrapped_are_refused_in_one_line(tmp_path, case, fragment):
    if case == "nhwc":
        data = _graph([helper.make_node("Relu", ["x"], ["y"])], [_value("x", [1, 224, 224, 3])],
                      [_value("y", [1, 224, 224, 3])])
    elif case == "unit_range":  # works on 0..1 values: a picture in 0..255 saturates it
        data = _graph([helper.make_node("Sigmoid", ["x"], ["y"])], [_value("x", [1, 3, 64, 64])],
                      [_value("y", [1, 3, 64, 64])])
    elif case == "two_inputs":
        data = _graph([helper.make_node("Add", ["x", "z"], ["y"])],
                      [_value("x", [1, 3, 64, 64]), _value("z", [1, 3, 64, 64])], [_value("y", [1, 3, 64, 64])])
    else:
        data = _graph([helper.make_node("Relu", ["x"], ["y"])], [_value("x", [4, 3, 64, 64])],
                      [_value("y", [4, 3, 64, 64])])
    path = tmp_path / f"{case}.onnx"
    path.write_bytes(data)
    r = cli(tmp_path / "home", "models", "import", path, "--name", case)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], r.stderr
    assert not (tmp_path / "home" / "models" / f"{case}.onnx").exists()


def test_our_own_contract_is_still_imported_as_it_is(tmp_path, tiny_model):
    r = cli(tmp_path / "home", "models", "import", tiny_model, "--name", "tiny", "--license", "CC0-1.0")
    assert r.returncode == 0, r.stderr
    assert "signature checked" in r.stderr
    data = onnx.load(str(tmp_path / "home" / "models" / "tiny.onnx"))
    assert {p.key: p.value for p in data.metadata_props}["license"] == "CC0-1.0"
