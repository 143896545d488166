"""The VGG16 loss network: Gram matrix, normalisation and layer taps against hand-computed
values; the torchvision-format loader; the cached, hash-checked download (never the network)."""

from __future__ import annotations

import hashlib

import pytest
import torch
from typer.testing import CliRunner

from realtime_style.cli import app
from realtime_style.errors import InputError, ModelError
from realtime_style.training import vgg as vggmod
from realtime_style.training.vgg import (
    PerceptualLoss,
    VGG16Features,
    gram_matrix,
    load_vgg16,
    total_variation,
    vgg16_weights,
)
from realtime_style.training.vgg import random_state as vgg16_state
from realtime_style.training.vgg import write_random as write_vgg16


def test_gram_matrix_by_hand():
    # one image, C = 2 channels, H x W = 1 x 2: F = [[1, 2], [3, 4]]
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    # F F^T = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]], divided by C*H*W = 4
    assert torch.equal(gram_matrix(f), torch.tensor([[[1.25, 2.75], [2.75, 6.25]]]))
    g = gram_matrix(torch.ones(3, 4, 5, 6, dtype=torch.bfloat16))  # any input dtype -> float32
    assert g.dtype == torch.float32 and torch.allclose(g, torch.full((3, 4, 4), 1 / 4))


def test_total_variation_by_hand():
    y = torch.tensor([[0.0, 255.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    # vertical pairs: (0,0) and (255,0) -> mean of [0, 1] = 0.5; horizontal: (0,255), (0,0) -> 0.5
    assert total_variation(y).item() == pytest.approx(1.0)
    assert total_variation(torch.full((2, 3, 8, 8), 77.0)).item() == 0.0


def _identity_state(bias_per_layer: bool) -> dict:
    """Weights that make each tap easy to predict by hand: channel 0 passes through every
    conv (centre tap 1), everything else is 0; optionally each conv's bias is its index."""
    state = vgg16_state(classifier=False)
    for key in state:
        state[key] = torch.zeros_like(state[key])
    for key in [k for k in state if k.endswith(".weight")]:
        state[key][0, 0, 1, 1] = 1.0
        if bias_per_layer:
            state[key.replace("weight", "bias")].fill_(float(key.split(".")[1]))
    return state


def test_normalisation_and_relu1_2_by_hand(tmp_path):
    path = tmp_path / "v.pth"
    torch.save(_identity_state(bias_per_layer=False), path)
    net = load_vgg16(path)
    x = torch.zeros(1, 3, 8, 8)  # the three pools before relu4_3 need 8 px
    x[0, 0] = torch.tensor([0.0, 51.0, 127.5, 255.0]).repeat(8, 2)  # red channel, one value per column
    feats = net(x)
    # relu1_2 channel 0 = relu((R / 255 - 0.485) / 0.229), through two centre-tap identities
    want = torch.tensor([0.0, 0.0, (0.5 - 0.485) / 0.229, (1.0 - 0.485) / 0.229]).repeat(2)
    assert torch.allclose(feats["relu1_2"][0, 0, 0], want, atol=1e-6)
    assert feats["relu1_2"][0, 1:].abs().max() == 0
    norm = net.normalise(torch.full((1, 3, 1, 1), 255.0)).flatten()
    assert torch.allclose(norm, torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))


def test_taps_are_after_features_3_8_15_22(tmp_path):
    # With bias = the conv's own index and the identity weights, a tap reads the index of the
    # last conv before it: features.2 for relu1_2, 7 for relu2_2, 14 for relu3_3, 21 for relu4_3.
    path = tmp_path / "v.pth"
    torch.save(_identity_state(bias_per_layer=True), path)
    feats = load_vgg16(path)(torch.zeros(1, 3, 32, 48))
    # channel 0 accumulates the bias chain, channels 1.. hold their own conv's bias
    expected = {"relu1_2": (64, 32, 48, 2.0), "relu2_2": (128, 16, 24, 7.0), "relu3_3": (256, 8, 12, 14.0),
                "relu4_3": (512, 4, 6, 21.0)}
    assert list(feats) == list(expected)
    for name, (c, h, w, bias) in expected.items():
        f = feats[name]
        assert f.shape == (1, c, h, w), name
        assert torch.all(f[0, 1:] == bias), name


def test_loader_accepts_torchvision_files_and_refuses_others(tmp_path, vgg_weights):
    net = load_vgg16(vgg_weights)  # the full features list plus classifier keys
    assert isinstance(net, VGG16Features) and not any(p.requires_grad for p in net.parameters())
    state = vgg16_state(classifier=False)
    only_needed = {k: v for k, v in state.items() if int(k.split(".")[1]) <= 21}
    torch.save(only_needed, tmp_path / "short.pth")
    load_vgg16(tmp_path / "short.pth")
    from safetensors.torch import save_file

    save_file(only_needed, str(tmp_path / "v.safetensors"))
    load_vgg16(tmp_path / "v.safetensors")

    bad = {
        "missing": {k: v for k, v in state.items() if k != "features.19.weight"},
        "shape": {**state, "features.10.weight": torch.zeros(256, 64, 3, 3)},
        "later_shape": {**state, "features.28.weight": torch.zeros(512, 512, 1, 1)},
        "vgg19_layout": {f"features.{i}.weight": torch.zeros(64, 3, 3, 3) for i in (0, 2, 5, 7, 10, 12, 14, 16)},
        "nan": {**state, "features.0.bias": torch.full((64,), float("nan"))},
        "not_tensors": {"features.0.weight": "x"},
    }
    for name, sd in bad.items():
        torch.save(sd, tmp_path / f"{name}.pth")
        with pytest.raises(ModelError, match="--vgg-weights"):
            load_vgg16(tmp_path / f"{name}.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00 not a pickle at all" * 10)
    with pytest.raises(ModelError, match="--vgg-weights"):
        load_vgg16(tmp_path / "garbage.pth")
    with pytest.raises(InputError, match="--vgg-weights"):
        load_vgg16(tmp_path / "nothing.pth")


def test_perceptual_loss_is_zero_on_its_own_targets(vgg_weights):
    net = load_vgg16(vgg_weights)
    torch.manual_seed(0)
    style = torch.rand(1, 3, 40, 40) * 255
    loss = PerceptualLoss(net, style, 1e5, 1e10, 0.0)
    total, parts = loss(style, loss.content_features(style))
    assert set(parts) == {"content", "style"} and total.item() == pytest.approx(0.0, abs=1e-3)
    other = torch.rand(2, 3, 40, 40, requires_grad=True)
    features = loss.content_features(style.expand(2, -1, -1, -1))
    total, parts = PerceptualLoss(net, style, 1e5, 1e10, 1e5)(other * 255, features)
    assert set(parts) == {"content", "style", "tv"} and total.item() > 0
    total.backward()
    assert torch.isfinite(other.grad).all() and other.grad.abs().sum() > 0


# -- the download (a file:// URL or an unreachable address: never the network) -------------------
def _named_by_hash(tmp_path, data: bytes, prefix_len: int = 8):
    digest = hashlib.sha256(data).hexdigest()[:prefix_len]
    path = tmp_path / "src" / f"vgg16-{digest}.pth"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_download_checks_the_hash_in_the_name_and_caches(tmp_path, model_home, monkeypatch):
    src = write_vgg16(tmp_path / "tmp.pth")
    named = _named_by_hash(tmp_path, src.read_bytes())
    monkeypatch.setattr(vggmod, "VGG16_URL", named.as_uri())
    notes = []
    got = vgg16_weights(None, on_note=notes.append)
    assert got == model_home / "weights" / named.name and got.read_bytes() == named.read_bytes()
    assert notes and "downloading" in notes[0]
    named.unlink()  # the second time comes from the cache
    assert vgg16_weights(None) == got
    load_vgg16(got)


def test_download_with_a_wrong_hash_keeps_nothing(tmp_path, model_home, monkeypatch):
    wrong = tmp_path / "vgg16-397923af.pth"
    wrong.write_bytes(b"not the real weights")
    monkeypatch.setattr(vggmod, "VGG16_URL", wrong.as_uri())
    with pytest.raises(ModelError, match="sha256"):
        vgg16_weights(None)
    assert not any((model_home / "weights").glob("*"))


def test_offline_error_names_vgg_weights(tmp_path, model_home, monkeypatch):
    monkeypatch.setattr(vggmod, "VGG16_URL", "http://127.0.0.1:9/vgg16-397923af.pth")  # nothing listens
    photo = tmp_path / "p.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(photo), np.full((32, 32, 3), 100, np.uint8))
    res = CliRunner().invoke(app, ["optimize", str(photo), str(photo), "-o", str(tmp_path / "o.png"), "--steps", "1"])
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "--vgg-weights" in lines[-1] and "cannot download" in lines[-1]
    assert "Traceback" not in res.output and not (tmp_path / "o.png").exists()
    assert not any((model_home / "weights").glob("*"))


def test_mirror_directory_replaces_the_url(tmp_path, model_home, monkeypatch):
    src = write_vgg16(tmp_path / "tmp.pth")
    named = _named_by_hash(tmp_path, src.read_bytes())
    mirror = tmp_path / "mirror"
    (mirror / "torchvision").mkdir(parents=True)
    named.rename(mirror / "torchvision" / named.name)
    monkeypatch.setattr(vggmod, "VGG16_URL", f"http://127.0.0.1:9/{named.name}")
    monkeypatch.setenv("REALTIME_STYLE_MIRROR", str(mirror))
    assert vgg16_weights(None).name == named.name
