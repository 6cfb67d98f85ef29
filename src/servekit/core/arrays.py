"""Converters to numpy arrays and scalars. I/O-free.

``numpy.ndarray`` and ``numpy.typing.NDArray[dtype]`` take nested JSON arrays. The
values must fit the dtype by kind (numbers for floats, integers for ints, booleans for
bool, strings for str); ragged nesting, nulls and mixed kinds are problems, never a
silent object array.
"""

from __future__ import annotations

import typing
from typing import Any

import numpy as np

from servekit.core.compiled import Compiled
from servekit.core.paths import Where, describe, report
from servekit.errors import Problem

__all__ = ["dtype_of", "ndarray_converter", "scalar_converter"]

# Which inferred kinds each target kind accepts (numpy kind codes).
_ACCEPTS: dict[str, str] = {
    "f": "fiu",
    "c": "fiu",
    "i": "iu",
    "u": "iu",
    "b": "b",
    "U": "U",
    "S": "U",
}
_KIND_WORDS: dict[str, str] = {
    "f": "numbers",
    "i": "integers",
    "u": "integers",
    "b": "booleans",
    "U": "strings",
    "O": "nulls, objects or mixed items",
}


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
    accepts = _ACCEPTS.get(dtype.kind, "") if dtype is not None else "fiubU"

    def convert(value: Any, where: Where, key: str | int | None, problems: list[Problem]) -> Any:
        if type(value) is not list:
            report(problems, where, key, expected, describe(value))
            return value
        try:
            array = np.array(value)
        except (ValueError, OverflowError):
            report(problems, where, key, expected, "ragged nested arrays (rows of unequal length)")
            return value
        kind = array.dtype.kind
        if kind not in accepts and array.size:
            report(problems, where, key, expected, f"array of {_KIND_WORDS.get(kind, kind)}")
            return value
        if dtype is None:
            return array
        if dtype.kind in "iu" and array.size:
            info = np.iinfo(dtype)
            if array.min() < info.min or array.max() > info.max:
                report(problems, where, key, expected, f"values outside {info.min}..{info.max}")
                return value
        return array.astype(dtype, copy=False)

    return Compiled(convert, expected)


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
            return dtype.type(value)
        report(problems, where, key, expected, describe(value))
        return value

    return Compiled(convert, expected)
