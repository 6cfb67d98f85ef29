"""How a model's result becomes V2 output tensors, and what metadata says of them. I/O-free.

A result that is a dict with string keys (an ONNX graph's outputs by name, or a Python
model's ``{"label": ..., "score": ...}``) is one output per key; anything else is one
output named ``output0``. Each value becomes a tensor: numpy arrays as they are (their
dtype names the datatype), numbers and booleans as tensors of one element, lists through
numpy when their leaves are all numbers, all booleans or all strings, ``str`` and
``bytes`` as ``BYTES``, and any other JSON-shaped value as a ``BYTES`` element holding
its JSON.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from servekit import errors
from servekit.core.batching import row_type
from servekit.core.signature import Param
from servekit.core.tensors import TensorSpec
from servekit.protocols.v2.datatypes import datatype_of
from servekit.protocols.v2.inputs import slot_of

__all__ = ["output_metadata", "tensor_of", "tensors_of"]

Encode = Callable[[Any], bytes]
"""A value's JSON bytes (the data plane's encoder: a ModelError when it cannot)."""


def _bytes(values: list[Any], encode: Encode) -> np.ndarray[Any, Any]:
    array = np.empty(len(values), dtype=object)
    array[:] = [
        v.encode("utf-8") if isinstance(v, str) else v if isinstance(v, bytes) else encode(v)
        for v in values
    ]
    return array


def _same_kind(value: list[Any] | tuple[Any, ...], array: np.ndarray[Any, Any]) -> bool:
    """True unless numpy made one kind of the list's leaves of several: strings of
    numbers (``[1, "a"]``) or numbers of booleans (``[True, 2]``)."""
    kind = array.dtype.kind
    if kind not in "iufUS" or not array.size:
        return True
    found: list[Any] = list(value)
    for _ in range(array.ndim - 1):
        found = [x for row in found for x in row]
    kinds = set(map(type, found))
    if kind in "US":
        return all(issubclass(k, (str, bytes)) for k in kinds)
    return not any(issubclass(k, (bool, np.bool_)) for k in kinds)


def tensor_of(value: Any, name: str, encode: Encode) -> np.ndarray[Any, Any]:
    """``value`` as a tensor: a numpy array of a V2 datatype's dtype (``BYTES``: an
    object array of ``bytes``). ModelError for an array no datatype holds."""
    array: np.ndarray[Any, Any]
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (np.generic, bool, float)) or type(value) is int:
        array = np.asarray(value).reshape(1)
        if array.dtype.kind == "O":  # an integer beyond 64 bits
            return _bytes([value], encode)
    elif isinstance(value, (str, bytes)):
        return _bytes([value], encode)
    elif isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except (ValueError, OverflowError):  # ragged
            return _bytes([value], encode)
        if array.dtype.kind == "O" or not _same_kind(value, array):
            return _bytes([value], encode)
        if array.dtype.kind in "US":  # numpy's strings drop trailing NULs: keep the str
            array = np.array(value, dtype=object)
    else:
        return _bytes([value], encode)
    if array.dtype.kind in "OUS":
        return _bytes(array.reshape(-1).tolist(), encode).reshape(array.shape)
    if datatype_of(array.dtype) is None:
        raise errors.ModelError(
            f"output {name!r} has dtype {array.dtype}, which no V2 datatype holds"
        )
    return array


def tensors_of(result: Any, encode: Encode) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """The outputs of ``result``, by name, in order."""
    if isinstance(result, dict) and result and all(type(k) is str for k in result):
        return [(key, tensor_of(value, key, encode)) for key, value in result.items()]
    return [("output0", tensor_of(result, "output0", encode))]


def datatype(array: np.ndarray[Any, Any]) -> str:
    """The datatype of a tensor made by :func:`tensor_of`."""
    return datatype_of(array.dtype) or "BYTES"


def _described(name: str, spec: TensorSpec | None) -> dict[str, Any]:
    if spec is None:  # not a tensor (a sequence of maps): one BYTES element of JSON
        return {"name": name, "datatype": "BYTES", "shape": [1]}
    shape = [] if spec.shape is None else [d if isinstance(d, int) else -1 for d in spec.shape]
    return {"name": name, "datatype": datatype_of(spec.dtype) or "BYTES", "shape": shape}


def output_metadata(runtime: Any, served: Any) -> list[dict[str, Any]]:
    """What the model's metadata says of its outputs: an ONNX graph's outputs, or a
    Python model's from its return annotation when that names their datatypes; else
    none (an empty list: unknown until the model answers)."""
    described = getattr(runtime, "outputs", None)  # an ONNX graph's
    if callable(described):
        return [_described(name, spec) for name, spec in described()]
    if served is None:
        return []
    try:
        hints = typing.get_type_hints(served)
    except Exception:  # an unresolvable forward reference: the inputs' warning says so
        return []
    returned = hints.get("return")
    if getattr(runtime, "batch_options", None) is not None:  # a list: one element per row
        returned = row_type(returned)
    if returned is None or returned is type(None) or typing.get_origin(returned) is dict:
        return []
    if typing.is_typeddict(returned):
        fields = typing.get_type_hints(returned).items()
        slots = [slot_of(Param(key, annotation=ann)) for key, ann in fields]
    else:
        slots = [slot_of(Param("output0", annotation=returned))]
    if returned is dict or any(s.accepts is None for s in slots):
        return []  # untyped, or a numpy array of any dtype: the datatype is unknown
    return [s.metadata() for s in slots]
