"""Converters to numpy arrays and scalars. I/O-free.

``numpy.ndarray`` and ``numpy.typing.NDArray[dtype]`` take nested JSON arrays. The
values must fit the dtype by kind (numbers for floats, integers for ints, booleans for
bool, strings for str); ragged nesting, nulls, mixed kinds and (without a dtype)
integers beyond 64 bits are problems, never a silent object array. A numpy array a
codec already decoded (a V2 tensor) is taken as it is when its dtype is the one asked
for, or cast by the same rules when its kind fits: no round trip through lists.
"""

from __future__ import annotations

import itertools
import typing
from typing import Any

import numpy as np

from servekit.core.compiled import Compiled
from servekit.core.paths import Where, describe, report
from servekit.errors import Problem

__all__ = ["dtype_of", "ndarray_converter", "scalar_converter"]

# JSON leaf types each target dtype kind accepts. Checked on the leaves themselves, since
# numpy would quietly turn [true, 2] into integers and [1, "a"] into strings.
_NUMBERS = frozenset({int, float})
_LEAVES: dict[str, frozenset[type]] = {
    "f": _NUMBERS,
    "c": _NUMBERS,
    "i": frozenset({int}),
    "u": frozenset({int}),
    "b": frozenset({bool}),
    "U": frozenset({str}),
    "S": frozenset({str}),
}
_ANY_ONE_KIND = (_NUMBERS, frozenset({bool}), frozenset({str}))
_TYPE_WORDS: dict[type, str] = {
    int: "integers",
    float: "fractional numbers",
    bool: "booleans",
    str: "strings",
    type(None): "nulls",
    dict: "objects",
    list: "arrays",
}


def _leaf_types(value: list[Any], ndim: int) -> set[type]:
    flat: Any = value
    for _ in range(ndim - 1):
        flat = itertools.chain.from_iterable(flat)
    return set(map(type, flat))


def _words(kinds: set[type]) -> str:
    return " and ".join(sorted(_TYPE_WORDS.get(k, k.__name__) for k in kinds))


def dtype_of(args: tuple[Any, ...]) -> np.dtype[Any] | None:
    """The dtype named by ``NDArray[dtype]``'s arguments, or None for any dtype."""
    if len(args) < 2:
        return None
    inner = typing.get_args(args[1])
    if not inner or inner[0] is Any or isinstance(inner[0], typing.TypeVar):
        return None
    dtype: np.dtype[Any] = np.dtype(inner[0])
    return dtype


def _label(dtype: np.dtype[Any] | None) -> str:
    return "array of numbers, booleans or strings" if dtype is None else f"array of {dtype.name}"


def ndarray_converter(dtype: np.dtype[Any] | None) -> Compiled:
    """Nested JSON arrays -> ``numpy.ndarray`` (of ``dtype`` when given)."""
    expected = _label(dtype)
    allowed = _LEAVES.get(dtype.kind) if dtype is not None else None

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) is np.ndarray:
            return _given(value, dtype, where, key, expected, problems)
        if type(value) is not list:
            report(problems, where, key, expected, describe(value))
            return value
        try:
            array = np.array(value)
        except (ValueError, OverflowError):
            report(problems, where, key, expected, "ragged nested arrays (rows of unequal length)")
            return value
        if not array.size:
            return array if dtype is None else array.astype(dtype)
        kinds = _leaf_types(value, array.ndim)
        fits = kinds <= allowed if allowed is not None else any(kinds <= k for k in _ANY_ONE_KIND)
        if not fits:
            report(problems, where, key, expected, f"array of {_words(kinds)}")
            return value
        if dtype is None:
            if array.dtype.kind == "O":  # integers beyond 64 bits: no numeric dtype holds them
                report(problems, where, key, expected, "integers outside the 64-bit range")
                return value
            return array
        return _cast(array, dtype, where, key, expected, problems)

    return Compiled(convert, expected)


_ARRAY_KINDS = {"f": "fiu", "c": "fiu", "i": "iu", "u": "iu", "b": "b", "U": "U", "S": "S"}
"""The kinds of a given array each dtype kind takes (as the JSON leaves above)."""


def _given(
    array: np.ndarray[Any, Any],
    dtype: np.dtype[Any] | None,
    where: Where,
    key: str | int | None,
    expected: str,
    problems: list[Problem],
) -> Any:
    """A numpy array handed over by a codec: as it is, or cast to ``dtype``."""
    kind = array.dtype.kind
    if dtype is None or array.dtype == dtype or (kind == dtype.kind and kind in "US"):
        if kind in "biufUS":  # never an object array
            return array
    elif kind in _ARRAY_KINDS.get(dtype.kind, ""):
        return (
            _cast(array, dtype, where, key, expected, problems)
            if array.size
            else array.astype(dtype)
        )
    report(problems, where, key, expected, f"array of {array.dtype.name}")
    return array


def _cast(
    array: np.ndarray[Any, Any],
    dtype: np.dtype[Any],
    where: Where,
    key: str | int | None,
    expected: str,
    problems: list[Problem],
) -> Any:
    """``array`` as ``dtype``, reporting values the dtype cannot hold (never wrapping)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if array.dtype.kind not in "iu" or array.min() < info.min or array.max() > info.max:
            report(problems, where, key, expected, f"values outside {info.min}..{info.max}")
            return array
    try:
        with np.errstate(over="raise", invalid="raise"):
            return array.astype(dtype, copy=False)
    except (FloatingPointError, OverflowError, ValueError):
        report(problems, where, key, expected, f"values outside the range of {dtype.name}")
        return array


def scalar_converter(kind: type[np.generic]) -> Compiled:
    """A JSON scalar -> a numpy scalar such as ``numpy.float32``."""
    dtype = np.dtype(kind)
    accepts = {"f": (int, float), "i": (int,), "u": (int,), "b": (bool,)}.get(dtype.kind, (str,))
    expected = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}.get(
        dtype.kind, "string"
    ) + f" ({dtype.name})"

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) in accepts:
            if dtype.kind in "iu":
                info = np.iinfo(dtype)
                if not info.min <= value <= info.max:
                    report(problems, where, key, expected, describe(value))
                    return value
            try:
                with np.errstate(over="raise", invalid="raise"):
                    return dtype.type(value)
            except (ValueError, TypeError, ArithmeticError, UnicodeError):
                pass
        report(problems, where, key, expected, describe(value))
        return value

    return Compiled(convert, expected)
