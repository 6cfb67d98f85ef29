"""The Flask app factory: routes, the one error mapping, request ids and the access log.

Routes are thin: a prediction route hands the body to the data plane and writes back
what it returns. Every error, servekit's own or Flask's (404, 405, 413), goes through
:func:`_error_response` into the one error envelope.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from servekit import errors
from servekit.auth import build_authenticator
from servekit.core.envelope import encode_error
from servekit.http.state import ServerState
from servekit.settings import Settings

__all__ = ["create_app"]

access_log = logging.getLogger("servekit.access")
log = logging.getLogger("servekit.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON = "application/json"
_PREDICT_ROUTES = ("/model", "/models/<model_id>/<version>/model")
_LIVE_ROUTES = ("/healthz", "/v2/health/live")
_READY_ROUTES = ("/readyz", "/v2/health/ready")


def create_app(settings: Settings, state: ServerState) -> Flask:
    """A Flask app serving ``state``'s data plane under ``settings``."""
    app = Flask("servekit")
    authenticator = build_authenticator(settings.access_tokens, settings.access_tokens_file)
    protected = set(_PREDICT_ROUTES) if authenticator.enabled else set()
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def predict(**_: str) -> Response:
        plane = state.dataplane
        if plane is None or state.draining:
            raise _not_ready(state)
        mimetype = request.mimetype
        if mimetype and mimetype != _JSON and not mimetype.endswith("+json"):
            raise errors.UnsupportedMediaType(
                f"send the body as JSON (Content-Type: application/json), not {mimetype}"
            )
        answer = plane.predict(request.get_data(cache=False), g.request_id)
        return Response(answer.body, 200, mimetype=_JSON)

    for rule in _PREDICT_ROUTES:
        app.add_url_rule(rule, rule, predict, methods=["POST"])

    def healthz() -> Response:
        return _json({"status": "alive"})

    def readyz() -> Response:
        plane = state.dataplane
        if plane is None or state.draining:
            raise _not_ready(state)
        return _json(
            {
                "status": "ready",
                "model": plane.release.to_dict(),
                "runtime": plane.runtime.details(),
            }
        )

    for rule in _LIVE_ROUTES:
        app.add_url_rule(rule, rule, healthz, methods=["GET"])
    for rule in _READY_ROUTES:
        app.add_url_rule(rule, rule, readyz, methods=["GET"])

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        if request.endpoint in protected and not authenticator.allows(
            request.headers.get("Authorization")
        ):
            raise errors.Unauthorized()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = getattr(g, "request_id", "")
        response.headers["X-Request-ID"] = request_id
        rule = request.url_rule
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": rule.rule if rule is not None else "<unmatched>",
                "code": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", 0.0)) * 1000, 3),
                "bytes_in": request.content_length or 0,
                "bytes_out": response.content_length or 0,
            },
        )
        return response

    app.register_error_handler(Exception, _error_response)
    return app


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(document), status, mimetype=_JSON)


def _not_ready(state: ServerState) -> errors.NotReady:
    why = "the server is draining" if state.draining else "the model is not loaded yet"
    return errors.NotReady(f"not ready: {why}", headers={"Retry-After": "1"})


def _error_response(exc: Exception) -> Response:
    """The one place where an exception becomes an HTTP response."""
    error = exc if isinstance(exc, errors.ServekitError) else _translate(exc)
    if type(error) is errors.ServekitError:
        log.error("unhandled error", exc_info=exc, extra={"request_id": g.get("request_id")})
    response = Response(encode_error(error, g.get("request_id", "")), error.status, mimetype=_JSON)
    response.headers.update(error.headers)
    return response


def _translate(exc: Exception) -> errors.ServekitError:
    if not isinstance(exc, HTTPException):
        return errors.ServekitError("internal error; see the server log")
    code = exc.code or 500
    if code == 404:
        return errors.NotFound(
            f"no route for {request.method} {request.path}; predictions go to POST /model "
            "or POST /models/<model_id>/<version>/model"
        )
    if code == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        return errors.MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    if code == 413:
        limit = request.max_content_length
        return errors.PayloadTooLarge(
            f"the request body is larger than the limit of {limit} bytes (SERVEKIT_MAX_BODY_BYTES)"
        )
    if code == 415:
        return errors.UnsupportedMediaType(exc.description or "unsupported media type")
    if 400 <= code < 500:
        return errors.BadRequest(exc.description or "bad request")
    return errors.ServekitError(exc.description or "internal error")
