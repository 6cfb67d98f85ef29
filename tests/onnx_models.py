"""Tiny ONNX graphs built in the tests with onnx's helpers (no model is downloaded)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def save(graph: onnx.GraphProto, path: Path) -> Path:
    """Write ``graph`` as a model any onnxruntime of this decade can run."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def adder(path: Path) -> Path:
    """Inputs a, b: float32[batch, 3]; outputs total = a + b, and doubled = total * 2."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])
    total = helper.make_tensor_value_info("total", TensorProto.FLOAT, ["batch", 3])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.FLOAT, ["batch", 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    nodes = [
        helper.make_node("Add", ["a", "b"], ["total"]),
        helper.make_node("Mul", ["total", "two"], ["doubled"]),
    ]
    return save(helper.make_graph(nodes, "adder", [a, b], [total, doubled], [two]), path)


def identity(path: Path, element: int, shape: list[int | str | None]) -> Path:
    """One input ``x`` passed through to output ``y``."""
    x = helper.make_tensor_value_info("x", element, shape)
    y = helper.make_tensor_value_info("y", element, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    return save(graph, path)


def logistic(path: Path, features: int = 20) -> Path:
    """A logistic regression on ``features`` inputs: probability = sigmoid(x @ w + b)."""
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])
    p = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1])
    w = helper.make_tensor(
        "w", TensorProto.FLOAT, [features, 1], [((i % 7) - 3) / 10 for i in range(features)]
    )
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [1], [0.1])
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["score"]),
        helper.make_node("Add", ["score", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    return save(helper.make_graph(nodes, "logistic", [x], [p], [w, bias]), path)


def classifier(path: Path) -> Path:
    """What scikit-learn classifiers become: a label tensor and a sequence of
    {class: probability} maps (ZipMap) for a 2-class softmax over a float32[batch, 2]."""
    x = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 2])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])
    probabilities = helper.make_value_info(
        "probabilities",
        helper.make_sequence_type_proto(
            helper.make_map_type_proto(
                TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
            )
        ),
    )
    nodes = [
        helper.make_node("Softmax", ["scores"], ["p"], axis=1),
        helper.make_node("ArgMax", ["p"], ["label"], axis=1, keepdims=0),
        helper.make_node(
            "ZipMap", ["p"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1]
        ),
    ]
    graph = helper.make_graph(nodes, "classifier", [x], [label, probabilities])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
