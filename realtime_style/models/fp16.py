"""Convert a uint8-in/uint8-out style graph to float16 inside, keeping uint8 I/O.

Only onnx is needed (no torch): the export path and the GPU engine share it. The first
Cast (uint8 -> float) becomes a Cast to float16, every float initializer and constant
becomes float16, and the final Cast to uint8 stays. Inputs that ONNX requires in float32
(Resize roi/scales) are left alone.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

_KEEP_FLOAT32_INPUTS = {"Resize": (1, 2), "Upsample": (1,)}


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    keep = set()
    for node in _all_nodes(graph):
        for idx in _KEEP_FLOAT32_INPUTS.get(node.op_type, ()):
            if idx < len(node.input) and node.input[idx]:
                keep.add(node.input[idx])
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            init.CopyFrom(_half(init))
    for node in _all_nodes(graph):
        if node.op_type == "Constant" and node.output[0] not in keep:
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(_half(attr.t))
        elif node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT and node.output[0] not in keep:
                    attr.i = TensorProto.FLOAT16
    for vi in list(graph.value_info) + list(graph.output):
        tt = vi.type.tensor_type
        if tt.elem_type == TensorProto.FLOAT and vi.name not in keep:
            tt.elem_type = TensorProto.FLOAT16
    _set_meta(model, "precision", "fp16")
    return model


def _half(tensor: onnx.TensorProto) -> onnx.TensorProto:
    arr = numpy_helper.to_array(tensor).astype(np.float16)
    return numpy_helper.from_array(arr, tensor.name)


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attr.g)


def _set_meta(model: onnx.ModelProto, key: str, value: str) -> None:
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    model.metadata_props.add(key=key, value=value)
