"""A pyfunc model's result as MLflow's scoring server writes it. I/O-free.

``{"predictions": ...}`` (an unwrapped LLM request gets the result alone): a DataFrame as
its records, a Series as the records of its one-column frame, an ndarray as nested lists,
anything else as it is; written by ``json.dumps`` with MLflow's ``NumpyEncoder`` (numpy
scalars, bytes as base64, dates as ISO text), so the bytes are MLflow's: ``", "``
separators, non-ASCII escaped, ``NaN`` and ``Infinity`` as JavaScript writes them.
MLflow writes with ``json.dump`` to a text buffer, the pure-Python encoder; ``json.dumps``
runs the C one, for the same text.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np

pd: Any = importlib.import_module("pandas")  # no type hints; an MLflow model has it

__all__ = ["jsonable", "predictions_body", "records"]


_PLAIN_KINDS = frozenset("biufO")
"""numpy dtype kinds whose ``tolist()`` values JSON writes as ``to_dict`` boxes them."""


def jsonable(result: Any) -> Any:
    """What MLflow makes of a result before writing it (its ``_get_jsonable_obj``)."""
    if isinstance(result, np.ndarray):
        return result.tolist()
    if isinstance(result, pd.Series):
        result = pd.DataFrame(result)
    if isinstance(result, pd.DataFrame):
        return records(result)
    return result


def records(frame: Any) -> list[dict[Any, Any]]:
    """``frame.to_dict(orient="records")``, written alike. ``to_dict`` costs about 100 us
    for one row; a frame of plain numpy columns (numbers, booleans, objects) with unique
    names is read column by column instead (``tolist``: 2 us). Its values may differ in
    type only (``numpy.int64`` left in an object column where ``to_dict`` gives ``int``),
    which the encoder writes the same."""
    columns = frame.columns
    plain = len(columns) > 0 and columns.is_unique
    if plain and all(isinstance(t, np.dtype) and t.kind in _PLAIN_KINDS for t in frame.dtypes):
        names = columns.tolist()
        values = [column.to_numpy().tolist() for _, column in frame.items()]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    result: list[dict[Any, Any]] = frame.to_dict(orient="records")
    return result


def predictions_body(result: Any, encoder: type[json.JSONEncoder], unwrapped: bool) -> bytes:
    """The 200's body; TypeError or ValueError when JSON cannot hold the result."""
    value = jsonable(result)
    return json.dumps(value if unwrapped else {"predictions": value}, cls=encoder).encode()
