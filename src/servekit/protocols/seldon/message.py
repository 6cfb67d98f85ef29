"""The SeldonMessage wire format (Seldon Core v1), as the Python wrapper speaks it. I/O-free.

A request is a JSON object with one payload, taken in this order: ``data`` (``names``
and ``ndarray`` or ``tensor{shape, values}``), ``jsonData`` (any JSON), ``strData`` (a
string), ``binData`` (base64); and an optional ``meta`` (``puid``, ``tags``,
``metrics``, ``requestPath``). A response takes its form from the result: a dict is
``jsonData``, a string ``strData``, bytes ``binData``, an array or list ``data``: as a
``tensor`` when the request sent one (or sent no ``data``) and the result is numeric,
else as an ``ndarray``, with ``names`` for results of two or more dimensions. Errors are
``{"status": {"status": 1, "info", "code": -1, "reason"}}``.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from servekit import errors
from servekit.core.paths import describe

__all__ = [
    "SeldonInput",
    "as_array",
    "as_lists",
    "check_meta",
    "decode",
    "model_input",
    "respond",
    "seldon_error",
]

BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL_ERROR = "MICROSERVICE_INTERNAL_ERROR"
_KEEP_STATUS = frozenset({401, 404, 405, 413, 415, 431, 503, 504})


@dataclass(frozen=True)
class SeldonInput:
    """A decoded request. ``kind`` is ndarray, tensor, json, str or bin; ``value`` is the
    payload as sent (nested lists for ndarray, ``(shape, values)`` for tensor, any JSON
    value, a str, or bytes)."""

    kind: str
    value: Any
    names: list[str] = field(default_factory=list)
    meta: dict[str, Any] | None = None


def decode(document: Any) -> SeldonInput:
    """A request document as a :class:`SeldonInput`; BadRequest naming what is wrong."""
    if type(document) is not dict:
        raise errors.BadRequest(f"a SeldonMessage is a JSON object, got {describe(document)}")
    meta = document.get("meta")
    if meta is not None:
        check_meta(meta)
    for name, kind, what in (("data", dict, "an object"), ("strData", str, "a string")):
        if name in document and type(document[name]) is not kind:
            raise errors.BadRequest(f'"{name}" must be {what}, got {describe(document[name])}')
    if "binData" in document and type(document["binData"]) is not str:
        raise errors.BadRequest('"binData" must be base64 text')
    if "data" in document:  # the first payload present is the one used, as in Seldon
        return _data(document["data"], meta)
    if "jsonData" in document:
        return SeldonInput("json", document["jsonData"], meta=meta)
    if "strData" in document:
        text = document["strData"]
        if type(text) is not str:
            raise errors.BadRequest(f'"strData" must be a string, got {describe(text)}')
        return SeldonInput("str", text, meta=meta)
    if "binData" in document:
        encoded = document["binData"]
        try:
            raw = base64.b64decode(encoded, validate=True) if type(encoded) is str else None
        except (binascii.Error, ValueError):
            raw = None
        if raw is None:
            raise errors.BadRequest('"binData" must be base64 text')
        return SeldonInput("bin", raw, meta=meta)
    keys = ", ".join(list(document)[:5]) or "none"
    raise errors.BadRequest(
        f"the SeldonMessage has no data, jsonData, strData or binData (keys: {keys})"
    )


def check_meta(meta: Any) -> None:
    """BadRequest unless ``meta`` is an object with well-typed puid, tags, metrics."""
    if type(meta) is not dict:
        raise errors.BadRequest(f'"meta" must be an object, got {describe(meta)}')
    for name, kind, what in (("tags", dict, "an object"), ("metrics", list, "an array")):
        found = meta.get(name)
        if found is not None and type(found) is not kind:
            raise errors.BadRequest(f'"meta.{name}" must be {what}, got {describe(found)}')
    for metric in meta.get("metrics") or []:
        if type(metric) is not dict:
            raise errors.BadRequest(f'"meta.metrics" holds objects, got {describe(metric)}')
    if meta.get("puid") is not None and type(meta["puid"]) is not str:
        raise errors.BadRequest(f'"meta.puid" must be a string, got {describe(meta["puid"])}')


def model_input(value: SeldonInput) -> Any:
    """What a Seldon class gets as X: a numpy array for ndarray/tensor, else the value."""
    return as_array(value) if value.kind in ("ndarray", "tensor") else value.value


def _data(data: Any, meta: dict[str, Any] | None) -> SeldonInput:
    if type(data) is not dict:
        raise errors.BadRequest(f'"data" must be an object, got {describe(data)}')
    names = data.get("names", [])
    if type(names) is not list or not all(type(n) is str for n in names):
        raise errors.BadRequest('"data.names" must be an array of strings')
    tensor = _tensor(data["tensor"]) if "tensor" in data else None  # checked even if unused
    if "ndarray" in data:  # ndarray first, as in Seldon
        if type(data["ndarray"]) is not list:
            raise errors.BadRequest('"data.ndarray" must be an array')
        return SeldonInput("ndarray", data["ndarray"], names, meta)
    if tensor is not None:
        return SeldonInput("tensor", tensor, names, meta)
    if "tftensor" in data:
        raise errors.BadRequest("data.tftensor is not supported: send ndarray or tensor")
    return SeldonInput("ndarray", [], names, meta)


def _tensor(tensor: Any) -> tuple[list[int], list[Any]]:
    """``(shape, values)`` of a well-formed ``data.tensor``; BadRequest otherwise."""
    shape = tensor.get("shape") if type(tensor) is dict else None
    values = tensor.get("values") if type(tensor) is dict else None
    if type(shape) is not list or type(values) is not list:
        raise errors.BadRequest('"data.tensor" must have "shape" and "values" arrays')
    if not all(type(v) in (int, float) for v in values):
        raise errors.BadRequest('"data.tensor.values" must be numbers')
    if not all(type(n) is int and n >= 0 for n in shape) or math.prod(shape) != len(values):
        raise errors.BadRequest(
            f"data.tensor: shape {shape} does not hold the {len(values)} values sent"
        )
    return shape, values


def as_array(value: SeldonInput) -> np.ndarray[Any, Any]:
    """The ndarray or tensor payload as a numpy array (what Seldon classes get as X)."""
    try:
        if value.kind == "tensor":
            shape, values = value.value
            array: np.ndarray[Any, Any] = np.array(values).reshape(shape)
        else:
            array = np.array(value.value)
    except ValueError as exc:  # a ragged ndarray
        raise errors.BadRequest(f"data.ndarray is not a regular array: {exc}") from None
    return array


def as_lists(value: SeldonInput) -> Any:
    """The ndarray or tensor payload as nested lists (what servekit functions bind)."""
    if value.kind == "tensor":
        return as_array(value).tolist()
    return value.value


def respond(
    result: Any,
    request: SeldonInput,
    class_names: list[str] | None = None,
    tags: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The response SeldonMessage for ``result`` (JSON-ready but for numpy values)."""
    message: dict[str, Any] = {"meta": _meta(request.meta, tags, metrics)}
    if isinstance(result, dict):
        message["jsonData"] = result
    elif isinstance(result, str):
        message["strData"] = result
    elif isinstance(result, (bytes, bytearray)):
        message["binData"] = base64.b64encode(bytes(result)).decode("ascii")
    elif isinstance(result, (np.ndarray, list, tuple)):
        message["data"] = _array_data(result, request, class_names)
    else:  # a scalar (Seldon's own wrapper refuses these; servekit sends them as JSON)
        message["jsonData"] = result
    return message


