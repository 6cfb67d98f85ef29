"""The ONNX benchmark model: logistic regression on 20 features as an ONNX graph.

``build(path)`` writes the graph (nothing is downloaded or committed); servekit serves the
file directly, and the baseline calls :func:`predict`, which runs the same graph through a
bare onnxruntime session (one intra-op thread per process, like servekit's default on one
core). ``BENCH_ONNX_MODEL`` names the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 20


def build(path: Path) -> Path:
    """Write the model to ``path``."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", FEATURES])
    p = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1])
    rng = np.random.default_rng(20)
    w = helper.make_tensor(
        "w", TensorProto.FLOAT, [FEATURES, 1], rng.normal(size=FEATURES).tolist()
    )
    b = helper.make_tensor("b", TensorProto.FLOAT, [1], [float(rng.normal())])
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["score"]),
        helper.make_node("Add", ["score", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "logreg", [x], [p], [w, b]),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


_SESSION: Any = None


def predict(features: list[list[float]]) -> dict[str, Any]:
    """The baseline's call: the same graph, through a bare onnxruntime session."""
    global _SESSION
    if _SESSION is None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        _SESSION = ort.InferenceSession(
            os.environ["BENCH_ONNX_MODEL"], options, providers=["CPUExecutionProvider"]
        )
    [probability] = _SESSION.run(None, {"features": np.asarray(features, dtype=np.float32)})
    return {"probability": probability}
