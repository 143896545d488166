"""The PyTorch side: networks, checkpoint formats, ONNX export and its verification."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import ml5_dir, write_ml5_folder
from reference_ml5 import load_ml5_variables, ml5_forward

from realtime_style.errors import ModelError
from realtime_style.metrics import psnr
from realtime_style.testcard import card_image
from realtime_style_export.checkpoints import load, load_ml5, load_pytorch_examples, save_checkpoint
from realtime_style_export.networks import EngstromNet, TransformerNet
from realtime_style_export.onnx_export import UInt8RGB, export_model

# The keys of pytorch/examples' fast_neural_style TransformerNet (a sample of each kind).
PYTORCH_EXAMPLES_KEYS = [
    "conv1.conv2d.weight", "conv1.conv2d.bias", "in1.weight", "in1.bias", "conv2.conv2d.weight",
    "in3.bias", "res1.conv1.conv2d.weight", "res1.in1.weight", "res1.conv2.conv2d.bias", "res5.in2.bias",
    "deconv1.conv2d.weight", "in4.weight", "deconv2.conv2d.bias", "in5.bias", "deconv3.conv2d.weight",
    "deconv3.conv2d.bias",
]


def run_onnx(data: bytes, image: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": image[None]})[0][0]


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random instance-norm affine parameters too, so a wrong key mapping shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "in" in name.split(".")[-2] or "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen) if name.endswith("weight")
                        else 0.3 * torch.randn(p.shape, generator=gen))
    return net.eval()


def test_transformer_net_has_pytorch_examples_keys():
    keys = set(TransformerNet().state_dict())
    assert set(PYTORCH_EXAMPLES_KEYS) <= keys
    assert len(keys) == 16 * 2 + 15 * 2  # 16 convs and 15 instance norms, weight and bias each
    assert not any("running" in k for k in keys)


def test_old_pytorch_examples_file_with_running_stats_loads(tmp_path):
    net = randomised(TransformerNet(), seed=1)
    state = net.state_dict()
    for i in range(1, 6):  # old PyTorch saved instance-norm running statistics
        state[f"in{i}.running_mean"] = torch.zeros(state[f"in{i}.weight"].shape)
        state[f"in{i}.running_var"] = torch.ones(state[f"in{i}.weight"].shape)
    path = tmp_path / "udnie.pth"
    torch.save(state, path)
    loaded = load_pytorch_examples(path)
    x = torch.rand(1, 3, 32, 40) * 255
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), net(x), atol=1e-4)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.conv2d.weight": torch.zeros(1), "payload": ModelError("x")}, path)
    with pytest.raises(ModelError, match="weights_only"):
        load_pytorch_examples(path)


def test_wrong_layout_state_dict_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelError, match="layout"):
        load_pytorch_examples(path)


def test_checkpoint_round_trip_with_and_without_sidecar(tmp_path):
    net = randomised(TransformerNet(), seed=2)
    path = save_checkpoint(tmp_path / "ck", net, "johnson", metadata={"artwork": "test"})
    assert path.suffix == ".safetensors" and path.with_suffix(".json").is_file()
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["arch"] == "johnson"
    x = torch.rand(1, 3, 24, 24) * 255
    with torch.no_grad():
        want = net(x)
        assert torch.equal(load(path).module(x), want)
        path.with_suffix(".json").unlink()  # the safetensors header carries the config too
        loaded = load(path)
        assert torch.equal(loaded.module(x), want) and loaded.metadata["artwork"] == "test"


@pytest.fixture(scope="module")
def johnson_export():
    net = randomised(TransformerNet(), seed=3)
    data, report = export_model(_loaded(net, "johnson"), None, name="j", metadata={"license": "CC0"})
    return net, data, report


def _loaded(net, arch):
    from realtime_style_export.checkpoints import LoadedModel

    return LoadedModel(net, arch, {})


def test_export_contract_dynamic_shapes_and_metadata(johnson_export):
    net, data, report = johnson_export
    model = onnx.load_from_string(data)
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["output"]
    for value in (model.graph.input[0], model.graph.output[0]):
        tt = value.type.tensor_type
        assert tt.elem_type == onnx.TensorProto.UINT8
        dims = [d.dim_param or d.dim_value for d in tt.shape.dim]
        assert dims == [1, "height", "width", 3]
    assert model.graph.node[0].op_type == "Cast"  # TensorRT wants the Cast first
    assert not any(i.data_location == onnx.TensorProto.EXTERNAL for i in model.graph.initializer)
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("name", "arch", "license", "artwork", "source"):
        assert key in meta
    assert meta["arch"] == "johnson" and meta["license"] == "CC0" and meta["pad_multiple"] == "4"
    assert all(c.max_abs_diff <= 2 and c.psnr_db >= 50 for c in report.checks) and len(report.checks) >= 3


def test_export_matches_torch_at_sizes_not_seen_during_export(johnson_export):
    net, data, _ = johnson_export
    for h, w in [(64, 64), (120, 212), (360, 640)]:
        img = card_image(h, w, seed=h)
        with torch.no_grad():
            want = UInt8RGB(net)(torch.from_numpy(img[None])).numpy()[0]
        got = run_onnx(data, img)
        assert np.abs(got.astype(int) - want).max() <= 2 and psnr(got, want) > 50


def test_static_and_fp16_exports(tmp_path):
    net = randomised(EngstromNet(), seed=4)
    data, report = export_model(_loaded(net, "engstrom"), tmp_path / "s.onnx", name="s", size=(64, 96))
    dims = [d.dim_value for d in onnx.load(tmp_path / "s.onnx").graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 64, 96, 3] and report.fixed_size == (64, 96)
    data16, report16 = export_model(_loaded(net, "engstrom"), tmp_path / "h.onnx", name="h", precision="fp16")
    model16 = onnx.load_from_string(data16)
    assert model16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert model16.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model16.graph.initializer)
    assert report16.fp16_psnr_db >= 40
    img = card_image(64, 96)
    assert psnr(run_onnx(data16, img), run_onnx(data, img)) >= 40


def test_transposed_convolutions_export_as_the_same_subpixel_convolutions():
    net = randomised(EngstromNet(), seed=7)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in (net.up1, net.up2):
            layer.conv.weight.copy_(torch.randn(layer.conv.weight.shape, generator=gen) * 0.1)
        x = torch.randn(1, 128, 9, 13, generator=gen)
        want = net.up1(x)  # ConvTranspose, cropped, norm, ReLU
        got = net.up1.subpixel()(x)
    assert got.shape == want.shape == (1, 64, 18, 26)
    assert torch.allclose(got, want, atol=1e-4)
    twin = net.for_export()
    assert twin.up1 is not net.up1 and isinstance(net.up1.conv, torch.nn.ConvTranspose2d)  # the original is kept
    data, report = export_model(_loaded(net, "engstrom"), None, name="sub")
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert "ConvTranspose" not in ops and "DepthToSpace" in ops
    assert min(c.psnr_db for c in report.checks) >= 50  # verified against the ConvTranspose network


def test_static_size_must_suit_the_network(tmp_path):
    with pytest.raises(ModelError, match="multiple of 4"):
        export_model(_loaded(EngstromNet().eval(), "engstrom"), None, name="x", size=(66, 96))


def test_a_graph_that_disagrees_with_torch_is_not_written(tmp_path, monkeypatch):
    import realtime_style_export.onnx_export as ox

    net = randomised(TransformerNet(), seed=5)
    real_to_onnx = ox.to_onnx

    def broken(n, size=None):  # a converter bug: the output bias shifted in the graph only
        model = real_to_onnx(n, size)
        init = next(t for t in model.graph.initializer if list(t.dims) == [3])
        arr = onnx.numpy_helper.to_array(init) + 20.0
        init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
        return model

    monkeypatch.setattr(ox, "to_onnx", broken)
    out = tmp_path / "bad.onnx"
    with pytest.raises(ModelError, match="differs from PyTorch"):
        export_model(_loaded(net, "johnson"), out, name="bad")
    assert not out.exists() and list(tmp_path.iterdir()) == []


# -- the ml5 / Engstrom converter ---------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(64, 64), (48, 100)])
def test_ml5_converter_matches_float64_reference_on_synthetic_weights(tmp_path, hw):
    folder = write_ml5_folder(tmp_path / "synthetic", seed=hw[1])
    img = card_image(*hw, seed=7)
    ref = ml5_forward(load_ml5_variables(folder), img)
    with torch.no_grad():
        got = load_ml5(folder).module(torch.from_numpy(img).permute(2, 0, 1)[None].float())[0]
    got = got.permute(1, 2, 0).double().numpy()
    assert psnr(np.clip(got, 0, 255), np.clip(ref, 0, 255)) >= 60
    data, _ = export_model(load_ml5(folder), None, name="syn")
    assert psnr(run_onnx(data, img), np.clip(ref, 0, 255).round()) >= 45


@pytest.fixture(scope="module")
def chicago(request):
    from conftest import SHARED

    from realtime_style.io.images import read_image

    path = SHARED / "images" / "content" / "engstrom_chicago.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return read_image(path).rgb


@pytest.mark.parametrize("style", ["wave", "udnie"])
def test_ml5_teacher_import_matches_the_original_math(shared_data, chicago, style):
    """Acceptance: >= 40 dB against an independent float64 forward pass (sides multiple of 4)."""
    folder = ml5_dir(shared_data, style)
    img = np.ascontiguousarray(chicago[100:292, 200:456])  # 192 x 256
    ref = np.clip(ml5_forward(load_ml5_variables(folder), img), 0, 255).round()
    data, report = export_model(load_ml5(folder), None, name=style, real_images=[("chicago", chicago)])
    assert psnr(run_onnx(data, img), ref) >= 40
    assert any(c.image == "chicago" for c in report.checks)


@pytest.mark.parametrize("style,published", [("wave", "wave"), ("udnie", "udnie"), ("scream", "the_scream"),
                                             ("wreck", "wreck")])
def test_ml5_teachers_reproduce_the_published_outputs(shared_data, chicago, style, published, model_home):
    """The published JPEGs come from the original TF models: 18-25 dB is 'the same picture'."""
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.io.images import read_image

    ref_path = shared_data / "teachers" / "reference_outputs" / f"engstrom_chicago_{published}.jpg"
    if not ref_path.is_file():
        pytest.skip(f"{ref_path} is absent")
    data, _ = export_model(load_ml5(ml5_dir(shared_data, style)), None, name=style)
    out = StyleEngine(data, InferenceOptions(provider="cpu")).stylize(chicago)  # 474x712: padded by the engine
    ref = read_image(ref_path).rgb
    assert out.shape == ref.shape
    assert psnr(out, ref) >= 17.5


def test_student_starts_without_a_checkerboard():
    """ICNR: at initialisation each 2x2 output block of the pixel shuffle is uniform."""
    from realtime_style_export.networks import StudentNet

    torch.manual_seed(0)
    net = StudentNet().eval()
    with torch.no_grad():
        y = net.shuffle(net.out(torch.randn(1, 16, 8, 8)))
    assert torch.equal(y[..., 0::2, 0::2], y[..., 1::2, 1::2]) and torch.equal(y[..., 0::2, 1::2], y[..., 1::2, 0::2])
