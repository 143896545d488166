"""Generated stand-ins for real models, for the tests and the benchmarks' smoke runs: a tiny
ONNX style model that follows the model contract, a teacher-size Johnson network (random
weights in pytorch/examples' state-dict layout, and its ONNX graph built without torch), and an
ml5 checkpoint folder of random weights in the published layout. Torch-free (a random VGG16
for the loss network is ``realtime_style.training.vgg.random_state``).
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


def johnson_state(channels: tuple[int, int, int] = (32, 64, 128), res_blocks: int = 5,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights for pytorch/examples' TransformerNet (Johnson et al.; the defaults are its
    size), under its state-dict keys, so ``load_state_dict`` takes them as they are. Scaled so
    every layer keeps its activations' scale and the output spreads over 0..255."""
    rng = np.random.default_rng(seed)
    c1, c2, c3 = channels
    state: dict[str, np.ndarray] = {}

    def conv(name: str, cin: int, cout: int, k: int, gain: float = 1.0, bias: float = 0.0) -> None:
        scale = gain * (2.0 / (k * k * cin)) ** 0.5
        state[f"{name}.conv2d.weight"] = rng.normal(0, scale, (cout, cin, k, k)).astype(np.float32)
        state[f"{name}.conv2d.bias"] = (bias + rng.normal(0, 0.05, cout)).astype(np.float32)

    def norm(name: str, c: int) -> None:
        state[f"{name}.weight"] = (1 + rng.normal(0, 0.1, c)).astype(np.float32)
        state[f"{name}.bias"] = rng.normal(0, 0.1, c).astype(np.float32)

    for name, cin, cout, k in (("conv1", 3, c1, 9), ("conv2", c1, c2, 3), ("conv3", c2, c3, 3)):
        conv(name, cin, cout, k)
        norm(f"in{name[-1]}", cout)
    for i in range(1, res_blocks + 1):
        for j in (1, 2):
            conv(f"res{i}.conv{j}", c3, c3, 3)
            norm(f"res{i}.in{j}", c3)
    conv("deconv1", c3, c2, 3)
    norm("in4", c2)
    conv("deconv2", c2, c1, 3)
    norm("in5", c1)
    conv("deconv3", c1, 3, 9, gain=40.0, bias=127.5)  # RGB around mid-grey, not clipped flat
    return state


def make_johnson_model(state: dict[str, np.ndarray] | None = None, *, name: str = "johnson-random") -> bytes:
    """TransformerNet as a contract-following ONNX style model, built node by node (no torch):
    uint8 NHWC -> float NCHW -> the network (reflection padding, instance norm, nearest 2x
    upsampling, as pytorch/examples) -> clip, round -> uint8 NHWC. ``state``: ``johnson_state()``'s
    layout (default: its teacher-size random weights)."""
    state = johnson_state() if state is None else state
    nodes, inits = [], [numpy_helper.from_array(v, k) for k, v in state.items()]
    count = iter(range(10**6))

    def tensor(value: np.ndarray) -> str:
        name = f"c{next(count)}"
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = f"t{next(count)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(x: str, layer: str, stride: int = 1, upsample: bool = False) -> str:
        if upsample:  # F.interpolate(scale_factor=2, mode="nearest")
            x = node("Resize", [x, "", tensor(np.array([1, 1, 2, 2], np.float32))], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        p = state[f"{layer}.conv2d.weight"].shape[-1] // 2
        x = node("Pad", [x, tensor(np.array([0, 0, p, p, 0, 0, p, p], np.int64))], mode="reflect")
        return node("Conv", [x, f"{layer}.conv2d.weight", f"{layer}.conv2d.bias"], strides=[stride, stride])

    def norm(x: str, layer: str, relu: bool = True) -> str:
        y = node("InstanceNormalization", [x, f"{layer}.weight", f"{layer}.bias"], epsilon=1e-5)
        return node("Relu", [y]) if relu else y

    x = node("Transpose", [node("Cast", ["input"], to=TensorProto.FLOAT)], perm=[0, 3, 1, 2])
    y = norm(conv(x, "conv1"), "in1")
    y = norm(conv(y, "conv2", 2), "in2")
    y = norm(conv(y, "conv3", 2), "in3")
    blocks = sorted({int(k.split(".")[0][3:]) for k in state if k.startswith("res")})
    for i in blocks:
        r = norm(conv(y, f"res{i}.conv1"), f"res{i}.in1")
        y = node("Add", [y, norm(conv(r, f"res{i}.conv2"), f"res{i}.in2", relu=False)])
    y = norm(conv(y, "deconv1", upsample=True), "in4")
    y = norm(conv(y, "deconv2", upsample=True), "in5")
    y = conv(y, "deconv3")
    y = node("Round", [node("Clip", [y, tensor(np.array(0, np.float32)), tensor(np.array(255, np.float32))])])
    y = node("Cast", [y], to=TensorProto.UINT8)
    nodes.append(helper.make_node("Transpose", [y], ["output"], perm=[0, 2, 3, 1]))
    x_info = helper.make_tensor_value_info("input", TensorProto.UINT8, [1, "height", "width", 3])
    y_info = helper.make_tensor_value_info("output", TensorProto.UINT8, [1, "height", "width", 3])
    model = helper.make_model(helper.make_graph(nodes, "johnson", [x_info], [y_info], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    meta = {"name": name, "arch": "johnson", "license": "CC0", "artwork": "none (random weights)",
            "source": "realtime_style.models.synthetic", "pad_multiple": "4", "min_side": "16"}
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


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
