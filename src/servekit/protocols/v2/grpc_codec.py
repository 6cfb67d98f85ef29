"""The Open Inference Protocol over gRPC: its messages to and from the V2 codec. I/O-free.

A ``ModelInferRequest`` becomes the same :class:`~servekit.protocols.v2.request.InferRequest`
a REST body does (tensors from their typed ``contents``, or from ``raw_input_contents``,
read as the binary tensor data extension writes them), runs through
:meth:`V2Codec.run <servekit.protocols.v2.codec.V2Codec.run>`, and its outputs go back in
``raw_output_contents`` (as Triton answers). Errors are servekit's, with the gRPC status
each maps to (:func:`status_name`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from servekit import errors
from servekit.protocols.v2.binary import from_bytes, to_bytes
from servekit.protocols.v2.codec import Inferred, V2Codec
from servekit.protocols.v2.datatypes import DATATYPES, count
from servekit.protocols.v2.outputs import datatype
from servekit.protocols.v2.request import UNSUPPORTED, InferRequest, Requested
from servekit.protocols.v2.stubs import Messages

__all__ = ["decode_request", "encode_response", "metadata_response", "status_name"]

_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""The ``InferTensorContents`` field holding each datatype (FP16: raw contents only)."""
_FIELDS = tuple(sorted(set(_CONTENTS.values())))
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    413: "RESOURCE_EXHAUSTED",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_name(error: errors.ServekitError) -> str:
    """The gRPC status code (its name, e.g. ``INVALID_ARGUMENT``) answering ``error``."""
    return _STATUS.get(error.status, "UNKNOWN")


def _refuse_extensions(parameters: Any, what: str) -> None:
    for key in UNSUPPORTED:
        if key in parameters:
            raise errors.BadRequest(f"{what}: servekit does not support the {key} extension")


_WIDE = {"uint64_contents": np.uint64}
"""The exact type a contents field's values are read into before their range check
(int64 for the others: int_contents, uint_contents and int64_contents all fit)."""


def _from_contents(name: str, kind: str, shape: tuple[int, ...], contents: Any) -> Any:
    """The tensor ``name`` from its typed contents; BadRequest naming it when they do not
    fit its datatype and shape."""
    where = f"input {name!r} ({kind} {list(shape)})"
    field = _CONTENTS.get(kind)
    others = [f for f in _FIELDS if f != field and len(getattr(contents, f))]
    if field is None or others:
        place = f"contents.{field}" if field else "raw_input_contents (FP16 has no contents)"
        found = f"; got {', '.join(others)}" if others else ""
        raise errors.BadRequest(f"{where}: its data goes in {place}{found}")
    values = getattr(contents, field)
    if len(values) != count(shape):
        raise errors.BadRequest(
            f"{where}: the shape holds {count(shape)} elements, {field} has {len(values)}"
        )
    dtype = DATATYPES[kind]
    if dtype.kind == "O":
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    if dtype.kind in "iu":  # exact: uint64_contents beyond 2**63 lose digits as floats
        wide = np.fromiter(values, _WIDE.get(field, np.int64), len(values))
    else:
        wide = np.array(values, dtype=np.float64 if dtype.kind == "f" else None)
    if dtype.kind in "iu" and wide.size:
        info = np.iinfo(dtype)
        low, high = int(wide.min()), int(wide.max())
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise errors.BadRequest(f"{where}: {bad} does not fit {kind} ({info.min}..{info.max})")
    return wide.astype(dtype).reshape(shape)


def decode_request(message: Any) -> InferRequest:
    """The inference request in a ``ModelInferRequest``; BadRequest naming the input or
    output that is wrong."""
    _refuse_extensions(message.parameters, "the request")
    if not message.inputs:
        raise errors.BadRequest("the request has no inputs")
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise errors.BadRequest(
            f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs: "
            "give one per input, in the order of inputs"
        )
    inputs: dict[str, Any] = {}
    datatypes: dict[str, str] = {}
    for index, tensor in enumerate(message.inputs):
        name = tensor.name
        if not name:
            raise errors.BadRequest(f"inputs[{index}]: name must be a non-empty string")
        where = f"input {name!r}"
        if name in inputs:
            raise errors.BadRequest(f"{where} is given twice")
        _refuse_extensions(tensor.parameters, where)
        kind = tensor.datatype
        if kind not in DATATYPES:
            raise errors.BadRequest(
                f"{where}: datatype {kind!r} is not one of {', '.join(DATATYPES)}"
            )
        if any(d < 0 for d in tensor.shape):
            raise errors.BadRequest(f"{where}: shape must be whole numbers >= 0")
        shape = tuple(tensor.shape)
        if raw:
            if tensor.HasField("contents"):
                raise errors.BadRequest(f"{where}: give contents or raw_input_contents, not both")
            inputs[name] = from_bytes(name, kind, shape, raw[index])
        else:
            inputs[name] = _from_contents(name, kind, shape, tensor.contents)
        datatypes[name] = kind
    outputs: list[Requested] = []
    for index, wanted in enumerate(message.outputs):
        if not wanted.name:
            raise errors.BadRequest(f"outputs[{index}]: name must be a non-empty string")
        _refuse_extensions(wanted.parameters, f"output {wanted.name!r}")
        outputs.append(Requested(wanted.name, True))
    return InferRequest(message.id or None, inputs, datatypes, tuple(outputs) or None, True)


def encode_response(messages: Messages, codec: V2Codec, inferred: Inferred) -> Any:
    """The ``ModelInferResponse`` for ``inferred``: every output's bytes raw."""
    response = messages["ModelInferResponse"](
        model_name=codec.name, model_version=codec.version, id=inferred.id
    )
    for name, array, _ in inferred.outputs:
        response.outputs.add(name=name, datatype=datatype(array), shape=list(array.shape))
        response.raw_output_contents.append(to_bytes(array))
    return response


def metadata_response(messages: Messages, codec: V2Codec) -> Any:
    """The ``ModelMetadataResponse`` of ``codec``'s model."""
    found = codec.metadata()
    response = messages["ModelMetadataResponse"](
        name=found["name"], versions=found["versions"], platform=found["platform"]
    )
    for key in ("inputs", "outputs"):
        for tensor in found[key]:
            getattr(response, key).add(**tensor)
    return response
