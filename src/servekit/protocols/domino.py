"""Domino's protocol, servekit's own: its request and response envelopes, and the one
error envelope. A codec over the protocol-neutral :class:`~servekit.core.dataplane.DataPlane`.
I/O-free.

Request: a JSON object with exactly one of ``data`` (an object: keyword arguments; or,
for a tabular model such as an MLflow one, an array of rows) or ``parameters`` (an
array: positional; or an object: keyword). Other top-level keys are ignored, as
Domino's harness ignores them.

Success: ``{"result", "request_id", "model_time_in_ms", "timing", "release"}``.
Failure: ``{"error": {"code", "message", "details"}, "request_id"}``.

Routes: ``POST /model`` and ``POST /models/<model_id>/<version>/model`` (and the async
API, whose jobs hold Domino request bodies); see :mod:`servekit.http.routes`.
"""

from __future__ import annotations

from typing import Any

import orjson

from servekit.core import jsonbody
from servekit.core.binding import BoundCall, Call, data_not_an_object
from servekit.core.dataplane import Answer, DataPlane
from servekit.core.paths import describe
from servekit.errors import BadJson, BadRequest, ServekitError

__all__ = ["DominoCodec", "encode_error", "parse_request"]

_EXAMPLE = 'send {"data": {"name": value, ...}} or {"parameters": [value, ...]}'


def parse_request(body: bytes) -> Call:
    """Decode a request body into a :class:`~servekit.core.binding.Call`.

    Raises BadJson for bytes that are not JSON (NaN and Infinity included) or that
    write a key twice in one object, and BadRequest for JSON that is not a ``data`` /
    ``parameters`` object. A ``data`` array (rows) is left to the binder, which takes it
    for a tabular model only. Integers are exact at any size (see :mod:`.jsonbody`).
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
        if type(values) is not dict and type(values) is not list:
            raise data_not_an_object(values)
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


class DominoCodec:
    """Domino's envelope over one data plane. Build once per process."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self._release = plane.release.to_dict()

    def bind(self, body: bytes) -> BoundCall:
        """Decode and bind a request body (validation only: the async API's intake)."""
        return self.plane.bind(parse_request(body))

    def run(self, body: bytes, request_id: str) -> tuple[Any, float]:
        """The model's raw result for a request body and the seconds the model took."""
        return self.plane.run(parse_request(body), request_id, "domino")

    def predict(self, body: bytes, request_id: str) -> Answer:
        """The whole path for one request body; returns the success envelope's bytes."""
        clock = self.plane.clock
        started = clock()
        result, model_seconds = self.run(body, request_id)
        envelope = {
            "result": result,
            "request_id": request_id,
            "model_time_in_ms": int(model_seconds * 1000 + 0.5),
            "timing": (clock() - started) * 1000,
            "release": self._release,
        }
        return Answer(self.plane.encode_result(envelope, request_id), model_seconds)
