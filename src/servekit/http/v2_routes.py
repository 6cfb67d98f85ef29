"""The Open Inference Protocol's REST views (KServe/Triton "V2"; rows in
:mod:`servekit.http.routes`, ``envelope="v2"``). Thin: the logic is
:class:`~servekit.protocols.v2.V2Codec`; errors are answered ``{"error": "message"}`` by
the one lifecycle, with the same codes counted.

``GET /v2`` (server metadata), ``GET /v2/models/<name>[/versions/<version>]`` (model
metadata) and ``.../ready``, and ``POST .../infer``. The server serves one model: its
name (or ``SERVEKIT_MODEL_ID``) and its version, or ``latest``; any other is 404.
Inference is a fast route, as ``/model`` is: the lifecycle calls
:meth:`Inference.answer` itself, in front of Flask, and sends the answer's headers (a
binary answer's Content-Type and Inference-Header-Content-Length). It runs under the
request deadline (``run``), as on ``/model``; its body limit is
``SERVEKIT_MAX_BODY_BYTES``. Its body is read whatever its Content-Type says, as Triton
reads it (``curl -d`` declares a form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from flask import Response, request

from servekit._version import __version__
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.predictions import limited_body, not_ready
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics
from servekit.protocols.v2 import V2Codec, server_metadata

__all__ = ["Inference", "views"]

_JSON = "application/json"
_SERVER = orjson.dumps(server_metadata(__version__))


@dataclass
class Inference:
    """``POST /v2/models/<name>[/versions/<version>]/infer`` from a WSGI environ: the
    answer's body and headers, or a ServekitError."""

    state: ServerState
    telemetry: ServerMetrics
    run: Runner
    max_body_bytes: int
    model_id: str = ""
    """``SERVEKIT_MODEL_ID``, another name the model answers to."""
    _codec: V2Codec | None = None

    def served(self, name: str, version: str | None) -> V2Codec:
        """The codec of the model served, if it is ``name`` at ``version``: NotReady
        before it is loaded, NotFound for another model or version."""
        plane = self.state.dataplane
        if plane is None:
            raise not_ready(self.state)
        codec = self._codec
        if codec is None or codec.plane is not plane:
            codec = self._codec = V2Codec(plane)
        codec.served(name, version, self.model_id)
        return codec

    def answer(self, environ: dict[str, Any], request_id: str) -> tuple[bytes, dict[str, str]]:
        """Check the model, version and length; run the inference under the deadline."""
        # "", "v2", "models", name, ["versions", version,] "infer": as the fast path matched
        parts = environ.get("PATH_INFO", "").split("/")
        codec = self.served(parts[3], parts[5] if len(parts) == 7 else None)
        body = limited_body(environ, self.max_body_bytes)
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        answer = self.run(lambda: codec.infer(body, header_length, request_id))
        self.telemetry.model_seconds.observe(answer.model_seconds)
        return answer.body, answer.headers

    def view(self, **_: str) -> Response:
        """The same answer as a Flask view (for a request the fast path passed on)."""
        environ = request.environ
        body, headers = self.answer(environ, environ[REQUEST_ID])
        return Response(body, 200, headers)


def views(inference: Inference) -> dict[str, Any]:
    """The views, by endpoint; inference's is ``inference``'s (a fast route)."""

    def server() -> Response:
        return Response(_SERVER, mimetype=_JSON)

    def model(name: str, version: str | None = None) -> Response:
        metadata = inference.served(name, version).metadata()
        return Response(orjson.dumps(metadata), mimetype=_JSON)

    def ready(name: str, version: str | None = None) -> Response:
        codec = inference.served(name, version)
        return Response(orjson.dumps({"name": codec.name, "ready": True}), mimetype=_JSON)

    return {
        "v2_server": server,
        "v2_model": model,
        "v2_model_ready": ready,
        "v2_infer": inference.view,
    }
