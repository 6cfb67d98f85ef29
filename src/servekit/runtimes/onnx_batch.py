"""Batching an ONNX graph: many requests' rows stacked into one run.

A graph is batched (``SERVEKIT_BATCH_MAX_SIZE`` above 1) when every input and every
output has a dynamic first dimension, the inputs' named ones the same name: the rows of
the requests in a batch are concatenated along it, the graph runs once, and each output
is cut back at the same offsets. Requests whose rows differ in any other dimension (or
dtype) are run in separate groups, never stacked together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from servekit.errors import BatchMismatch

__all__ = ["batchable", "run_batch"]


def _first(item: Any) -> Any:
    shape = item.shape
    return shape[0] if shape else 0


def batchable(inputs: Sequence[Any], outputs: Sequence[Any]) -> str:
    """Why the graph cannot be batched by stacking rows ("" when it can)."""
    for item in [*inputs, *outputs]:
        if not str(item.type).startswith("tensor("):
            return f"{item.name} is a {item.type}, not a tensor"
        if isinstance(_first(item), int):
            return f"{item.name}'s first dimension is fixed ({item.shape})"
    named = {d for d in (_first(i) for i in inputs) if isinstance(d, str)}
    if len(named) > 1:
        return f"the inputs' first dimensions differ ({', '.join(sorted(named))})"
    return ""


def run_batch(
    run: Any, names: Sequence[str], outputs: Sequence[str], feeds: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the graph (``run(feeds) -> output arrays``) once per group of requests whose
    rows stack (``feeds``: each request's arrays by input name), and give each request
    its own rows of every output. ValueError when a request's inputs disagree on their
    number of rows (run alone, it gets its own 422)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, feed in enumerate(feeds):
        if len({feed[n].shape[0] if feed[n].ndim else -1 for n in names}) != 1:
            raise ValueError(f"request {index}'s inputs have different numbers of rows")
        key = tuple((feed[n].dtype.str, feed[n].shape[1:]) for n in names)
        groups.setdefault(key, []).append(index)
    results: list[dict[str, Any]] = [{} for _ in feeds]
    for members in groups.values():
        counts = [feeds[i][names[0]].shape[0] for i in members]
        values = run({n: np.concatenate([feeds[i][n] for i in members]) for n in names})
        total = int(sum(counts))
        edges = np.cumsum(counts)[:-1]
        for output, value in zip(outputs, values, strict=True):
            if not hasattr(value, "shape") or not value.shape or value.shape[0] != total:
                raise BatchMismatch(
                    f"output {output} of the batched graph has no first dimension of "
                    f"{total} rows (got {getattr(value, 'shape', type(value).__name__)})"
                )
            for index, part in zip(members, np.split(value, edges), strict=True):
                results[index][output] = part
    return results
