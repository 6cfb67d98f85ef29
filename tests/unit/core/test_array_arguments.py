"""A numpy array a codec decoded (a V2 tensor) passes the binder's array converters
without a round trip through lists, by the same kind and range rules as JSON
(:mod:`servekit.core.arrays`, :mod:`servekit.core.tensors`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from servekit.core.arrays import ndarray_converter
from servekit.core.tensors import TensorSpec, tensor_converter
from servekit.errors import Problem


def convert(dtype: Any, value: Any) -> tuple[Any, list[Problem]]:
    problems: list[Problem] = []
    found = ndarray_converter(None if dtype is None else np.dtype(dtype)).convert(
        value, "inputs", "x", problems
    )
    return found, problems


def test_an_array_of_the_dtype_asked_for_is_the_same_object() -> None:
    given = np.ones((2, 3), dtype=np.float32)
    assert convert(np.float32, given) == (given, [])
    untyped, problems = convert(None, given)
    assert untyped is given
    assert not problems


@pytest.mark.parametrize(
    ("dtype", "given", "expected"),
    [
        (np.float64, np.array([1, 2], dtype=np.int8), [1.0, 2.0]),
        (np.int64, np.array([1, 2], dtype=np.uint32), [1, 2]),
        (np.str_, np.array(["a", "bc"]), ["a", "bc"]),
    ],
)
def test_an_array_of_a_kind_that_fits_is_cast(dtype: Any, given: Any, expected: Any) -> None:
    found, problems = convert(dtype, given)
    assert not problems
    assert found.dtype.kind == np.dtype(dtype).kind
    assert found.tolist() == expected


@pytest.mark.parametrize(
    ("dtype", "given", "got"),
    [
        (np.float32, np.array([True]), "array of bool"),
        (np.int8, np.array([1000]), "values outside -128..127"),
        (np.float16, np.array([1e6]), "values outside the range of float16"),
        (np.int32, np.array([1.5]), "array of float64"),
        (None, np.array([object()]), "array of object"),
    ],
)
def test_an_array_that_does_not_fit_is_a_problem(dtype: Any, given: Any, got: str) -> None:
    _, problems = convert(dtype, given)
    assert [(p.path, p.got) for p in problems] == [("inputs.x", got)]


def test_a_scalar_tensor_takes_a_zero_dimensional_array() -> None:
    problems: list[Problem] = []
    spec = TensorSpec(np.dtype(np.float32), ())
    found = tensor_converter(spec).convert(np.array(2.0, np.float32), "inputs", "x", problems)
    assert not problems
    assert found.shape == ()
