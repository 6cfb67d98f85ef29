"""An MLflow signature read as servekit's: columns, tensors, params, no signature."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

import numpy as np
import pytest
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import TensorSpec as MlflowTensorSpec

from servekit.core.binding import Binder, Call
from servekit.core.schema import signature_schema
from servekit.core.signature import EMPTY, ParamKind
from servekit.core.tensors import TensorSpec
from servekit.errors import InvalidArguments, LoadError
from servekit.runtimes.mlflow.signature import Column, layout_of


def _columns(*specs: ColSpec, params: list[ParamSpec] | None = None) -> Any:
    return ModelSignature(
        inputs=Schema(list(specs)), params=ParamSchema(params) if params else None
    )


def _stripped(annotation: Any) -> Any:
    assert typing.get_origin(annotation) is typing.Annotated
    return typing.get_args(annotation)[0]


def test_each_mlflow_column_type_maps_to_a_python_type() -> None:
    types = ["long", "integer", "double", "float", "string", "boolean", "datetime", "binary"]
    layout = layout_of(_columns(*(ColSpec(t, t) for t in types)), "m")
    assert layout.form == "columns"
    python = [int, int, float, float, str, bool, dt.datetime, str]
    got = {p.name: _stripped(p.annotation) for p in layout.signature.params}
    assert got == {t: p | list[p] for t, p in zip(types, python, strict=True)}
    dtypes = {c.name: c.dtype for c in layout.columns}
    assert dtypes["long"] == "int64"
    assert dtypes["integer"] == "int32"
    assert dtypes["float"] == "float32"
    assert dtypes["string"] == ""


def test_optional_and_array_columns() -> None:
    layout = layout_of(
        _columns(ColSpec("double", "x"), ColSpec(Array("long"), "ids", required=False)), "m"
    )
    x, ids = layout.signature.params
    assert x.default is EMPTY
    assert ids.default is None
    assert _stripped(ids.annotation) == list[int] | list[list[int] | None] | None
    assert layout.columns[1] == Column("ids", "array<long>", "", array=True, required=False)
    rows = layout.signature.rows
    assert rows is not None
    assert [_stripped(p.annotation) for p in rows.params] == [float, list[int] | None]


def test_params_are_keyword_only_with_their_defaults_and_types() -> None:
    params = [
        ParamSpec("threshold", "double", 0.5),
        ParamSpec("top", "long", 3),
        ParamSpec("weights", "double", [1.0, 2.0], shape=(-1,)),
    ]
    layout = layout_of(_columns(ColSpec("double", "x"), params=params), "m")
    found = {p.name: p for p in layout.signature.params if p.kind is ParamKind.KEYWORD_ONLY}
    assert {n: (_stripped(p.annotation), p.default) for n, p in found.items()} == {
        "threshold": (float, 0.5),
        "top": (int, 3),
        "weights": (list[float], [1.0, 2.0]),
    }
    assert layout.params == frozenset(found)
    binder = Binder(layout.signature)
    bound = binder.bind(Call("data", {"x": 1, "top": 5, "weights": [1, 2]}))
    assert bound.kwargs == {"x": 1.0, "top": 5, "weights": [1.0, 2.0]}
    with pytest.raises(InvalidArguments) as caught:
        binder.bind(Call("data", {"x": 1, "threshold": "high"}))
    assert caught.value.problems[0].path == "data.threshold"


def test_a_column_that_is_also_a_param_is_a_load_error() -> None:
    signature = _columns(ColSpec("double", "x"), params=[ParamSpec("x", "double", 1.0)])
    with pytest.raises(LoadError, match="x is both a column and a param"):
        layout_of(signature, "m")


def test_named_tensors_are_tensor_parameters() -> None:
    spec = MlflowTensorSpec(np.dtype("float32"), (-1, 3), "x")
    layout = layout_of(ModelSignature(inputs=Schema([spec])), "m")
    assert layout.form == "tensors"
    assert layout.tensors == ("x",)
    (param,) = layout.signature.params
    assert param.annotation == TensorSpec(np.dtype("float32"), (None, 3))
    assert layout.signature.rows is None


def test_one_unnamed_tensor_is_called_inputs() -> None:
    spec = MlflowTensorSpec(np.dtype("int64"), (-1,))
    layout = layout_of(ModelSignature(inputs=Schema([spec])), "m")
    assert layout.form == "tensor"
    assert [p.name for p in layout.signature.params] == ["inputs"]


def test_no_signature_takes_any_keyword_arguments_and_rows() -> None:
    layout = layout_of(None, "m")
    assert layout.form == "any"
    assert [p.kind for p in layout.signature.params] == [ParamKind.VAR_KEYWORD]
    bound = Binder(layout.signature).bind(Call("data", [{"a": 1}, {"b": "x"}]))
    assert bound.kwargs == {"a": [1, None], "b": [None, "x"]}


def test_the_schema_documents_each_column() -> None:
    layout = layout_of(
        _columns(ColSpec("long", "tenure"), ColSpec("string", "plan", required=False)), "m"
    )
    schema = signature_schema(layout.signature)
    assert schema["required"] == ["tenure"]
    tenure = schema["properties"]["tenure"]
    assert tenure["anyOf"] == [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]
    assert "column tenure (long)" in tenure["description"]
    assert schema["properties"]["plan"]["default"] is None
