"""Seldon Core v1's REST views on the same server (its rows in
:mod:`servekit.http.routes`). Thin: the logic is
:class:`~servekit.protocols.seldon.codec.SeldonCodec`; errors are answered in Seldon's
envelope by the one lifecycle, with the same codes counted.

Predictions at ``POST /api/v1.0/predictions``, ``/api/v0.1/predictions`` and
``/predict`` (also ``GET /predict?json=``); feedback at ``POST /api/v1.0/feedback`` and
``/send-feedback``; ``GET /health/ping`` (``pong``), ``/health/status``, ``/metadata``
(and their ``/api/v1.0/`` forms) and ``/seldon.json``. A message is read from a JSON
body, or from the form or query field ``json`` (how Seldon's own client sends it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, request

from servekit import errors
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.openapi.parts import SCHEMAS
from servekit.http.routes import ROUTES, openapi_path
from servekit.metrics.seldon import UserMetrics
from servekit.metrics.server import ServerMetrics
from servekit.protocols.seldon.codec import SeldonAnswer, SeldonCodec

__all__ = ["views"]

_JSON = "application/json"


def _message() -> Any:
    """The request's SeldonMessage: a JSON body, else the form or query field ``json``."""
    text = request.form.get("json") if request.mimetype != _JSON else None
    if text is None and request.method == "GET":
        text = request.args.get("json")
    raw = text.encode() if text is not None else request.get_data(cache=False)
    if not raw.strip():
        raise errors.BadJson("no SeldonMessage: send a JSON body or a form field json=")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.BadJson(f"the SeldonMessage is not valid JSON: {exc}") from None


def views(
    seldon: SeldonCodec | None,
    metrics: UserMetrics,
    telemetry: ServerMetrics,
    run: Runner,
) -> dict[str, Any]:
    """The views, by endpoint; with ``seldon`` None (no model yet) they are 503.
    Predictions, feedback and a class's ``health_status()`` run under ``run`` (the request
    deadline), as on ``/model``, and their time counts as model time."""

    def plane() -> SeldonCodec:
        if seldon is None:
            raise errors.NotReady("not ready: the model is not loaded yet")
        return seldon

    def rid() -> str:
        found: str = request.environ[REQUEST_ID]
        return found

    def answer(found: SeldonAnswer, method: str) -> Response:
        if found.metrics:
            metrics.record(found.metrics, method)
        body = plane().plane.encode_result(found.body, rid())
        return Response(body, found.status, mimetype=_JSON)

    def timed(call: Callable[[Any, str], SeldonAnswer]) -> SeldonAnswer:
        document = _message()
        started = time.perf_counter()
        request_id = rid()
        found = run(lambda: call(document, request_id))
        telemetry.model_seconds.observe(time.perf_counter() - started)
        return found

    def predict() -> Response:
        return answer(timed(plane().predict), "predict")

    def feedback() -> Response:
        return answer(timed(plane().feedback), "feedback")

    def status() -> Response:
        seldon, request_id = plane(), rid()
        return answer(run(lambda: seldon.health(request_id)), "health")

    def metadata() -> Response:
        return Response(orjson.dumps(plane().metadata(rid())), mimetype=_JSON)

    def ping() -> Response:
        return Response("pong", mimetype="text/plain")

    def openapi() -> Response:
        return Response(orjson.dumps(_OPENAPI), mimetype=_JSON)

    return {
        "seldon_predict": predict,
        "seldon_feedback": feedback,
        "seldon_status": status,
        "seldon_metadata": metadata,
        "seldon_ping": ping,
        "seldon_openapi": openapi,
    }


_MESSAGE_REF = {"$ref": "#/components/schemas/SeldonMessage"}
_OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Seldon Core v1 prediction API (servekit)", "version": "1.0"},
    "paths": {
        path: {
            "post": {
                "requestBody": {"content": {_JSON: {"schema": _MESSAGE_REF}}},
                "responses": {
                    "200": {
                        "description": "a SeldonMessage",
                        "content": {_JSON: {"schema": _MESSAGE_REF}},
                    }
                },
            }
        }
        for path in [openapi_path(r) for r in ROUTES if r.endpoint == "seldon_predict"]
    },
    "components": {"schemas": {"SeldonMessage": SCHEMAS["SeldonMessage"]}},
}
