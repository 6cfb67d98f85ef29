"""The batching benchmark's models: MLPs (ReLU between the dense layers, seeded float32
weights) in two shapes, :data:`SMALL` 256 -> 1024 -> 1024 -> 10 (issue 23's example, the
default everywhere here) and :data:`WIDE` 1024 -> 4096 -> 4096 -> 10 (~21M parameters,
84 MB: a row costs more than the server's own work, and a batch is a GEMM where a row is a
memory-bound GEMV). Each is an ONNX graph (made here with onnx's helpers, its first
dimension dynamic, so servekit can stack requests' rows) and the same maths in numpy:
:func:`predict_batched` / :func:`predict_wide_batched` (``@servekit.batch``, their batch
size and wait from ``SERVEKIT_BATCH_MAX_SIZE`` and ``SERVEKIT_BATCH_MAX_WAIT_MS``) and
their unbatched twins :func:`predict` / :func:`predict_wide`. Nothing is downloaded or
committed, and nothing is made at import: the weights are made on first use (cached per
shape), and ``build(path, sizes)`` writes a graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

import servekit

__all__ = [
    "SIZES",
    "SMALL",
    "WIDE",
    "build",
    "forward",
    "predict",
    "predict_batched",
    "predict_wide",
    "predict_wide_batched",
    "rows",
    "weights",
]

SMALL = (256, 1024, 1024, 10)
"""Issue 23's example: 0.065 ms a row in onnxruntime, far less than a request's cost."""
WIDE = (1024, 4096, 4096, 10)
"""~2 ms a row alone, ~0.3 ms a row in batches of 32 (one thread, onnxruntime)."""
SIZES = SMALL
"""The default shape (the name the small model always had)."""
SEED = 23

Layers = tuple[tuple[np.ndarray, np.ndarray], ...]


@cache
def _weights(sizes: tuple[int, ...]) -> Layers:
    rng = np.random.default_rng(SEED)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        w = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(np.float32)
        b = rng.normal(scale=0.01, size=fan_out).astype(np.float32)
        layers.append((w, b))
    return tuple(layers)


def weights(sizes: Sequence[int] = SMALL) -> Layers:
    """(W, b) per layer of the MLP ``sizes``, seeded (He initialisation), float32; made
    once per shape."""
    return _weights(tuple(sizes))


def forward(x: np.ndarray, sizes: Sequence[int] = SMALL) -> np.ndarray:
    """float32 rows ``(n, sizes[0])`` -> float32 ``(n, sizes[-1])``."""
    h = np.asarray(x, dtype=np.float32)
    layers = weights(sizes)
    for index, (w, b) in enumerate(layers):
        h = h @ w + b
        if index < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def rows(count: int, seed: int = 230, sizes: Sequence[int] = SMALL) -> np.ndarray:
    """``count`` seeded input rows of ``sizes[0]`` floats, float32, rounded to 4 decimals
    (exact in JSON)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(count, sizes[0])), 4).astype(np.float32)


def build(path: Path, sizes: Sequence[int] = SMALL) -> Path:
    """Write the graph of the MLP ``sizes`` to ``path``: input ``x`` (batch, sizes[0]),
    output ``y`` (batch, sizes[-1])."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    current = "x"
    layers = weights(sizes)
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
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", sizes[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", sizes[-1]])
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


def predict_wide(x: list[float]) -> list[float]:
    """One row of the wide MLP, unbatched."""
    return forward(np.asarray([x], dtype=np.float32), WIDE)[0].tolist()


@servekit.batch
def predict_wide_batched(x: list[list[float]]) -> list[list[float]]:
    """Many requests' rows of the wide MLP in one call (one row each)."""
    return forward(np.asarray(x, dtype=np.float32), WIDE).tolist()
