"""The Open Inference Protocol's REST views (KServe/Triton "V2"; rows in
:mod:`servekit.http.routes`, ``envelope="v2"``). Thin: the logic is
:class:`~servekit.protocols.v2.V2Codec`; errors are answered ``{"error": "message"}`` by
the one lifecycle, with the same codes counted.

``GET /v2`` (server metadata), ``GET /v2/models/<name>[/versions/<version>]`` (model
metadata) and ``.../ready``, and ``POST .../infer``. The server serves one model: its
name (or ``SERVEKIT_MODEL_ID``) and its version, or ``latest``; any other is 404.
Inference runs under the request deadline (``run``), as on ``/model``; its body limit
is ``SERVEKIT_MAX_BODY_BYTES``. Its body is read whatever its Content-Type says, as
Triton reads it (``curl -d`` declares a form).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request

from servekit import errors
from servekit._version import __version__
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.predictions import not_ready
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics
from servekit.protocols.v2 import V2Codec, server_metadata

__all__ = ["views"]

_JSON = "application/json"
_SERVER = orjson.dumps(server_metadata(__version__))


def views(
    state: ServerState, telemetry: ServerMetrics, run: Runner, model_id: str = ""
) -> dict[str, Any]:
    """The views, by endpoint. ``model_id``: ``SERVEKIT_MODEL_ID``, another name the
    model answers to."""
    made: list[V2Codec] = []

    def served(name: str, version: str | None) -> V2Codec:
        plane = state.dataplane
        if plane is None:
            raise not_ready(state)
        if not made or made[0].plane is not plane:
            made[:] = [V2Codec(plane)]
        codec = made[0]
        if name not in (codec.name, model_id or codec.name):
            raise errors.NotFound(
                f"model {name!r} is not served here: this server serves {codec.name!r}"
            )
        if version not in (None, "latest", codec.version):
            raise errors.NotFound(
                f"version {version!r} of model {name!r} is not served here: this server "
                f"serves version {codec.version!r} (or ask for latest, or no version)"
            )
        return codec

    def server() -> Response:
        return Response(_SERVER, mimetype=_JSON)

    def model(name: str, version: str | None = None) -> Response:
        return Response(orjson.dumps(served(name, version).metadata()), mimetype=_JSON)

    def ready(name: str, version: str | None = None) -> Response:
        codec = served(name, version)
        return Response(orjson.dumps({"name": codec.name, "ready": True}), mimetype=_JSON)

    def infer(name: str, version: str | None = None) -> Response:
        codec = served(name, version)
        header_length = request.headers.get("Inference-Header-Content-Length")
        body = request.get_data(cache=False)  # over SERVEKIT_MAX_BODY_BYTES: 413
        rid: str = request.environ[REQUEST_ID]
        answer = run(lambda: codec.infer(body, header_length, rid))
        telemetry.model_seconds.observe(answer.model_seconds)
        return Response(answer.body, 200, answer.headers)

    return {"v2_server": server, "v2_model": model, "v2_model_ready": ready, "v2_infer": infer}
