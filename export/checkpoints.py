"""Loading checkpoints in three formats, and writing ours.

- ``ml5``: a directory with ``manifest.json`` and raw float32 variables (TensorFlow layout).
- ``pytorch-examples``: a ``.pth`` state dict of pytorch/examples' TransformerNet.
- ours: ``NAME.safetensors`` + ``NAME.json`` (architecture, its config, metadata); the
  config is also kept in the safetensors header so a lone file still loads.

``torch.load`` is only ever called with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from realtime_style.errors import ModelError
from realtime_style.fsutil import atomic_path
from realtime_style.models.formats import detect_format
from realtime_style_export.networks import EngstromNet, TransformerNet, build


@dataclasses.dataclass
class LoadedModel:
    module: torch.nn.Module
    arch: str
    metadata: dict[str, str]  # source, license, artwork, teacher, ... (model card fields)


def load(path: str | Path, fmt: str = "auto") -> LoadedModel:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    fmt = detect_format(path) if fmt == "auto" else fmt
    loaders = {"ml5": load_ml5, "pytorch-examples": load_pytorch_examples, "checkpoint": load_checkpoint,
               "onnx": load_student_onnx}
    if fmt not in loaders:
        raise ModelError(f"{path}: format {fmt!r} is not a PyTorch checkpoint format")
    return loaders[fmt](path)


# -- ml5 ---------------------------------------------------------------------------------
def _variable_index(name: str) -> int:
    m = re.fullmatch(r"Variable(?:_(\d+))?", name)
    if not m:
        raise ModelError(f"unexpected variable name {name!r} in manifest.json")
    return int(m.group(1) or 0)


def load_ml5(directory: str | Path) -> LoadedModel:
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{directory}/manifest.json is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelError(f"{directory}/manifest.json is not an ml5 manifest")
    net = EngstromNet().eval()
    layers = net.layers()
    expected = 3 * len(layers)
    try:
        entries = sorted(manifest.items(), key=lambda kv: _variable_index(kv[0]))
    except ModelError as exc:
        raise ModelError(f"{directory}: {exc}") from None
    indices = [_variable_index(k) for k, _ in entries]
    if indices != list(range(expected)):
        missing = sorted(set(range(expected)) - set(indices))
        detail = f"missing Variable_{missing[0]}" if missing else f"{len(indices)} variables, expected {expected}"
        raise ModelError(f"{directory} is not an ml5 style checkpoint: {detail}")
    arrays = [_read_variable(directory, name, spec) for name, spec in entries]
    with torch.no_grad():
        for i, layer in enumerate(layers):
            kernel, beta, gamma = arrays[3 * i : 3 * i + 3]
            weight = layer.conv.weight
            # TF conv [kh, kw, in, out] and transposed conv [kh, kw, out, in] both become
            # torch's [out, in, kh, kw] / [in, out, kh, kw] by the same permutation.
            tw = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            name = entries[3 * i][0]
            if tw.shape != weight.shape:
                raise ModelError(
                    f"{directory}: {name} has shape {list(kernel.shape)}, expected "
                    f"{list(weight.permute(2, 3, 1, 0).shape)}"
                )
            for arr, param, what in ((beta, layer.norm.bias, "shift"), (gamma, layer.norm.weight, "scale")):
                if arr.shape != tuple(param.shape):
                    raise ModelError(
                        f"{directory}: instance-norm {what} of layer {i + 1} has shape {list(arr.shape)}, "
                        f"expected {list(param.shape)}"
                    )
                param.copy_(torch.from_numpy(arr))
            weight.copy_(tw)
    style = directory.name
    return LoadedModel(net, "engstrom", {"source": f"ml5:{style}", "license": "MIT (ml5js/ml5-data-and-models)"})


def _read_variable(directory: Path, name: str, spec) -> np.ndarray:
    try:
        shape = [int(s) for s in spec["shape"]]
        file = directory / spec.get("filename", name)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{directory}: manifest entry {name} is malformed") from exc
    if not file.is_file():
        raise ModelError(f"{directory}: variable file {file.name} is missing")
    data = np.fromfile(file, dtype="<f4")
    if data.size != int(np.prod(shape)):
        raise ModelError(
            f"{directory}: {file.name} holds {data.size} values but its shape {shape} needs {int(np.prod(shape))}"
        )
    if not np.all(np.isfinite(data)):
        raise ModelError(f"{directory}: {file.name} contains NaN or infinite values")
    return data.reshape(shape)


# -- pytorch/examples ---------------------------------------------------------------------
def load_pytorch_examples(path: str | Path) -> LoadedModel:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a PyTorch state dict that loads with weights_only=True: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} is not a state dict of tensors")
    # Files saved by old PyTorch versions carry instance-norm running stats: not used.
    state = {k: v for k, v in state.items() if not re.search(r"running_(mean|var)$|num_batches_tracked$", k)}
    net = TransformerNet().eval()
    _load_state(net, state, path)
    return LoadedModel(net, "johnson", {"source": f"pytorch-examples:{path.name}"})


def _load_state(net: torch.nn.Module, state: dict, path: Path) -> None:
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise ModelError(f"{path} does not match the {type(net).__name__} layout: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise ModelError(f"{path}: {key} has shape {list(tensor.shape)}, expected {list(own[key].shape)}")
    net.load_state_dict({k: v.float() for k, v in state.items()})


# -- ours: safetensors + JSON ---------------------------------------------------------------
def save_checkpoint(path: str | Path, module: torch.nn.Module, arch: str, config: dict | None = None,
                    metadata: dict | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar, each atomically."""
    path = Path(path).with_suffix(".safetensors")
    record = {"arch": arch, "config": config or {}, "metadata": metadata or {}, "format": "realtime-style/1"}
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"realtime_style": json.dumps(record)})
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return path


