"""Batching an MLflow model (``SERVEKIT_BATCH_MAX_SIZE`` above 1): the rows of concurrent
requests in one DataFrame, one ``predict``, each request's rows cut back.

A request's input stacks when it is a DataFrame (Domino's columns, rows or one row, and
``/invocations`` in ``dataframe_split``, ``dataframe_records`` or CSV); requests with other
params, or inputs that are not DataFrames, are called on their own. A result that is not
one row per input row (a model returning a scalar or a dict) makes the group run again
request by request, so batching never changes an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from servekit.runtimes.mlflow.frames import pd

__all__ = ["predict_rows"]

Predict = Callable[[Any, "dict[str, Any] | None"], Any]


def predict_rows(
    inputs: Sequence[tuple[Any, dict[str, Any] | None]], predict: Predict
) -> list[Any]:
    """Each ``(data, params)``'s raw result, stacking the DataFrames that share params."""
    results: list[Any] = [None] * len(inputs)
    groups: dict[str, list[int]] = {}  # same params, columns and dtypes: they stack
    for index, (data, params) in enumerate(inputs):
        if isinstance(data, pd.DataFrame) and len(data):
            key = repr((sorted((params or {}).items()), list(data.columns), list(data.dtypes)))
            groups.setdefault(key, []).append(index)
        else:
            results[index] = predict(data, params)
    for members in groups.values():
        frames = [inputs[i][0] for i in members]
        if len(members) == 1:
            for i in members:
                results[i] = predict(*inputs[i])
            continue
        whole = predict(pd.concat(frames, ignore_index=True), inputs[members[0]][1])
        parts = _split(whole, [len(f) for f in frames])
        for position, i in enumerate(members):
            results[i] = parts[position] if parts is not None else predict(*inputs[i])
    return results


def _split(result: Any, counts: list[int]) -> list[Any] | None:
    """``result`` cut into ``counts`` rows each, or None when it is not one row per row."""
    total = sum(counts)
    edges = np.cumsum(counts)[:-1].tolist()
    bounds = list(zip([0, *edges], [*edges, total], strict=True))
    if isinstance(result, (pd.DataFrame, pd.Series)) and len(result) == total:
        return [result.iloc[a:b].reset_index(drop=True) for a, b in bounds]
    if isinstance(result, np.ndarray) and result.ndim >= 1 and result.shape[0] == total:
        return [result[a:b] for a, b in bounds]
    if isinstance(result, list) and len(result) == total:
        return [result[a:b] for a, b in bounds]
    return None
