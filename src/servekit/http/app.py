"""The Flask app factory: routes, request ids, access tokens, metrics and the access log.

Routes are thin: a prediction route hands the body to the data plane and writes back
what it returns. Every error, servekit's own or Flask's (404, 405, 413), goes through
one handler into the one error envelope, and is counted by its code.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import orjson
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from servekit import errors, metrics
from servekit._version import __version__
from servekit.auth import build_authenticator
from servekit.http.errors import error_response, to_servekit_error
from servekit.http.state import ServerState
from servekit.logs import AccessLog, request_id_var
from servekit.settings import Settings
from servekit.telemetry import ServerMetrics, exposition

__all__ = ["create_app"]

log = logging.getLogger("servekit.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON = "application/json"
_PREDICT_ROUTES = ("/model", "/models/<model_id>/<version>/model")
_LIVE_ROUTES = ("/healthz", "/v2/health/live")
_READY_ROUTES = ("/readyz", "/v2/health/ready")
_METRICS_ROUTE = "/metrics"
MAX_HEADER_BYTES = 32 * 1024
"""Headers (with the request line) above this get 431; uWSGI's buffer allows 64 KiB."""


def create_app(
    settings: Settings,
    state: ServerState,
    registry: CollectorRegistry | None = None,
    guard: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Flask:
    """A Flask app serving ``state``'s data plane under ``settings``.

    ``registry`` receives servekit's metrics (a fresh one when None); in multi-process
    mode ``/metrics`` reads every worker's values instead. ``guard`` wraps every
    prediction (uWSGI's entry point passes a request deadline).
    """
    app = Flask("servekit")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    authenticator = build_authenticator(settings.access_tokens, settings.access_tokens_file)
    protected = set(_PREDICT_ROUTES) if authenticator.enabled else set()
    server_registry = registry if registry is not None else CollectorRegistry()
    telemetry = ServerMetrics(server_registry)
    access_log = AccessLog(settings.log_format, settings.log_level)
    release_fields: dict[str, str] = {}
    if state.dataplane is not None:
        release = state.dataplane.release
        release_fields = {"model_name": release.model_name, "model_version": release.model_version}
    if state.dataplane is not None:
        release = state.dataplane.release
        telemetry.build_info.labels(__version__, release.model_name, release.model_version).set(1)
        telemetry.load_seconds.set(state.dataplane.load_seconds)
    metrics_port = str(settings.metrics_port) if settings.metrics_port else ""

    def predict(**_: str) -> Response:
        plane = state.dataplane
        if plane is None:  # while draining, predictions are still served
            raise _not_ready(state)
        mimetype = request.mimetype
        if mimetype and mimetype != _JSON and not mimetype.endswith("+json"):
            raise errors.UnsupportedMediaType(
                f"send the body as JSON (Content-Type: application/json), not {mimetype}"
            )
        body = request.get_data(cache=False)
        with guard():
            answer = plane.predict(body, g.request_id)
        telemetry.model_seconds.observe(answer.model_seconds)
        return Response(answer.body, 200, mimetype=_JSON)

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

    def metrics_view() -> Response:
        extra = [metrics.registry()] if metrics.created() else []
        return Response(exposition(server_registry, *extra), mimetype=CONTENT_TYPE_LATEST)

    for rules, view, method in (
        (_PREDICT_ROUTES, predict, "POST"),
        (_LIVE_ROUTES, healthz, "GET"),
        (_READY_ROUTES, readyz, "GET"),
        ((_METRICS_ROUTE,), metrics_view, "GET"),
    ):
        for rule in rules:
            app.add_url_rule(rule, rule, view, methods=[method])

    # The hooks run on every request: each resolves Flask's context proxies once.
    @app.before_request
    def start() -> None:
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        ctx.started = time.perf_counter()
        environ = req.environ
        given = environ.get("HTTP_X_REQUEST_ID", "")
        ctx.request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()
        ctx.request_id_token = request_id_var.set(ctx.request_id)
        telemetry.inflight.inc()
        ctx.inflight = True
        if _header_bytes(environ) > MAX_HEADER_BYTES:
            raise errors.HeadersTooLarge(
                f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
            )
        endpoint = req.endpoint
        if metrics_port and (environ.get("SERVER_PORT") == metrics_port) != (
            endpoint == _METRICS_ROUTE
        ):
            raise errors.NotFound(f"{req.path} is not served on this port")
        if endpoint in protected and not authenticator.allows(environ.get("HTTP_AUTHORIZATION")):
            telemetry.auth_failures.inc()
            raise errors.Unauthorized()

    @app.after_request
    def finish(response: Response) -> Response:
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        request_id = getattr(ctx, "request_id", "")
        response.headers["X-Request-ID"] = request_id
        rule = req.url_rule
        route = rule.rule if rule is not None else "<unmatched>"
        now = time.perf_counter()
        seconds = now - getattr(ctx, "started", now)
        bytes_in = req.content_length or 0
        bytes_out = response.content_length or 0
        code = response.status_code
        telemetry.observe(route, code, seconds, bytes_in, bytes_out)
        access_log.request(
            {
                "request_id": request_id,
                "method": req.method,
                "route": route,
                "code": code,
                "duration_ms": round(seconds * 1000, 3),
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                **release_fields,
            }
        )
        return response

    @app.teardown_request
    def done(_: BaseException | None) -> None:
        ctx = g._get_current_object()
        if ctx.pop("inflight", False):
            telemetry.inflight.dec()
        token = ctx.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)

    def handle(exc: Exception) -> Response:
        error = to_servekit_error(exc)
        if type(error) is errors.ServekitError:
            log.error("unhandled error", exc_info=exc, extra={"request_id": g.get("request_id")})
        telemetry.error(error.code)
        return error_response(error, g.get("request_id", ""))

    app.register_error_handler(Exception, handle)
    return app


def _header_bytes(environ: dict[str, Any]) -> int:
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            size += len(key) + len(value)
    return size


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(document), status, mimetype=_JSON)


def _not_ready(state: ServerState) -> errors.NotReady:
    why = "the server is draining" if state.draining else "the model is not loaded yet"
    return errors.NotReady(f"not ready: {why}", headers={"Retry-After": "1"})
