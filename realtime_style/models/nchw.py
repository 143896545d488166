"""Float NCHW style graphs, wrapped into our model contract without PyTorch.

The ONNX model zoo's fast-neural-style files (opset 8/9, ``input1``/``output1`` float32
``[1, 3, 224, 224]``, RGB 0..255), pytorch/examples' ``--export_onnx`` and the virtual-webcam
projects write one kind of graph: one float NCHW input of 3 channels in 0..255 and an output
of the same shape. :func:`convert` puts uint8 ``[1, H, W, 3]`` in and out around it::

    input (uint8 NHWC) -> Cast -> Transpose -> the original graph -> Clip 0..255 -> Round
      -> Cast uint8 -> Transpose -> output (uint8 NHWC)

makes the height and width dynamic where the graph runs at other sizes (tried, not assumed),
and verifies the result against the original graph at its own size before anything is kept.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from realtime_style.errors import ModelError
from realtime_style.metrics import psnr

MIN_PSNR_DB = 40.0  # the wrapped graph against the original, at the original's size
WRAP_OPSET = 11  # Round and Clip-with-inputs need opset 11; older graphs are upgraded to it
MULTIPLES = (1, 2, 4, 8, 16, 32)  # the size granularities tried for a dynamic graph
_PREFIX = "rs_wrap_"


@dataclasses.dataclass(frozen=True)
class NchwGraph:
    """What :func:`inspect` found: the graph's float input and output, and its size."""

    input: str
    output: str
    opset: int
    hw: tuple[int, int] | None  # the static height and width, or None when already dynamic


def _dims(value_info) -> list:
    """Dimensions of a graph input/output: ints, names of symbolic dims, or None."""
    shape = value_info.type.tensor_type.shape
    if not value_info.type.tensor_type.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def _type(value_info) -> str:
    from onnx import TensorProto

    elem = value_info.type.tensor_type.elem_type
    return TensorProto.DataType.Name(elem).lower() if elem else "unknown"


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def looks_nchw(model) -> bool:
    """One float input of rank 4 (apart from initializers listed as inputs, as old exporters do)."""
    real = _real_inputs(model)
    return len(real) == 1 and _type(real[0]) == "float" and len(_dims(real[0])) == 4


def _real_inputs(model) -> list:
    weights = {init.name for init in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in weights]


def inspect(model, source: str) -> NchwGraph:
    """Check that ``model`` is a float NCHW style graph we can wrap; a one-line ModelError says
    why not."""
    inputs, outputs = _real_inputs(model), list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{source} has {len(inputs)} inputs and {len(outputs)} outputs; only graphs with one "
                         "image in and one out can be wrapped")
    x, y = inputs[0], outputs[0]
    for arg in (x, y):
        if _type(arg) != "float":
            raise ModelError(f"{source}: {arg.name} is {_type(arg)}; only float32 NCHW graphs are wrapped")
    xd, yd = _dims(x), _dims(y)
    if len(xd) != 4 or xd[1] != 3:
        layout = " (it looks like NHWC)" if len(xd) == 4 and xd[3] == 3 else ""
        raise ModelError(f"{source}: input {x.name} has shape {xd}{layout}; only [1, 3, H, W] (NCHW RGB) is wrapped")
    if isinstance(xd[0], int) and xd[0] not in (0, 1):
        raise ModelError(f"{source}: input {x.name} has a batch of {xd[0]}; a style graph takes one image")
    if len(yd) not in (0, 4) or (len(yd) == 4 and isinstance(yd[1], int) and yd[1] not in (0, 3)):
        raise ModelError(f"{source}: output {y.name} has shape {yd}; a style graph gives [1, 3, H, W]")
    static = isinstance(xd[2], int) and isinstance(xd[3], int) and xd[2] > 0 and xd[3] > 0
    return NchwGraph(x.name, y.name, _opset(model), (xd[2], xd[3]) if static else None)


def _upgrade(model, graph: NchwGraph, source: str):
    if graph.opset >= WRAP_OPSET:
        return model
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, WRAP_OPSET)
    except Exception as exc:  # the converter raises many kinds; the user needs one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{source}: cannot upgrade opset {graph.opset} to {WRAP_OPSET} to wrap it ({first})") from exc


def wrap(model, graph: NchwGraph, hw: tuple[int, int] | None):
    """The contract's graph around ``model`` (opset ≥ 11): uint8 NHWC in and out, of the static
    size ``hw``, or of a dynamic height and width when ``hw`` is None."""
    import onnx
    from onnx import TensorProto, helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    del g.input[:]  # the image input is replaced; weights that IR 3 listed as inputs need not be (IR >= 4)
    del g.output[:]
    del g.value_info[:]  # intermediate shapes were inferred for the original size
    h, w = hw if hw else ("height", "width")
    g.input.insert(0, helper.make_tensor_value_info("input", TensorProto.UINT8, [1, h, w, 3]))
    g.output.append(helper.make_tensor_value_info("output", TensorProto.UINT8, [1, h, w, 3]))
    p = _PREFIX
    g.initializer.extend([helper.make_tensor(p + "lo", TensorProto.FLOAT, [], [0.0]),
                          helper.make_tensor(p + "hi", TensorProto.FLOAT, [], [255.0])])
    before = [helper.make_node("Cast", ["input"], [p + "float"], to=TensorProto.FLOAT, name=p + "cast_in"),
              helper.make_node("Transpose", [p + "float"], [graph.input], perm=[0, 3, 1, 2], name=p + "to_nchw")]
    after = [helper.make_node("Clip", [graph.output, p + "lo", p + "hi"], [p + "clipped"], name=p + "clip"),
             helper.make_node("Round", [p + "clipped"], [p + "rounded"], name=p + "round"),
             helper.make_node("Cast", [p + "rounded"], [p + "uint8"], to=TensorProto.UINT8, name=p + "cast_out"),
             helper.make_node("Transpose", [p + "uint8"], ["output"], perm=[0, 2, 3, 1], name=p + "to_nhwc")]
    nodes = before + list(g.node) + after
    del g.node[:]
    g.node.extend(nodes)
    out.ir_version = max(out.ir_version, 6)
    return out


