"""The 1 MB tensor's model: an ONNX graph passing a float32 vector ``x`` through as ``y``.

Its own time is negligible (onnxruntime copies 1 MB in tens of microseconds), so what a
request costs is the protocol's: decoding the tensor and encoding the answer.
``build(path)`` writes the graph; nothing is downloaded or committed.
"""

from __future__ import annotations

from pathlib import Path


def build(path: Path) -> Path:
    """Write the model to ``path``: input ``x`` float32[n], output ``y`` = ``x``."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
