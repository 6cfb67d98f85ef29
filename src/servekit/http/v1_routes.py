"""KServe's V1 protocol's REST views (rows in :mod:`servekit.http.routes`,
``envelope="kserve_v1"``). Thin: the logic is
:class:`~servekit.protocols.kserve_v1.KServeV1Codec`; errors are answered ``{"error":
"message"}`` by the one lifecycle, with the same codes counted.

``GET /v1/models`` (the names served), ``GET /v1/models/<name>`` (readiness),
``POST /v1/models/<name>:predict`` and ``:explain`` (not offered: 501, as KServe answers a
model without an explainer). The server serves one model, under its name and under
``SERVEKIT_MODEL_ID``; any other is 404. Predictions run under the request deadline
(``run``), as on ``/model``; the body limit is ``SERVEKIT_MAX_BODY_BYTES``. The body is
read whatever its Content-Type says (``curl -d`` declares a form).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request

from servekit import errors
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.predictions import not_ready
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics
from servekit.protocols.kserve_v1 import KServeV1Codec

__all__ = ["views"]

_JSON = "application/json"


def views(
    state: ServerState, telemetry: ServerMetrics, run: Runner, model_id: str = ""
) -> dict[str, Any]:
    """The views, by endpoint. ``model_id``: ``SERVEKIT_MODEL_ID``, another name the
    model answers to."""
    made: list[KServeV1Codec] = []

    def codec() -> KServeV1Codec:
        plane = state.dataplane
        if plane is None:
            raise not_ready(state)
        if not made or made[0].plane is not plane:
            made[:] = [KServeV1Codec(plane)]
        return made[0]

    def served(name: str) -> KServeV1Codec:
        found = codec()
        found.served(name, model_id)
        return found

    def models() -> Response:
        return Response(orjson.dumps({"models": codec().names(model_id)}), mimetype=_JSON)

    def ready(name: str) -> Response:
        served(name)
        return Response(orjson.dumps({"name": name, "ready": True}), mimetype=_JSON)

    def predict(name: str) -> Response:
        found = served(name)
        body = request.get_data(cache=False)  # over SERVEKIT_MAX_BODY_BYTES: 413
        rid: str = request.environ[REQUEST_ID]
        answer = run(lambda: found.predict(body, rid))
        telemetry.model_seconds.observe(answer.model_seconds)
        return Response(answer.body, mimetype=_JSON)

    def explain(name: str) -> Response:
        served(name)
        raise errors.NotImplementedHere(
            f"model {name!r} has no explainer: servekit serves predictions only "
            f"(POST /v1/models/{name}:predict)"
        )

    return {
        "v1_models": models,
        "v1_model_ready": ready,
        "v1_predict": predict,
        "v1_explain": explain,
    }
