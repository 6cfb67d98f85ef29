"""The Open Inference Protocol's tensor datatypes, and tensors as JSON. I/O-free.

A V2 tensor is a datatype (``BOOL``, ``UINT8`` .. ``UINT64``, ``INT8`` .. ``INT64``,
``FP16``, ``FP32``, ``FP64``, ``BYTES``), a shape and its elements in row-major order.
In JSON the elements are a flat or nested array of booleans, integers, numbers or (for
``BYTES``) strings. :func:`from_json` checks every element fits the datatype and that
the count is the shape's, and returns a numpy array of that shape; :func:`to_json`
writes one back flat. ``BYTES`` tensors are numpy object arrays of ``bytes``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from servekit import errors

__all__ = ["DATATYPES", "count", "datatype_of", "from_json", "to_json"]

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
"""Each datatype's numpy dtype (``BYTES``: objects, each ``bytes``)."""

_BY_DTYPE = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}
_LEAVES: dict[str, tuple[type, ...]] = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float)}
_WORDS = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers", "O": "strings"}


def datatype_of(dtype: np.dtype[Any]) -> str | None:
    """The datatype holding ``dtype``'s values (strings and objects: ``BYTES``), or None."""
    if dtype.kind in "OUS":
        return "BYTES"
    return _BY_DTYPE.get(dtype.newbyteorder("="))


def count(shape: tuple[int, ...]) -> int:
    """How many elements a tensor of ``shape`` holds."""
    return math.prod(shape)


def _flat(data: list[Any]) -> list[Any]:
    """Nested arrays flattened in row-major order (a flat array as it is)."""
    while any(type(item) is list for item in data):
        if not all(type(item) is list for item in data):
            raise ValueError("mixed")
        data = list(itertools.chain.from_iterable(data))
    return data


def from_json(name: str, datatype: str, shape: tuple[int, ...], data: Any) -> np.ndarray[Any, Any]:
    """The tensor ``name`` from its JSON ``data``; BadRequest naming it when the data
    does not fit the datatype or the shape."""
    where = f"input {name!r} ({datatype} {list(shape)})"
    if type(data) is not list:
        data = [data]  # a scalar: a tensor of one element
    try:
        flat = _flat(data)
    except ValueError:
        raise errors.BadRequest(f"{where}: data mixes arrays and values at one level") from None
    if len(flat) != count(shape):
        raise errors.BadRequest(
            f"{where}: the shape holds {count(shape)} elements, the data has {len(flat)}"
        )
    dtype = DATATYPES[datatype]
    if dtype.kind == "O":
        if not all(type(item) is str for item in flat):
            raise errors.BadRequest(f"{where}: BYTES data must be strings")
        array = np.empty(len(flat), dtype=object)
        array[:] = [item.encode("utf-8", "surrogatepass") for item in flat]
        return array.reshape(shape)
    leaves = _LEAVES[dtype.kind]
    kinds = set(map(type, flat))
    if not kinds <= set(leaves):
        got = ", ".join(sorted(k.__name__ if k is not type(None) else "null" for k in kinds))
        raise errors.BadRequest(f"{where}: {datatype} data must be {_WORDS[dtype.kind]}, got {got}")
    if dtype.kind in "iu" and flat:
        info = np.iinfo(dtype)
        low, high = min(flat), max(flat)
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise errors.BadRequest(
                f"{where}: {bad} does not fit {datatype} ({info.min}..{info.max})"
            )
    try:
        with np.errstate(over="raise", invalid="raise"):
            array = np.array(flat, dtype=np.float64 if dtype.kind == "f" else dtype)
            if array.dtype != dtype:
                array = array.astype(dtype)
    except (FloatingPointError, OverflowError):
        raise errors.BadRequest(f"{where}: a value is outside the range of {datatype}") from None
    return array.reshape(shape)


def to_json(array: np.ndarray[Any, Any], name: str) -> Any:
    """The elements of output ``name``, flat, for the JSON encoder: numbers and booleans
    as a flat numpy array (orjson writes those itself), BYTES as UTF-8 strings
    (ModelError for bytes that are not UTF-8: those go in binary)."""
    flat = array.reshape(-1)
    if array.dtype.kind != "O":
        return np.ascontiguousarray(flat)
    try:
        return [item.decode("utf-8") for item in flat]
    except UnicodeDecodeError:
        raise errors.ModelError(
            f"output {name!r} holds bytes that are not UTF-8 text: request it in binary "
            "(outputs[i].parameters.binary_data: true)"
        ) from None
