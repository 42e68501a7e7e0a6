"""Rewrite an ONNX model's 1-D convolutions as 2-D ones of height 1, for onnxruntime's CPU.

onnxruntime runs 1-D convolutions through its generic im2col path, but 2-D ones through its
blocked (NCHWc) kernels, which are faster on any AVX2 machine. A VITS voice such as Piper's is
mostly 1-D convolutions: rewritten, it synthesizes the same samples (within rounding) for
about 12 % less CPU (measured on the bundled voice, one thread). The rewrite is exact: a
``(N, C, L)`` tensor becomes ``(N, C, 1, L)`` around each convolution and back after it, and
every 1-D attribute gains a leading 1 (or 0 for pads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONV_OPS = ("Conv", "ConvTranspose")
_AXIS = "conv2d_height_axis"  # name of the shared [2] initializer the (un)squeezes use


def conv1d_as_conv2d(model_path: Path) -> bytes:
    """The model at ``model_path``, serialized, with every 1-D convolution made 2-D."""
    import onnx

    model = onnx.load(str(model_path))
    rewrite(model)
    return bytes(model.SerializeToString())


def rewrite(model: Any) -> int:
    """Rewrite ``model`` (an ``onnx.ModelProto``) in place; returns how many nodes changed."""
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    axes_as_input = opset >= 13  # before opset 13, (un)squeeze axes were an attribute
    nodes, changed = [], 0
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type in CONV_OPS else None
        # Only a weight of its own can be reshaped without touching another node.
        if weight is None or len(weight.dims) != 3 or uses[weight.name] != 1:
            nodes.append(node)
            continue
        kernel = numpy_helper.to_array(weight)
        weight.CopyFrom(numpy_helper.from_array(kernel[:, :, np.newaxis, :], weight.name))
        for attribute in node.attribute:
            if attribute.name in ("kernel_shape", "strides", "dilations", "output_padding"):
                _set_ints(attribute, [0 if attribute.name == "output_padding" else 1])
            elif attribute.name == "pads":  # [begin, end] -> [0, begin, 0, end]
                begin, end = attribute.ints
                del attribute.ints[:]
                attribute.ints.extend([0, begin, 0, end])
            elif attribute.name == "output_shape":  # ConvTranspose's explicit output length
                _set_ints(attribute, [1])
        source, result = node.input[0], node.output[0]
        wide_in, wide_out = f"{source}:2d:{node.name}:{changed}", f"{result}:2d"
        nodes.append(_reshape("Unsqueeze", source, wide_in, axes_as_input))
        node.input[0], node.output[0] = wide_in, wide_out
        nodes.append(node)
        nodes.append(_reshape("Squeeze", wide_out, result, axes_as_input))
        changed += 1
    if changed and axes_as_input:
        graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), _AXIS))
    if changed:
        del graph.node[:]
        graph.node.extend(nodes)
    return changed


def _reshape(op: str, source: str, result: str, axes_as_input: bool) -> Any:
    from onnx import helper

    if axes_as_input:
        return helper.make_node(op, [source, _AXIS], [result])
    return helper.make_node(op, [source], [result], axes=[2])


def _set_ints(attribute: Any, prefix: list[int]) -> None:
    values = list(attribute.ints)
    del attribute.ints[:]
    attribute.ints.extend(prefix + values)
