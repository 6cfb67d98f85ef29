"""What the MLflow runtime hands a pyfunc model, and what it hands back.

In: bound columns become a pandas DataFrame in the signature's column order, each
column of its MLflow type's dtype (a value alone is one row, an array a column; columns
of unequal lengths are a 422 naming them); named tensors a dict of numpy arrays.

Out (:func:`jsonable`): a DataFrame becomes a list of records (one object per row), a
Series or an ndarray a list (one item per row), a dict or a list its items so
converted, dates and times ISO 8601 text; anything else is returned as the model gave
it (for the encoder).

MLflow's own schema enforcement (and params validation) errors become
:class:`~servekit.errors.InvalidArguments` naming the column (:func:`refusal`).
"""

from __future__ import annotations

import ast
import base64
import binascii
import importlib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from servekit.errors import InvalidArguments, Problem
from servekit.runtimes.mlflow.signature import Column

__all__ = ["as_column", "frame", "jsonable", "refusal", "table"]

pd: Any = importlib.import_module("pandas")  # ships no type hints: Any, here only

_MISSING = re.compile(r"missing inputs (\[.*?\])")
_COLUMN = re.compile(r"for column (.+?)\. (.*)$", re.DOTALL)
_PARAM = re.compile(r"\('([^']+)', ")


def as_column(value: Any, array: bool = False) -> list[Any]:
    """A bound value as a column: an array is a column (for an array-typed column, an
    array of arrays), anything else one row."""
    if type(value) is not list:
        return [value]
    if array and not (value and (value[0] is None or type(value[0]) is list)):
        return [value]
    return value


def frame(columns: Mapping[str, list[Any]], known: Mapping[str, Column]) -> Any:
    """A DataFrame of ``columns`` (each already a list), typed by ``known``; 422 for
    columns of unequal lengths or cells the column's dtype cannot hold."""
    problems: list[Problem] = []
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        first, rows = next(iter(lengths.items()))
        for name, length in lengths.items():
            if length != rows:
                problems.append(
                    Problem(f"data.{name}", f"{_values(rows)}, as data.{first}", _values(length))
                )
        raise InvalidArguments(problems)
    series = {
        name: _series(name, values, known.get(name), problems) for name, values in columns.items()
    }
    if problems:
        raise InvalidArguments(problems)
    return pd.DataFrame(series)


def _values(count: int) -> str:
    return f"{count} value{'s' if count != 1 else ''}"


def _series(name: str, values: list[Any], column: Column | None, problems: list[Problem]) -> Any:
    if column is None:
        return pd.Series(values)
    if column.mlflow_type == "binary":
        values = [_decoded(name, value, problems) for value in values]
    if not column.dtype or any(value is None for value in values):
        return pd.Series(values)
    try:
        return pd.Series(values, dtype=column.dtype)
    except (ValueError, OverflowError, TypeError) as exc:
        problems.append(Problem(f"data.{name}", f"{column.mlflow_type} values", str(exc)))
        return pd.Series(values)


def _decoded(name: str, value: Any, problems: list[Problem]) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        problems.append(Problem(f"data.{name}", "base64 text (binary)", "text that is not base64"))
        return value


def table(rows: Any) -> Any:
    """A DataFrame of rows whose columns have no names (a signature of unnamed columns)."""
    return pd.DataFrame(rows)


def _first(reason: str) -> str:
    """MLflow's reason without the hint paragraph it may add."""
    return reason.split(" Hint: ")[0].strip()


def jsonable(result: Any) -> Any:
    """The model's result as JSON-ready values (see the module's docstring); dates and
    times (pandas' Timestamps, numpy's datetime64) become ISO 8601 text."""
    if isinstance(result, pd.DataFrame):
        dated = result.select_dtypes(include=["datetime", "datetimetz"]).columns
        if len(dated):
            result = result.assign(**{name: _iso(result[name]) for name in dated})
        return result.to_dict(orient="records")
    if isinstance(result, pd.Series):
        return _iso(result) if result.dtype.kind == "M" else jsonable(result.tolist())
    if isinstance(result, np.ndarray):
        if result.dtype.kind == "M":
            return np.datetime_as_string(result).tolist()
        return result.tolist() if result.dtype != object else jsonable(result.tolist())
    if isinstance(result, dict):
        return {key: jsonable(value) for key, value in result.items()}
    if isinstance(result, (list, tuple)):
        return [jsonable(value) for value in result]
    if isinstance(result, pd.Timestamp):
        return result.isoformat()
    if result is pd.NaT:
        return None
    if isinstance(result, np.generic):
        return result.item()
    return result


def _iso(series: Any) -> list[Any]:
    return [None if value is pd.NaT else value.isoformat() for value in series]


def refusal(exc: Exception, root: str) -> InvalidArguments | None:
    """The 422 for MLflow's schema enforcement or params error ``exc`` (an
    MlflowException), naming the columns (under ``root``, e.g. ``data.plan``); None
    for any other error."""
    message = str(getattr(exc, "message", exc))
    prefix = f"{root}." if root else ""
    enforced = getattr(exc, "error_class", "") == "SCHEMA_ENFORCEMENT_FAILED"
    if enforced or message.startswith("Failed to enforce schema"):
        reason = message.rpartition("'. Error: ")[2]
        missing = _MISSING.search(reason)
        if missing:
            names = ast.literal_eval(missing.group(1))
            return InvalidArguments(
                [Problem(f"{prefix}{n}", f"column {n}", "nothing (required)") for n in names]
            )
        column = _COLUMN.search(reason)
        if column:
            return InvalidArguments(
                [
                    Problem(
                        f"{prefix}{column.group(1)}", "the column's type", _first(column.group(2))
                    )
                ]
            )
        return InvalidArguments([Problem(root or "data", "the model's input schema", reason)])
    if message.startswith("Invalid parameters found"):
        names = _PARAM.findall(message) or ["params"]
        return InvalidArguments(
            [Problem(f"{prefix}{n}", f"param {n} of the model's type", message) for n in names]
        )
    return None
