"""An inference request of the Open Inference Protocol, decoded. I/O-free.

``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "parameters"?,
"data"?}], "outputs"?: [{"name", "parameters"?}]}``: every input becomes a numpy array
of its datatype and shape (from JSON ``data`` or from its slice of the binary data),
and the outputs asked for are noted with whether each goes back in binary. Anything
wrong is a BadRequest naming the input or output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit import errors
from servekit.core import jsonbody
from servekit.core.paths import describe
from servekit.protocols.v2.binary import from_bytes, split
from servekit.protocols.v2.datatypes import DATATYPES, from_json

__all__ = ["UNSUPPORTED", "InferRequest", "Requested", "decode"]

UNSUPPORTED = ("shared_memory_region", "classification")
"""Triton extensions servekit does not offer: refused, never silently ignored."""


@dataclass(frozen=True)
class Requested:
    """One output the client asked for, and whether it goes back in binary."""

    name: str
    binary: bool


@dataclass(frozen=True)
class InferRequest:
    """The decoded request: its id, its inputs by name, the outputs asked for (None:
    all), and whether outputs go in binary unless an output says otherwise."""

    id: str | None
    inputs: dict[str, np.ndarray[Any, Any]]
    datatypes: dict[str, str]
    outputs: tuple[Requested, ...] | None
    binary_output: bool


def _object(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise errors.BadRequest(f"{what} must be an object, got {describe(value)}")
    return value


def _named(value: Any, what: str) -> tuple[dict[str, Any], str]:
    item = _object(value, what)
    name = item.get("name")
    if type(name) is not str or not name:
        raise errors.BadRequest(f"{what}: name must be a non-empty string")
    return item, name


def _parameters(holder: dict[str, Any], what: str) -> dict[str, Any]:
    found = _object(holder.get("parameters", {}), f"the parameters of {what}")
    for key in UNSUPPORTED:
        if key in found:
            raise errors.BadRequest(f"{what}: servekit does not support the {key} extension")
    return found


def _shape(item: dict[str, Any], where: str) -> tuple[int, ...]:
    shape = item.get("shape")
    if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
        raise errors.BadRequest(f"{where}: shape must be an array of whole numbers >= 0")
    return tuple(shape)


def decode(body: bytes, header_length: str | None) -> InferRequest:
    """Decode a request body (``header_length``: the Inference-Header-Content-Length
    header, when binary data follows the JSON)."""
    header, tail = split(body, header_length)
    if not header.strip():
        raise errors.BadJson('the request body is empty; send {"inputs": [...]}')
    document = _object(jsonbody.loads(header), "the request")
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise errors.BadRequest(f'"id" must be a string, got {describe(request_id)}')
    parameters = _parameters(document, "the request")
    listed = document.get("inputs")
    if type(listed) is not list or not listed:
        raise errors.BadRequest('"inputs" must be a non-empty array of tensors')
    inputs: dict[str, np.ndarray[Any, Any]] = {}
    datatypes: dict[str, str] = {}
    at = 0
    for index, given in enumerate(listed):
        item, name = _named(given, f"inputs[{index}]")
        where = f"input {name!r}"
        if name in inputs:
            raise errors.BadRequest(f"{where} is given twice")
        datatype = item.get("datatype")
        if datatype not in DATATYPES:
            raise errors.BadRequest(
                f"{where}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
            )
        shape = _shape(item, where)
        size = _parameters(item, where).get("binary_data_size")
        if size is None:
            if "data" not in item:
                raise errors.BadRequest(f"{where} has no data (nor binary_data_size)")
            inputs[name] = from_json(name, datatype, shape, item["data"])
        else:
            if type(size) is not int or size < 0 or "data" in item:
                raise errors.BadRequest(
                    f"{where}: binary_data_size must be a number of bytes >= 0, without data"
                )
            if at + size > len(tail):
                raise errors.BadRequest(
                    f"{where}: binary_data_size {size} goes past the binary data "
                    f"({len(tail) - at} bytes left)"
                )
            inputs[name] = from_bytes(name, datatype, shape, tail[at : at + size])
            at += size
        datatypes[name] = datatype
    if at != len(tail):
        raise errors.BadRequest(
            f"the body has {len(tail) - at} bytes of binary data no input's binary_data_size "
            "accounts for"
        )
    binary_output = _flag(parameters, "binary_data_output", "the request", False)
    return InferRequest(
        request_id, inputs, datatypes, _outputs(document, binary_output), binary_output
    )


def _flag(parameters: dict[str, Any], key: str, what: str, default: bool) -> bool:
    value = parameters.get(key, default)
    if type(value) is not bool:
        raise errors.BadRequest(f"{what}: {key} must be true or false")
    return value


def _outputs(document: dict[str, Any], binary_output: bool) -> tuple[Requested, ...] | None:
    listed = document.get("outputs")
    if listed is None:
        return None
    if type(listed) is not list:
        raise errors.BadRequest('"outputs" must be an array of {"name": ...}')
    found: list[Requested] = []
    for index, given in enumerate(listed):
        item, name = _named(given, f"outputs[{index}]")
        where = f"output {name!r}"
        binary = _flag(_parameters(item, where), "binary_data", where, binary_output)
        found.append(Requested(name, binary))
    return tuple(found)
