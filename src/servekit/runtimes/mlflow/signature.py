"""An MLflow model signature as servekit's :class:`~servekit.core.signature.Signature`.

Read once, at load, so that binding, 422 messages, OpenAPI and the tester page work as
for a typed Python function:

- **columns** (``ColSpec``): one keyword parameter per column, which takes one value
  (one row) or an array (a column); ``long``/``integer`` -> int, ``double``/``float`` ->
  float, ``string`` -> str, ``boolean`` -> bool, ``datetime`` -> datetime (ISO 8601),
  ``binary`` -> a base64 string, ``Array(T)`` -> an array of T; other types (objects,
  maps, ``Any``) are passed as decoded JSON. An optional column defaults to None (left
  out of the frame). Such a model also takes Domino's list of rows (``rows``).
- **tensors** (``TensorSpec``): one tensor parameter per named tensor (``inputs`` for
  an unnamed one).
- **params** (``ParamSpec``): keyword-only parameters with their defaults and types.
- **no signature**: any keyword arguments (``**data``), each one column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np

from servekit.core.signature import Param, ParamKind, Signature
from servekit.core.tensors import TensorSpec
from servekit.errors import LoadError

__all__ = ["Column", "Layout", "layout_of"]

_PYTHON: dict[str, Any] = {
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "string": str,
    "binary": str,
    "datetime": dt.datetime,
}
_KEYWORD = ParamKind.POSITIONAL_OR_KEYWORD


@dataclass(frozen=True)
class Column:
    """One input column: its MLflow type (``long``, ``array<double>``), the dtype its
    frame column gets (``int64``; empty: as pandas infers), whether each cell is an
    array, and whether the column may be left out."""

    name: str
    mlflow_type: str
    dtype: str = ""
    array: bool = False
    required: bool = True


@dataclass(frozen=True)
class Layout:
    """What the model's ``predict`` takes, read from its signature once."""

    form: Literal["columns", "tensors", "tensor", "table", "any"]
    """``columns``: a DataFrame; ``tensors``: a dict of arrays; ``tensor``: one array
    (an unnamed tensor); ``table``: a DataFrame of rows, its columns unnamed (parameter
    ``inputs``); ``any`` (no signature): a DataFrame of whatever columns came."""
    signature: Signature
    columns: tuple[Column, ...] = ()
    tensors: tuple[str, ...] = ()
    params: frozenset[str] = field(default_factory=frozenset)


_DTYPES = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
}


def layout_of(mlflow_signature: Any, where: str) -> Layout:
    """The layout of a model with ``mlflow_signature`` (an ``mlflow.models.ModelSignature``
    or None); LoadError (naming ``where``) for what servekit cannot feed from JSON."""
    if mlflow_signature is None or mlflow_signature.inputs is None:
        rows = Signature((Param("data", ParamKind.VAR_KEYWORD),))
        params = _params(mlflow_signature)
        whole = Signature((*rows.params, *params), rows=rows)
        return Layout("any", whole, params=frozenset(p.name for p in params))
    inputs = mlflow_signature.inputs
    params = _params(mlflow_signature)
    names = frozenset(p.name for p in params)
    if inputs.is_tensor_spec():
        specs = inputs.inputs
        if not inputs.has_input_names():
            if len(specs) != 1:
                raise LoadError(f"{where}: servekit serves one unnamed tensor input, not several")
            tensor = Param("inputs", _KEYWORD, _tensor(specs[0]))
            return Layout("tensor", Signature((tensor, *params)), params=names)
        tensors = tuple(Param(s.name, _KEYWORD, _tensor(s)) for s in specs)
        named = tuple(s.name for s in specs)
        return Layout("tensors", Signature(tensors + params), tensors=named, params=names)
    if not inputs.has_input_names():
        table = Param("inputs", _KEYWORD, Annotated[list[list[Any]], "rows of the table"])
        return Layout("table", Signature((table, *params)), params=names)
    columns = tuple(_column(spec) for spec in inputs.inputs)
    clash = names.intersection(c.name for c in columns)
    if clash:
        raise LoadError(f"{where}: {', '.join(sorted(clash))} is both a column and a param")
    full = tuple(_column_param(c, whole=True) for c in columns)
    rows = Signature(tuple(_column_param(c, whole=False) for c in columns))
    return Layout("columns", Signature(full + params, rows=rows), columns, (), names)


def _column(spec: Any) -> Column:
    kind = spec.type
    name = getattr(kind, "name", None)  # a DataType
    if isinstance(name, str) and name in _PYTHON:
        return Column(spec.name, name, _DTYPES.get(name, ""), False, spec.required)
    inner = getattr(getattr(kind, "dtype", None), "name", None)  # Array(DataType)
    if type(kind).__name__ == "Array" and isinstance(inner, str) and inner in _PYTHON:
        return Column(spec.name, f"array<{inner}>", "", True, spec.required)
    return Column(spec.name, str(kind), "", False, spec.required)


def _cell(column: Column) -> Any:
    """The Python type of one cell (Any for a type servekit does not convert)."""
    base = column.mlflow_type.removeprefix("array<").removesuffix(">")
    python = _PYTHON.get(base, Any)
    return list[python] if column.array else python  # type: ignore[valid-type]


def _column_param(column: Column, whole: bool) -> Param:
    """The column's parameter: in the whole request (one value or an array) or in one
    row of the rows form (one value)."""
    cell = _cell(column)
    if whole and cell is not Any:
        many = list[cell] if column.required else list[cell | None]  # type: ignore[valid-type]
        cell = cell | many
    what = column.mlflow_type + ("" if column.required else ", optional")
    text = f"column {column.name} ({what})" + (
        ": one value (one row) or an array (a column)" if whole else ""
    )
    if not column.required:
        return Param(column.name, _KEYWORD, Annotated[cell | None, text], None)
    return Param(column.name, _KEYWORD, Annotated[cell, text])


def _tensor(spec: Any) -> TensorSpec:
    shape = spec.shape
    dims = None if shape is None else tuple(None if d == -1 else int(d) for d in shape)
    return TensorSpec(np.dtype(spec.type), dims)


def _params(mlflow_signature: Any) -> tuple[Param, ...]:
    """Keyword-only parameters for the signature's params, with their defaults."""
    schema = getattr(mlflow_signature, "params", None)
    if schema is None:
        return ()
    found = []
    for spec in schema.params:
        kind = getattr(spec.dtype, "name", "")
        python = _PYTHON.get(kind, Any) if kind != "binary" else Any
        if spec.shape is not None:
            python = list[python]  # type: ignore[valid-type]
        text = f"param {spec.name} ({kind or spec.dtype}{'[]' if spec.shape else ''})"
        found.append(
            Param(spec.name, ParamKind.KEYWORD_ONLY, Annotated[python, text], spec.default)
        )
    return tuple(found)
