"""Seldon Core v1's REST routes on the same server. Thin: the logic is
:class:`~servekit.protocols.seldon.codec.SeldonCodec`; errors are answered in Seldon's envelope by
the app's one handler (:func:`error_response`), with the same codes counted.

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
from flask import Flask, Response, g, request

from servekit import errors
from servekit.core.runner import Runner
from servekit.http.openapi.parts import SCHEMAS
from servekit.metrics.seldon import UserMetrics
from servekit.metrics.server import ServerMetrics
from servekit.protocols.seldon.codec import SeldonAnswer, SeldonCodec
from servekit.protocols.seldon.message import seldon_error

__all__ = ["PROTECTED", "SELDON_ROUTES", "error_response", "register"]

PREDICT = ("/api/v1.0/predictions", "/api/v0.1/predictions", "/predict")
FEEDBACK = ("/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback")
STATUS = ("/health/status", "/api/v1.0/health/status")
METADATA = ("/metadata", "/api/v1.0/metadata")
PROTECTED = (*PREDICT, *FEEDBACK, *STATUS)
"""Seldon routes that need an access token, like predictions."""
SELDON_ROUTES = frozenset((*PROTECTED, *STATUS, *METADATA, "/health/ping", "/seldon.json"))
"""Routes whose errors are answered in Seldon's envelope."""
_JSON = "application/json"


def error_response(error: errors.ServekitError) -> Response:
    """A ServekitError in Seldon's envelope, with its own headers."""
    status, body = seldon_error(error)
    response = Response(orjson.dumps(body), status, mimetype=_JSON)
    response.headers.update(error.headers)
    return response


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


def register(
    app: Flask,
    seldon: SeldonCodec | None,
    metrics: UserMetrics,
    telemetry: ServerMetrics,
    run: Runner,
) -> None:
    """Add Seldon's routes to ``app``; with ``seldon`` None (no model yet) they are 503.
    Predictions, feedback and a class's ``health_status()`` run under ``run`` (the request
    deadline), as on ``/model``, and their time counts as model time."""

    def plane() -> SeldonCodec:
        if seldon is None:
            raise errors.NotReady("not ready: the model is not loaded yet")
        return seldon

    def answer(found: SeldonAnswer, method: str) -> Response:
        if found.metrics:
            metrics.record(found.metrics, method)
        body = plane().plane.encode_result(found.body, g.request_id)
        return Response(body, found.status, mimetype=_JSON)

    def timed(call: Callable[[Any, str], SeldonAnswer]) -> SeldonAnswer:
        document = _message()
        started = time.perf_counter()
        request_id = g.request_id
        found = run(lambda: call(document, request_id))
        telemetry.model_seconds.observe(time.perf_counter() - started)
        return found

    def predict() -> Response:
        return answer(timed(plane().predict), "predict")

    def feedback() -> Response:
        return answer(timed(plane().feedback), "feedback")

    def status() -> Response:
        seldon, request_id = plane(), g.request_id
        return answer(run(lambda: seldon.health(request_id)), "health")

    def metadata() -> Response:
        return Response(orjson.dumps(plane().metadata(g.request_id)), mimetype=_JSON)

    def ping() -> Response:
        return Response("pong", mimetype="text/plain")

    def openapi() -> Response:
        return Response(orjson.dumps(_OPENAPI), mimetype=_JSON)

    routes: list[tuple[tuple[str, ...], Any, list[str]]] = [
        (PREDICT, predict, ["POST"]),
        (FEEDBACK, feedback, ["POST"]),
        (STATUS, status, ["GET"]),
        (METADATA, metadata, ["GET"]),
        (("/health/ping",), ping, ["GET"]),
        (("/seldon.json",), openapi, ["GET"]),
    ]
    for rules, view, methods in routes:
        for rule in rules:
            chosen = ["GET", "POST"] if rule == "/predict" else methods
            app.add_url_rule(rule, rule, view, methods=chosen)


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
        for path in PREDICT
    },
    "components": {"schemas": {"SeldonMessage": SCHEMAS["SeldonMessage"]}},
}
