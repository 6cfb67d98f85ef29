"""Domino's request and response envelopes, and servekit's one error envelope. I/O-free.

Request: a JSON object with exactly one of ``data`` (an object: keyword arguments) or
``parameters`` (an array: positional; or an object: keyword). Other top-level keys are
ignored, as Domino's harness ignores them.

Success: ``{"result", "request_id", "model_time_in_ms", "timing", "release"}``.
Failure: ``{"error": {"code", "message", "details"}, "request_id"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from servekit.core import jsonbody
from servekit.core.binding import Call
from servekit.core.paths import describe
from servekit.errors import BadJson, BadRequest, ServekitError

__all__ = ["Release", "encode_error", "parse_request"]

_EXAMPLE = 'send {"data": {"name": value, ...}} or {"parameters": [value, ...]}'


@dataclass(frozen=True)
class Release:
    """What is serving: reported in every successful response's ``release``."""

    harness_version: str
    model_name: str
    model_version: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form of ``release``."""
        return {
            "harness_version": self.harness_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
        }


def parse_request(body: bytes) -> Call:
    """Decode a request body into a :class:`~servekit.core.binding.Call`.

    Raises BadJson for bytes that are not JSON (NaN and Infinity included) or that
    write a key twice in one object, and BadRequest for JSON that is not a ``data`` /
    ``parameters`` object. Integers are exact at any size (see :mod:`.jsonbody`).
    """
    if not body.strip():
        raise BadJson(f"the request body is empty; {_EXAMPLE}")
    document = jsonbody.loads(body)
    if type(document) is not dict:
        raise BadRequest(
            f"the request body must be a JSON object, got {describe(document)}; {_EXAMPLE}"
        )
    has_data = "data" in document
    has_parameters = "parameters" in document
    if has_data and has_parameters:
        raise BadRequest('send either "data" or "parameters", not both')
    if has_data:
        values = document["data"]
        if type(values) is not dict:
            raise BadRequest(
                f'"data" must be a JSON object of named arguments, got {describe(values)}'
            )
        return Call("data", values)
    if has_parameters:
        values = document["parameters"]
        if type(values) is not list and type(values) is not dict:
            raise BadRequest(
                f'"parameters" must be an array (positional arguments) or an '
                f"object (named arguments), got {describe(values)}"
            )
        return Call("parameters", values)
    keys = ", ".join(list(document)[:5]) or "none"
    raise BadRequest(f'the request has no "data" or "parameters" key (keys: {keys}); {_EXAMPLE}')


def encode_error(error: ServekitError, request_id: str) -> bytes:
    """The error envelope as JSON bytes."""
    envelope: dict[str, Any] = error.to_envelope(request_id)
    return orjson.dumps(envelope, default=str)
