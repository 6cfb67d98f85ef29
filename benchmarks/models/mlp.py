"""The batching benchmark's model: an MLP 256 -> 1024 -> 1024 -> 10 (ReLU between the
dense layers), seeded float32 weights, as an ONNX graph (made here with onnx's helpers,
its first dimension dynamic, so servekit can stack requests' rows) and as the same maths
in numpy: :func:`predict_batched` (``@servekit.batch``, its batch size and wait from
``SERVEKIT_BATCH_MAX_SIZE`` and ``SERVEKIT_BATCH_MAX_WAIT_MS``) and its unbatched twin
:func:`predict`. Nothing is downloaded or committed: ``build(path)`` writes the graph.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path

import numpy as np

import servekit

__all__ = ["SIZES", "build", "forward", "predict", "predict_batched", "rows", "weights"]

SIZES = (256, 1024, 1024, 10)
SEED = 23


@cache
def weights() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(W, b) per layer, seeded (He initialisation), float32."""
    rng = np.random.default_rng(SEED)
    layers = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        w = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(np.float32)
        b = rng.normal(scale=0.01, size=fan_out).astype(np.float32)
        layers.append((w, b))
    return tuple(layers)


def forward(x: np.ndarray) -> np.ndarray:
    """float32 rows ``(n, 256)`` -> float32 ``(n, 10)``."""
    h = np.asarray(x, dtype=np.float32)
    layers = weights()
    for index, (w, b) in enumerate(layers):
        h = h @ w + b
        if index < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def rows(count: int, seed: int = 230) -> np.ndarray:
    """``count`` seeded input rows, float32, rounded to 4 decimals (exact in JSON)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(count, SIZES[0])), 4).astype(np.float32)


def build(path: Path) -> Path:
    """Write the graph to ``path``: input ``x`` (batch, 256), output ``y`` (batch, 10)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    current = "x"
    layers = weights()
    for index, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w, f"w{index}"), numpy_helper.from_array(b, f"b{index}")]
        last = index == len(layers) - 1
        out = "y" if last else f"h{index}"
        nodes.append(helper.make_node("Gemm", [current, f"w{index}", f"b{index}"], [f"g{index}"]))
        if last:
            nodes.append(helper.make_node("Identity", [f"g{index}"], [out]))
        else:
            nodes.append(helper.make_node("Relu", [f"g{index}"], [out]))
        current = out
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SIZES[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", SIZES[-1]])
    model = helper.make_model(
        helper.make_graph(nodes, "mlp", [x], [y], inits),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def predict(x: list[float]) -> list[float]:
    """One row, unbatched."""
    return forward(np.asarray([x], dtype=np.float32))[0].tolist()


@servekit.batch
def predict_batched(x: list[list[float]]) -> list[list[float]]:
    """Many requests' rows in one call (one row each)."""
    return forward(np.asarray(x, dtype=np.float32)).tolist()