def _session(data: bytes):
    from realtime_style.engine.session import cpu_session

    return cpu_session(data, threads=1)


def _run_original(session, name: str, rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32).transpose(2, 0, 1)[None]
    return np.asarray(session.run(None, {name: x})[0])


def _probe_pictures(h: int, w: int) -> list[tuple[str, np.ndarray]]:
    from realtime_style.testcard import card_image

    rng = np.random.default_rng(0)
    return [("test card", card_image(h, w)), ("random image", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))]


def _check_range(session, graph: NchwGraph, card: np.ndarray, source: str) -> None:
    """A 0..255 graph paints a 0..255 picture; one that works on 0..1 or -1..1 values does not."""
    y = _run_original(session, graph.input, card)
    if y.ndim != 4 or y.shape[1] != 3:
        raise ModelError(f"{source}: the output has shape {list(y.shape)}; a style graph gives [1, 3, H, W]")
    inside = float(np.mean((y > -32) & (y < 288)))
    if float(np.std(y)) < 4.0 or float(np.max(np.abs(y))) < 8.0:
        raise ModelError(f"{source}: given a picture in 0..255 its output spans only {y.min():.3g}..{y.max():.3g}; "
                         "only graphs that take and give RGB values in 0..255 are wrapped")
    if inside < 0.9:
        raise ModelError(f"{source}: given a picture in 0..255 its output spans {y.min():.3g}..{y.max():.3g}; only "
                         "graphs that take and give RGB values in 0..255 are wrapped")


def _sized(n: int, m: int) -> int:
    """A size near ``n`` that is a multiple of ``m`` but not of ``2m``."""
    k = max(1, round(n / m))
    return m * (k if k % 2 else k + 1)


def _runs_at(session, h: int, w: int) -> str | None:
    """None if the wrapped graph gives a frame of the same size at h x w; else what went wrong."""
    try:
        y = session.run(None, {"input": np.zeros((1, h, w, 3), np.uint8)})[0]
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises bare RuntimeError/Fail subclasses
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return None if y.shape == (1, h, w, 3) else f"gives {y.shape[2]}x{y.shape[1]} for {w}x{h}"


def _dynamic(model, graph: NchwGraph, own: tuple[int, int]) -> tuple[bytes | None, object, int, str]:
    """The graph wrapped with a dynamic size, its session and the size multiple it needs, if it
    runs at other sizes (tried: sizes that are multiples of 1, 2, 4, ... but not of twice that);
    else why not."""
    candidate = wrap(model, graph, None).SerializeToString()
    try:
        session = _session(candidate)
    except ModelError as exc:
        return None, None, 0, f"it does not load with a dynamic size: {exc}"
    why = _runs_at(session, *own)
    if why is not None:
        return None, None, 0, why
    for m in MULTIPLES:
        h, w = _sized(own[0] + 40, m), _sized(own[1] + 96, m)
        why = _runs_at(session, h, w)
        if why is None:
            return candidate, session, m, f"tried {w}x{h}"
    return None, None, 0, why


def convert(data: bytes, source: str) -> tuple[bytes, str, dict[str, str]]:
    """The wrapped model, a line saying how it was checked, and the metadata it learnt
    (``pad_multiple``; ``fixed_size`` when it runs at one size only)."""
    import onnx

    model = onnx.load_from_string(data)
    graph = inspect(model, source)
    original = _session(data)
    own = graph.hw or (224, 224)
    pictures = _probe_pictures(*own)
    _check_range(original, graph, pictures[0][1], source)
    upgraded = _upgrade(model, graph, source)
    wrapped, session, multiple, why = _dynamic(upgraded, graph, own)
    meta: dict[str, str] = {}
    if wrapped is not None:
        meta["pad_multiple"] = str(multiple)
        how = f"dynamic size (any multiple of {multiple}; {why})"
    else:
        wrapped = wrap(upgraded, graph, own).SerializeToString()
        meta["fixed_size"] = f"{own[1]}x{own[0]}"
        how = f"fixed size {own[1]}x{own[0]}, frames are resized to it (at other sizes {why})"
        session = _session(wrapped)
    worst = float("inf")
    for label, rgb in pictures:
        want = np.clip(np.round(_run_original(original, graph.input, rgb)), 0, 255).astype(np.uint8)
        got = session.run(None, {"input": rgb[None]})[0]
        db = psnr(got[0], want[0].transpose(1, 2, 0))
        if db < MIN_PSNR_DB:
            raise ModelError(f"{source}: the wrapped graph is {db:.1f} dB from the original on the {label} "
                             f"(< {MIN_PSNR_DB:.0f} dB); not imported")
        worst = min(worst, db)
    agree = "identical to" if worst == float("inf") else f"within {worst:.1f} dB of"
    upgraded_note = f", upgraded from opset {graph.opset}" if graph.opset < WRAP_OPSET else ""
    detail = (f"wrapped a float NCHW graph ({graph.input} -> {graph.output}{upgraded_note}) into uint8 NHWC; "
              f"{how}; {agree} the original at {own[1]}x{own[0]}{'' if graph.hw else ' (it takes any size)'} "
              "(test card, random image)")
    return wrapped, detail, meta
