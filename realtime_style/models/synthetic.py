"""Generated stand-ins for real models, for the tests and the benchmarks' smoke runs: a tiny
ONNX style model that follows the model contract, an ml5 checkpoint folder of random weights
in the published layout, and a random VGG16 in torchvision's file format.

Torch-free to import: only ``vgg16_state``/``write_vgg16`` need torch, and import it when called.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_style_model(
    *,
    fixed_hw: tuple[int, int] | None = None,
    seed: int = 0,
    metadata: dict[str, str] | None = None,
    input_type: int = TensorProto.UINT8,
    input_name: str = "input",
) -> bytes:
    """A tiny contract-following style model: uint8 RGB NHWC -> 3x3 conv (+ colour shift) -> uint8.

    The conv mixes channels and neighbours, so its output depends on position and padding,
    which is what the engine tests need to see.
    """
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.15, (3, 3, 3, 3)).astype(np.float32)
    weight[:, :, 1, 1] += np.eye(3, dtype=np.float32) * 0.6
    bias = np.array([30.0, -10.0, 5.0], np.float32)
    h, w = fixed_hw if fixed_hw else ("height", "width")
    x = helper.make_tensor_value_info(input_name, input_type, [1, h, w, 3])
    y = helper.make_tensor_value_info("output", TensorProto.UINT8, [1, h, w, 3])
    nodes = [
        helper.make_node("Cast", [input_name], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["xf"], ["xc"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["xc", "W", "B"], ["yc"], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["yc"], ["yf"], perm=[0, 2, 3, 1]),
        helper.make_node("Clip", ["yf", "lo", "hi"], ["yclip"]),
        helper.make_node("Round", ["yclip"], ["yr"]),
        helper.make_node("Cast", ["yr"], ["output"], to=TensorProto.UINT8),
    ]
    inits = [
        numpy_helper.from_array(weight, "W"),
        numpy_helper.from_array(bias, "B"),
        numpy_helper.from_array(np.array(0, np.float32), "lo"),
        numpy_helper.from_array(np.array(255, np.float32), "hi"),
    ]
    graph = helper.make_graph(nodes, "tiny_style", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    meta = {"name": "tiny", "arch": "tiny-conv", "license": "CC0", "artwork": "none", "source": "tests",
            "pad_multiple": "4", "min_side": "16"}
    meta.update(metadata or {})
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_style_model(path: Path, **kwargs) -> Path:
    """``make_style_model(**kwargs)`` written to ``path``."""
    Path(path).write_bytes(make_style_model(**kwargs))
    return Path(path)


def write_ml5_folder(path, seed=0):
    """A synthetic ml5 checkpoint in the published layout (TensorFlow kernel layouts)."""
    rng = np.random.default_rng(seed)
    convs = [(9, 3, 32), (3, 32, 64), (3, 64, 128)] + [(3, 128, 128)] * 10
    layers = [("conv", *c) for c in convs] + [("tconv", 3, 128, 64), ("tconv", 3, 64, 32), ("conv", 9, 32, 3)]
    manifest, idx = {}, 0
    path.mkdir()
    for kind, k, cin, cout in layers:
        kernel = [k, k, cin, cout] if kind == "conv" else [k, k, cout, cin]
        scale = 1.0 / np.sqrt(k * k * cin)
        for shape, values in ((kernel, rng.normal(0, scale, kernel)), ([cout], rng.normal(0, 0.2, cout)),
                              ([cout], 1 + rng.normal(0, 0.2, cout))):
            name = "Variable" if idx == 0 else f"Variable_{idx}"
            np.asarray(values, "<f4").tofile(path / name)
            manifest[name] = {"filename": name, "shape": shape}
            idx += 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


# torchvision's vgg16 "features": (index, in, out) of each 3x3 conv
VGG16_CONVS = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
               (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512),
               (28, 512, 512))


def vgg16_state(seed: int = 0, classifier: bool = True) -> dict:
    """A random state dict in torchvision's ``vgg16`` format: every ``features.N`` conv with its
    real shape (He-initialised, so activations keep their scale), and (small stand-ins for)
    the classifier keys a real file also carries. Needs torch."""
    import torch

    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, cin, cout in VGG16_CONVS:
        state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
        state[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.01
    if classifier:
        state["classifier.6.weight"] = torch.zeros(1000, 16)
        state["classifier.6.bias"] = torch.zeros(1000)
    return state


def write_vgg16(path: Path, seed: int = 0, **kwargs) -> Path:
    """``vgg16_state`` saved with ``torch.save`` (59 MB). Needs torch."""
    import torch

    torch.save(vgg16_state(seed, **kwargs), path)
    return path