def load_checkpoint(path: str | Path) -> LoadedModel:
    path = Path(path)
    weights = path.with_suffix(".safetensors")
    sidecar = path.with_suffix(".json")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            header = (fh.metadata() or {}).get("realtime_style")
        record = json.loads(sidecar.read_text()) if sidecar.is_file() else json.loads(header or "null")
        state = load_file(str(weights))
    except FileNotFoundError as exc:
        raise ModelError(f"checkpoint {weights} does not exist") from exc
    except Exception as exc:
        raise ModelError(f"{weights} is not a realtime-style checkpoint: {exc}") from exc
    if not isinstance(record, dict) or "arch" not in record:
        raise ModelError(f"{weights} has no architecture record ({sidecar.name} missing)")
    try:
        net = build(record["arch"], **record.get("config", {})).eval()
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{weights}: {exc}") from exc
    _load_state(net, state, weights)
    return LoadedModel(net, record["arch"], {k: str(v) for k, v in record.get("metadata", {}).items()})


# -- our exported students, back from ONNX --------------------------------------------------
def load_student_onnx(path: str | Path) -> LoadedModel:
    """A ``student`` network from an ONNX file this project exported (a built-in, say), in its
    folded form (batch norms merged into the convs, as export leaves them), so that it can be
    grown and trained further. The widths and block counts are read off the weights."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ModelError(f"{path} is not a readable ONNX file: {exc}") from exc
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("arch") != "student":
        raise ModelError(f"{path} is a {meta.get('arch', 'unknown')!r} model; only student networks load back "
                         f"from ONNX for training")
    weights = {i.name.removeprefix("net."): torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in model.graph.initializer if i.name.startswith("net.")}
    try:
        widths = (weights["down1.conv.weight"].shape[0], weights["down2.conv.weight"].shape[0],
                  weights["down3.conv.weight"].shape[0])
        blocks = lambda prefix: len({k.split(".")[1] for k in weights if k.startswith(prefix)})
        head = [k for k in weights if k.startswith("head.") and k.endswith(".a.weight")]
        config = {"widths": widths, "res_blocks": blocks("res."), "batch_norm": False,
                  "mid_blocks": blocks("mid."), "head_blocks": blocks("head.")}
        if head:
            a = weights[head[0]]
            config.update(head_width=a.shape[0], photo_skip=a.shape[1] > widths[0])
    except KeyError as exc:
        raise ModelError(f"{path}: no student weight {exc} in the graph") from None
    net = build("student", **config).eval()
    _load_state(net, weights, path)
    keep = ("name", "license", "artwork", "source", "teacher")
    return LoadedModel(net, "student", {k: v for k, v in meta.items() if k in keep})
