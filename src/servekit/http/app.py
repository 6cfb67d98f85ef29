"""The Flask app factory: routes, request ids, access tokens, metrics and the access log.

Routes are thin: a prediction route hands the body to the data plane and writes back
what it returns. Every error, servekit's own or Flask's (404, 405, 413), goes through
one handler into the one error envelope, and is counted by its code.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Flask, Request, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.registry import Collector
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RoutingException

from servekit import errors, metrics
from servekit._version import __version__
from servekit.core.runner import Runner, call_now
from servekit.http import async_routes, seldon_routes, tester
from servekit.http.auth import build_authenticator
from servekit.http.errors import error_response, to_servekit_error
from servekit.http.front import front_error
from servekit.http.openapi import routes as openapi_routes
from servekit.http.predictions import (
    Gate,
    PredictionPath,
    Predictions,
    Recorder,
    not_ready,
    request_id,
)
from servekit.http.state import ServerState
from servekit.jobs.config import job_store
from servekit.jobs.service import AsyncPredictions
from servekit.logs import AccessLog, request_id_var
from servekit.metrics.jobs import JobMetrics, QueueDepth
from servekit.metrics.seldon import UserMetrics
from servekit.metrics.server import ServerMetrics, exposition
from servekit.protocols.seldon.codec import SeldonCodec
from servekit.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger("servekit.http")

_JSON = "application/json"
_PREDICT_ROUTES = ("/model", "/models/<model_id>/<version>/model")
_LIVE_ROUTES = ("/healthz", "/v2/health/live")
_READY_ROUTES = ("/readyz", "/v2/health/ready")
_METRICS_ROUTE = "/metrics"
_UNMATCHED = "<unmatched>"
_PROTECTED = frozenset((*_PREDICT_ROUTES, *async_routes.ASYNC_ROUTES, *seldon_routes.PROTECTED))


def create_app(
    settings: Settings,
    state: ServerState,
    registry: CollectorRegistry | None = None,
    run: Runner = call_now,
) -> Flask:
    """A Flask app serving ``state``'s data plane under ``settings``.

    ``registry`` receives servekit's metrics (a fresh one when None); in multi-process
    mode ``/metrics`` reads every worker's values instead. ``run`` calls every
    prediction (uWSGI's entry point passes a request deadline's). Predictions are answered
    by a :class:`~servekit.http.predictions.PredictionPath` in front of Flask.
    """
    app = Flask("servekit")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    server_registry = registry if registry is not None else CollectorRegistry()
    telemetry = ServerMetrics(server_registry)
    release_fields: dict[str, str] = {}
    if state.dataplane is not None:
        release = state.dataplane.release
        release_fields = {"model_name": release.model_name, "model_version": release.model_version}
        telemetry.build_info.labels(__version__, release.model_name, release.model_version).set(1)
        telemetry.load_seconds.set(state.dataplane.load_seconds)
    gate = Gate(build_authenticator(settings.access_tokens, settings.access_tokens_file), telemetry)
    predictions = Predictions(state, telemetry, settings.max_body_bytes, run)
    recorder = Recorder(
        telemetry, AccessLog(settings.log_format, settings.log_level), release_fields
    )
    metrics_port = str(settings.metrics_port) if settings.metrics_port else ""
    jobs, live = _async_predictions(settings, state, server_registry)

    def predict(**_: str) -> Response:  # PredictionPath answers first; same code either way
        body = predictions.answer(request.environ, g.request_id)
        return Response(body, 200, mimetype=_JSON)

    def healthz() -> Response:
        return _json({"status": "alive"})

    def readyz() -> Response:
        plane = state.dataplane
        if plane is None or state.draining:
            raise not_ready(state)
        return _json(
            {
                "status": "ready",
                "model": plane.release.to_dict(),
                "runtime": plane.runtime.details(),
            }
        )

    def metrics_view() -> Response:
        extra = [metrics.registry()] if metrics.created() else []
        return Response(
            exposition(server_registry, *extra, live=live, lost=telemetry.lost),
            mimetype=CONTENT_TYPE_LATEST,
        )

    for rules, view, method in (
        (_PREDICT_ROUTES, predict, "POST"),
        (_LIVE_ROUTES, healthz, "GET"),
        (_READY_ROUTES, readyz, "GET"),
        ((_METRICS_ROUTE,), metrics_view, "GET"),
    ):
        for rule in rules:
            app.add_url_rule(rule, rule, view, methods=[method])
    async_routes.register(app, jobs)
    seldon = SeldonCodec(state.dataplane) if state.dataplane is not None else None
    seldon_routes.register(app, seldon, UserMetrics(server_registry), telemetry, run)
    openapi_routes.register(app, settings, state)
    tester.register(app, settings, state)

    # The hooks run on every request Flask answers: each resolves Flask's proxies once.
    @app.before_request
    def start() -> None:
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        ctx.started = time.perf_counter()
        environ = req.environ
        ctx.request_id = request_id(environ)
        ctx.request_id_token = request_id_var.set(ctx.request_id)
        telemetry.inflight.inc()
        ctx.inflight = True
        found = front_error(environ, settings)
        if found is not None:
            raise found
        endpoint = req.endpoint
        gate.admit(environ, protected=endpoint in _PROTECTED)
        if metrics_port and (environ.get("SERVER_PORT") == metrics_port) != (
            endpoint == _METRICS_ROUTE
        ):
            raise errors.NotFound(f"{req.path} is not served on this port")

    @app.after_request
    def finish(response: Response) -> Response:
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        rid = getattr(ctx, "request_id", "")
        response.headers["X-Request-ID"] = rid
        now = time.perf_counter()
        recorder.answered(
            rid,
            req.method,
            _route(app, req),
            response.status_code,
            now - getattr(ctx, "started", now),
            req.content_length or 0,
            response.content_length or 0,
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
        if request.path in seldon_routes.SELDON_ROUTES:  # 405s have no url_rule
            return seldon_routes.error_response(error)
        return error_response(error, g.get("request_id", ""))

    app.register_error_handler(Exception, handle)
    app.wsgi_app = PredictionPath(  # type: ignore[method-assign]
        app.wsgi_app, gate, predictions, recorder, metrics_port
    )
    return app


def _async_predictions(
    settings: Settings, state: ServerState, registry: CollectorRegistry
) -> tuple[AsyncPredictions | None, list[Collector]]:
    """The async API's service (None when it is off) and the collectors read at scrape."""
    plane = state.dataplane
    if not settings.async_enabled or plane is None:
        return None, []
    store = job_store(settings, plane.release)
    jobs = AsyncPredictions(plane, store, settings.async_max_body_bytes, JobMetrics(registry))
    return jobs, [QueueDepth(store)]


def _route(app: Flask, req: Request) -> str:
    """The route template a request was answered under, for metrics and the access log.

    A 405 has no ``url_rule`` (Flask matched the path, not the method), so its rule is
    looked up again with a method it allows: ``GET /model`` counts under ``/model``. Only
    that error path pays for the second match. A 404 stays ``<unmatched>``: the paths
    clients make up must never become label values.
    """
    rule = req.url_rule
    if rule is not None:
        return rule.rule
    refused = req.routing_exception
    if isinstance(refused, MethodNotAllowed) and refused.valid_methods:
        try:
            adapter = app.create_url_adapter(req)
            if adapter is not None:
                method = next(iter(refused.valid_methods))
                found, _ = adapter.match(method=method, return_rule=True)
                return found.rule
        except (HTTPException, RoutingException):
            pass
    return _UNMATCHED


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(document), status, mimetype=_JSON)
