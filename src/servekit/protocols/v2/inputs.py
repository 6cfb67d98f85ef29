"""How V2 tensors become a model's arguments, decided once from its signature. I/O-free.

Each parameter gets a :class:`Slot` at load:

- ``array``: a :class:`~servekit.core.tensors.TensorSpec` (ONNX) or a numpy array
  annotation takes the tensor as a numpy array (of exactly the spec's or ``NDArray``'s
  datatype when it names one; ``BYTES`` as UTF-8 strings);
- ``list``: ``list[float]``, ``list[list[int]]``, ... takes the tensor as nested lists
  (floats from ``FP*``, integers from ``INT*``/``UINT*``, booleans from ``BOOL``,
  strings from ``BYTES``);
- ``scalar``: ``int``, ``float``, ``bool``, ``str``, ``bytes`` and numpy scalars take a
  tensor of exactly one element;
- ``json``: any other annotation (objects, dataclasses, ``Optional``, ...) takes a
  ``BYTES`` tensor of one element holding JSON;
- ``any``: no annotation (R's formals too) takes a ``BYTES`` tensor of one JSON element,
  or any other tensor as nested lists.

The values then go through the data plane's binder like any request's, so every type
rule and constraint still applies; metadata describes each slot's datatype and shape
(-1 for a dynamic dimension).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit import errors
from servekit.core import jsonbody
from servekit.core.arrays import dtype_of
from servekit.core.signature import EMPTY, Param
from servekit.core.tensors import TensorSpec
from servekit.protocols.v2.datatypes import DATATYPES, datatype_of

__all__ = ["Slot", "slot_of"]

_INTEGERS = tuple(name for name in DATATYPES if "INT" in name)
_FAMILIES: dict[Any, tuple[str, tuple[str, ...]]] = {
    float: ("FP64", ("FP64", "FP32", "FP16")),
    int: ("INT64", ("INT64", *(n for n in _INTEGERS if n != "INT64"))),
    bool: ("BOOL", ("BOOL",)),
    str: ("BYTES", ("BYTES",)),
    bytes: ("BYTES", ("BYTES",)),
}
_UNTYPED = (EMPTY, Any, object)
_LISTS = (list, Sequence, typing.Sequence)


@dataclass(frozen=True)
class Slot:
    """How one parameter takes its tensor, and how metadata describes it."""

    name: str
    kind: str
    """``array``, ``list``, ``scalar``, ``json`` or ``any``."""
    datatype: str
    shape: tuple[int, ...]
    accepts: tuple[str, ...] | None
    """The datatypes it takes (None: any)."""
    required: bool
    text: bool = True
    """``BYTES`` elements become ``str`` (else ``bytes``)."""

    def metadata(self) -> dict[str, Any]:
        """The tensor's entry in the model metadata."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    def value(self, array: np.ndarray[Any, Any], datatype: str) -> Any:
        """The argument for the tensor ``array`` of ``datatype``; BadRequest naming it
        when this parameter cannot take it."""
        where = f"input {self.name!r}"
        if self.accepts is not None and datatype not in self.accepts:
            wanted = self.accepts[0] + (
                f" (or {', '.join(self.accepts[1:])})" if len(self.accepts) > 1 else ""
            )
            raise errors.BadRequest(f"{where}: expected datatype {wanted}, got {datatype}")
        kind = self.kind
        if kind == "any":
            kind = "json" if datatype == "BYTES" else "list"
        if kind == "json":
            return self._json(where, array, datatype)
        if datatype == "BYTES" and self.text:
            array = _text(where, array, kind == "array")
        if kind == "array":
            return array
        if kind == "list":
            return array.tolist()
        if array.size != 1:
            raise errors.BadRequest(
                f"{where}: a single value ({self.datatype}) is a tensor of one element, "
                f"got shape {list(array.shape)}"
            )
        return array.reshape(-1)[0].item() if array.dtype.kind != "O" else array.reshape(-1)[0]

    def _json(self, where: str, array: np.ndarray[Any, Any], datatype: str) -> Any:
        if datatype != "BYTES" or array.size != 1:
            raise errors.BadRequest(
                f"{where}: expected a BYTES tensor of one element holding JSON, got "
                f"{datatype} {list(array.shape)}"
            )
        try:
            return jsonbody.loads(array.reshape(-1)[0])
        except errors.ServekitError as exc:
            raise errors.BadRequest(f"{where}: {exc.message}") from None


def _text(where: str, array: np.ndarray[Any, Any], as_array: bool) -> Any:
    try:
        items = [item.decode("utf-8") for item in array.reshape(-1)]
    except UnicodeDecodeError:
        raise errors.BadRequest(f"{where}: a BYTES element is not UTF-8 text") from None
    if as_array:
        return np.array(items, dtype=np.str_).reshape(array.shape)
    found = np.empty(len(items), dtype=object)
    found[:] = items
    return found.reshape(array.shape)


def slot_of(param: Param) -> Slot:
    """The slot of one parameter (read once, at load)."""
    name, required = param.name, param.required
    annotation = param.annotation
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, TensorSpec):
        datatype = datatype_of(annotation.dtype) or "BYTES"
        dims = annotation.shape
        shape = (-1,) if dims is None else tuple(d if isinstance(d, int) else -1 for d in dims)
        return Slot(name, "array", datatype, shape, (datatype,), required)
    origin = typing.get_origin(annotation)
    if annotation is np.ndarray or origin is np.ndarray:
        dtype = dtype_of(typing.get_args(annotation))
        found = datatype_of(dtype) if dtype is not None else None
        accepts = (found,) if found is not None else None
        return Slot(name, "array", found or "BYTES", (-1,), accepts, required)
    depth, inner = 0, annotation
    while typing.get_origin(inner) in _LISTS and typing.get_args(inner):
        depth, inner = depth + 1, typing.get_args(inner)[0]
    family: tuple[str, tuple[str, ...]] | None = None
    if isinstance(inner, type) and issubclass(inner, np.generic):
        found = datatype_of(np.dtype(inner))
        family = (found, (found,)) if found is not None else None
    elif isinstance(inner, type):
        family = _FAMILIES.get(inner)
    if family is not None:
        kind, shape = ("list", (-1,) * depth) if depth else ("scalar", (1,))
        return Slot(name, kind, family[0], shape, family[1], required, inner is not bytes)
    if annotation in _UNTYPED:
        return Slot(name, "any", "BYTES", (-1,), None, required)
    return Slot(name, "json", "BYTES", (1,), ("BYTES",), required)