def _array_data(result: Any, request: SeldonInput, class_names: list[str] | None) -> Any:
    try:
        array = np.asarray(result)
    except ValueError:  # ragged: send it as it is
        return {"names": [], "ndarray": list(result)}
    if array.dtype == object:
        return {"names": [], "ndarray": result if isinstance(result, list) else list(result)}
    names = (
        list(class_names or [f"t:{i}" for i in range(array.shape[1])]) if array.ndim >= 2 else []
    )
    numeric = np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.bool_)
    if numeric and request.kind != "ndarray":
        return {"names": names, "tensor": {"shape": list(array.shape), "values": array.ravel()}}
    return {"names": names, "ndarray": array if isinstance(result, np.ndarray) else result}


def _meta(
    request: dict[str, Any] | None,
    tags: dict[str, Any] | None,
    metrics: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    request = request or {}
    meta: dict[str, Any] = {}
    if request.get("puid"):
        meta["puid"] = request["puid"]
    merged_tags = {**(request.get("tags") or {}), **(tags or {})}
    if merged_tags:
        meta["tags"] = merged_tags
    merged_metrics = [*(request.get("metrics") or []), *(metrics or [])]
    if merged_metrics:
        meta["metrics"] = merged_metrics
    if request.get("requestPath"):
        meta["requestPath"] = request["requestPath"]
    return meta


def seldon_error(error: errors.ServekitError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, Seldon's error envelope) for a servekit error: client errors are 400
    MICROSERVICE_BAD_DATA, server errors 500 MICROSERVICE_INTERNAL_ERROR; auth, size,
    routing, readiness and timeout errors keep their own status."""
    status = error.status
    reason = BAD_DATA if status < 500 else INTERNAL_ERROR
    if status not in _KEEP_STATUS:
        status = 400 if status < 500 else 500
    info = error.message
    if error.details:
        info += "; " + "; ".join(str(d.get("message", d)) for d in error.details[1:6])
    body = {"status": {"status": 1, "info": info.rstrip("; "), "code": -1, "reason": reason}}
    return status, body
