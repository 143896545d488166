"""PyTorch network -> style-model ONNX file, verified before it is kept.

The graph takes uint8 ``[1, H, W, 3]`` RGB and returns the same: Cast (the first op, as
TensorRT wants) -> NCHW -> network -> clip 0..255 -> round -> uint8 -> NHWC. H and W are
dynamic multiples of the network's size multiple unless a fixed ``size`` is given.

Every export is compared with the PyTorch forward pass (on a random image, a structured test
card and any real images given) and refused unless each output is within
``MAX_ABS_DIFF`` levels everywhere and ``MIN_PSNR_DB`` overall. An fp16 export keeps uint8
I/O and is refused unless it stays ``FP16_MIN_PSNR_DB`` from the fp32 graph.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from realtime_style import __version__
from realtime_style.engine.session import cpu_session
from realtime_style.errors import ModelError
from realtime_style.fsutil import write_bytes_atomic
from realtime_style.metrics import format_db, psnr
from realtime_style.models.fp16 import convert_to_fp16
from realtime_style.testcard import card_image
from realtime_style_export.checkpoints import LoadedModel

MAX_ABS_DIFF = 2  # uint8 levels: float rounding may flip a value at a .5 boundary
MIN_PSNR_DB = 50.0
FP16_MIN_PSNR_DB = 40.0
OPSET = 18
METADATA_KEYS = ("name", "arch", "license", "artwork", "source", "teacher")


class UInt8RGB(torch.nn.Module):
    """Pre/post-processing fused around a network: uint8 NHWC RGB in and out."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        y = self.net(x.to(torch.float32).permute(0, 3, 1, 2))
        return y.clamp(0.0, 255.0).round().to(torch.uint8).permute(0, 2, 3, 1)


@dataclasses.dataclass
class Check:
    image: str
    size: tuple[int, int]
    psnr_db: float
    max_abs_diff: int


@dataclasses.dataclass
class ExportReport:
    path: Path | None
    precision: str
    fixed_size: tuple[int, int] | None
    checks: list[Check]
    fp16_psnr_db: float | None = None
    bytes: int = 0

    def summary(self) -> str:
        worst = min(self.checks, key=lambda c: c.psnr_db)
        text = (
            f"verified against PyTorch on {len(self.checks)} images: worst {format_db(worst.psnr_db)} PSNR, "
            f"max difference {max(c.max_abs_diff for c in self.checks)} levels "
            f"(tolerance {MAX_ABS_DIFF} levels, {MIN_PSNR_DB:.0f} dB)"
        )
        if self.fp16_psnr_db is not None:
            text += f"; fp16 {format_db(self.fp16_psnr_db)} from fp32 (gate {FP16_MIN_PSNR_DB:.0f} dB)"
        return text


