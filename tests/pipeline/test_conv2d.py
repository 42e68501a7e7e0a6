"""The 1-D -> 2-D convolution rewrite must compute exactly what the original model did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from bridge.pipeline.conv2d import conv1d_as_conv2d, rewrite
from bridge.pipeline.onnx import cpu_session

RNG = np.random.default_rng(7)


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def _model(opset: int) -> onnx.ModelProto:
    """Conv (padded, dilated, grouped, with bias) -> LeakyRelu -> strided ConvTranspose with
    output padding -> two strided Convs -> Add -> Mul by a number -> a Conv whose weight a Mul
    also reads (so it stays 1-D)."""
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "w1", "b1"],
            ["c1"],
            kernel_shape=[3],
            pads=[2, 2],
            dilations=[2],
            group=2,
            name="dilated",
        ),
        helper.make_node("LeakyRelu", ["c1"], ["r1"], alpha=0.1),
        helper.make_node(
            "ConvTranspose",
            ["r1", "w2"],
            ["c2"],
            kernel_shape=[4],
            strides=[2],
            pads=[1, 1],
            output_padding=[1],
            name="upsample",
        ),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], strides=[3], name="strided"),
        helper.make_node("Conv", ["c2", "w3b"], ["c3b"], strides=[3], name="strided_too"),
        helper.make_node("Add", ["c3", "c3b"], ["sum"], name="residual"),
        helper.make_node("Mul", ["sum", "two"], ["scaled"], name="scaled"),
        helper.make_node("Conv", ["scaled", "shared"], ["c4"], name="shared_weight"),
        helper.make_node("Mul", ["shared", "two"], ["doubled"]),
    ]
    graph = helper.make_graph(
        nodes,
        "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "length"])],
        [
            helper.make_tensor_value_info("c4", TensorProto.FLOAT, [1, 3, "out"]),
            helper.make_tensor_value_info("doubled", TensorProto.FLOAT, [3, 3, 1]),
        ],
        initializer=[
            _weight("w1", 6, 2, 3),
            _weight("b1", 6),
            _weight("w2", 6, 5, 4),
            _weight("w3", 3, 5, 5),
            _weight("w3b", 3, 5, 5),
            _weight("shared", 3, 3, 1),
            numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _run(model: onnx.ModelProto | bytes, x: np.ndarray) -> list[np.ndarray]:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return list(session.run(None, {"x": x}))


@pytest.mark.parametrize("opset", [11, 15])
def test_rewritten_model_computes_the_same(opset: int) -> None:
    x = RNG.standard_normal((1, 4, 157)).astype(np.float32)
    model = _model(opset)
    expected = _run(model, x)
    assert rewrite(model) == 4  # the shared weight's Conv is left as it was
    onnx.checker.check_model(model)
    kinds = {n.name: n for n in model.graph.node}
    # 2-D from the first convolution to the last: one unsqueeze in, one squeeze out.
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Unsqueeze") == 1
    assert ops.count("Squeeze") == 1
    assert helper.get_node_attr_value(kinds["dilated"], "pads") == [0, 2, 0, 2]
    actual = _run(model, x)
    for want, got in zip(expected, actual, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv1d_as_conv2d_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "convs.onnx"
    model = _model(15)
    onnx.save(model, str(path))
    x = RNG.standard_normal((1, 4, 64)).astype(np.float32)
    expected = _run(model, x)
    actual = _run(conv1d_as_conv2d(path), x)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-4, atol=1e-4)


def test_a_model_without_1d_convolutions_is_unchanged() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph)
    before = model.SerializeToString()
    assert rewrite(model) == 0
    assert model.SerializeToString() == before


def test_a_model_the_rewrite_breaks_still_loads_as_it_is(tmp_path: Path, monkeypatch) -> None:
    import bridge.pipeline.conv2d

    path = tmp_path / "convs.onnx"
    model = _model(15)
    onnx.save(model, str(path))

    def broken(model: onnx.ModelProto) -> int:  # stands for a graph the rewrite gets wrong
        model.graph.node[0].input[0] = "no such tensor"
        return 1

    monkeypatch.setattr(bridge.pipeline.conv2d, "rewrite", broken)
    session = cpu_session(path, threads=1)
    x = RNG.standard_normal((1, 4, 64)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], _run(model, x)[0], rtol=1e-5)


def test_cpu_session_loads_the_rewritten_model(tmp_path: Path, monkeypatch) -> None:
    import bridge.pipeline.conv2d

    path = tmp_path / "convs.onnx"
    onnx.save(_model(15), str(path))
    rewritten: list[int] = []

    def counting(model: onnx.ModelProto) -> int:
        rewritten.append(rewrite(model))
        return rewritten[-1]

    monkeypatch.setattr(bridge.pipeline.conv2d, "rewrite", counting)
    session = cpu_session(path, threads=1)
    assert rewritten == [4]
    assert [i.name for i in session.get_inputs()] == ["x"]


def test_a_constant_of_higher_rank_keeps_the_op_where_it_was() -> None:
    # Add(conv, ones(1, 1, 1, 1)) is 4-D in the original: (1, N, C, L). Moved onto the 2-D
    # convolution output it would come out (N, C, L) instead.
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Add", ["c", "ones"], ["a"], name="lifted"),
        helper.make_node("Relu", ["a"], ["y"], name="after"),
        helper.make_node("Mul", ["c", "half"], ["m"], name="halved"),
        helper.make_node("Relu", ["m"], ["z"], name="last"),
    ]
    graph = helper.make_graph(
        nodes,
        "ranks",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 9])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 9]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3, 9]),
        ],
        initializer=[
            _weight("w", 3, 2, 1),
            numpy_helper.from_array(np.ones((1, 1, 1, 1), dtype=np.float32), "ones"),
            numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    x = RNG.standard_normal((1, 2, 9)).astype(np.float32)
    expected = _run(model, x)
    assert rewrite(model) == 1
    producer = {out: n for n in model.graph.node for out in n.output}
    assert producer["a"].name == "lifted"  # not moved
    assert producer["m"].op_type == "Squeeze"  # the rank-1 constant let the Mul move
    for want, got in zip(expected, _run(model, x), strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5)