def to_onnx(net: torch.nn.Module, size: tuple[int, int] | None = None, *, rewrite: bool = True) -> onnx.ModelProto:
    """Trace ``net`` (float RGB 0..255 NCHW -> same) into a uint8-I/O ONNX graph.

    A network with ``for_export()`` is traced in that form (the same function; ``rewrite=False``
    traces it as it is, for comparison); the export is still verified against ``net`` itself."""
    multiple = getattr(net, "pad_multiple", 4)
    if rewrite and hasattr(net, "for_export"):  # the same function in operators ONNX Runtime runs faster
        net = net.for_export()
    wrapper = UInt8RGB(net.eval()).eval()
    h, w = size or (16 * multiple, 24 * multiple)
    example = torch.zeros((1, h, w, 3), dtype=torch.uint8)
    dynamic = None
    if size is None:
        hm = torch.export.Dim("height_blocks", min=2, max=8192 // multiple)
        wm = torch.export.Dim("width_blocks", min=2, max=8192 // multiple)
        dynamic = {"x": {1: multiple * hm, 2: multiple * wm}}
    with _quiet():
        program = torch.onnx.export(
            wrapper,
            (example,),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=dynamic,
            external_data=False,
            opset_version=OPSET,
            verbose=False,
        )
    model = program.model_proto
    if size is None:  # readable names for the dynamic axes
        for value in (model.graph.input[0], model.graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    return model


def export_model(
    loaded: LoadedModel,
    out: str | Path | None,
    *,
    name: str,
    precision: str = "fp32",
    size: tuple[int, int] | None = None,
    metadata: dict[str, str] | None = None,
    real_images: list[tuple[str, np.ndarray]] = (),
) -> tuple[bytes, ExportReport]:
    """Export, verify, and (when ``out`` is given) write atomically. Returns the file bytes."""
    if precision not in ("fp32", "fp16"):
        raise ModelError(f"precision must be fp32 or fp16, not {precision}")
    net = loaded.module.eval()
    multiple = getattr(net, "pad_multiple", 4)
    if size is not None and (size[0] % multiple or size[1] % multiple or min(size) < 4 * multiple):
        raise ModelError(
            f"--size must be at least {4 * multiple} px and a multiple of {multiple} on both sides for {loaded.arch}"
        )
    model = to_onnx(net, size)
    meta = {"arch": loaded.arch, "license": "unknown", "artwork": "unknown", "source": "unknown"}
    meta.update(loaded.metadata)
    meta.update({k: v for k, v in (metadata or {}).items() if v})
    meta.update(
        name=name,
        pad_multiple=str(multiple),
        min_side=str(4 * multiple),
        precision="fp32",
        exporter=f"realtime-style {__version__} / torch {torch.__version__}",
    )
    _set_metadata(model, meta)
    onnx.checker.check_model(model, full_check=True)
    fp32_bytes = model.SerializeToString()
    checks = verify_against_torch(net, fp32_bytes, size, real_images, multiple)
    report = ExportReport(None, precision, size, checks)
    data = fp32_bytes
    if precision == "fp16":
        half = convert_to_fp16(model)
        data = half.SerializeToString()
        report.fp16_psnr_db = fp16_gate(fp32_bytes, data, size, multiple)
    report.bytes = len(data)
    if out is not None:
        write_bytes_atomic(out, data)
        report.path = Path(out)
    return data, report


def verification_images(size: tuple[int, int] | None, real_images=(), multiple: int = 4
                        ) -> list[tuple[str, np.ndarray]]:
    """A random image and a structured test card (two sizes when dynamic), plus real ones;
    dynamic sizes are multiples of the network's ``multiple``."""
    import cv2

    rng = np.random.default_rng(1234)
    sizes = [size] if size else [(96, 128), (180 - 180 % multiple, 244 - 244 % multiple)]
    images = [("random noise", rng.integers(0, 256, (*sizes[0], 3), dtype=np.uint8))]
    images += [(f"test card {w}x{h}", card_image(h, w, seed=i)) for i, (h, w) in enumerate(sizes)]
    for label, img in real_images:
        h, w = size or (img.shape[0] - img.shape[0] % multiple, img.shape[1] - img.shape[1] % multiple)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA) if size else img[:h, :w]
        images.append((label, np.ascontiguousarray(img)))
    return images


def verify_against_torch(net, model_bytes: bytes, size, real_images=(), multiple: int = 4) -> list[Check]:
    session = cpu_session(model_bytes)
    wrapper = UInt8RGB(net).eval()
    checks = []
    for label, img in verification_images(size, real_images, multiple):
        got = session.run(["output"], {"input": img[None]})[0]
        with torch.no_grad():
            want = wrapper(torch.from_numpy(img[None])).numpy()
        if got.shape != want.shape:
            raise ModelError(f"exported graph returns {got.shape} for {label}, PyTorch {want.shape}")
        diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
        check = Check(label, img.shape[:2], psnr(got, want), int(diff.max()))
        checks.append(check)
        if check.max_abs_diff > MAX_ABS_DIFF or check.psnr_db < MIN_PSNR_DB:
            raise ModelError(
                f"exported graph differs from PyTorch on {label}: {format_db(check.psnr_db)}, max "
                f"{check.max_abs_diff} levels (tolerance {MAX_ABS_DIFF} levels, {MIN_PSNR_DB:.0f} dB); not written"
            )
    return checks


def fp16_gate(fp32_bytes: bytes, fp16_bytes: bytes, size, multiple: int = 4) -> float:
    s32, s16 = cpu_session(fp32_bytes), cpu_session(fp16_bytes)
    worst = math.inf
    for _label, img in verification_images(size, multiple=multiple):
        a = s32.run(["output"], {"input": img[None]})[0]
        b = s16.run(["output"], {"input": img[None]})[0]
        worst = min(worst, psnr(a, b))
    if worst < FP16_MIN_PSNR_DB:
        raise ModelError(
            f"the fp16 graph is only {format_db(worst)} from fp32 (needs {FP16_MIN_PSNR_DB:.0f} dB); "
            "export fp32 instead"
        )
    return worst


def _set_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> None:
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            model.metadata_props.add(key=key, value=str(value))


@contextlib.contextmanager
def _quiet():
    """The dynamo exporter logs progress and optional-op warnings; keep the CLI clean."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
