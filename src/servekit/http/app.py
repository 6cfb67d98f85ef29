"""The Flask app factory: wiring only.

Every route comes from the one route table (:mod:`servekit.http.routes`), every request
passes through the one lifecycle (:mod:`servekit.http.lifecycle`), and the views live
beside their protocol's codec: Domino's in :mod:`.predictions` and :mod:`.async_routes`,
Seldon's in :mod:`.seldon_routes`, the Open Inference Protocol's in :mod:`.v2_routes`,
KServe V1's in :mod:`.v1_routes`, MLflow's scoring server's in :mod:`.mlflow_routes`,
the probes and metrics in :mod:`.probes`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, request
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RoutingException

from servekit import errors
from servekit._version import __version__
from servekit.core.runner import Runner, call_now
from servekit.http import (
    async_routes,
    ground_truth,
    mlflow_routes,
    probes,
    seldon_routes,
    tester,
    v1_routes,
    v2_routes,
)
from servekit.http.auth import build_authenticator
from servekit.http.errors import to_servekit_error
from servekit.http.front import front_error
from servekit.http.lifecycle import (
    REQUEST_ID,
    ROUTE,
    UNMATCHED,
    FastView,
    Gate,
    Lifecycle,
    Recorder,
    request_id,
)
from servekit.http.openapi import routes as openapi_routes
from servekit.http.predictions import Predictions
from servekit.http.routes import DOMINO, ROUTES
from servekit.http.state import ServerState
from servekit.jobs.config import job_store
from servekit.jobs.service import AsyncPredictions
from servekit.logs import AccessLog
from servekit.metrics.jobs import JobMetrics, QueueDepth
from servekit.metrics.seldon import UserMetrics
from servekit.metrics.server import ServerMetrics
from servekit.protocols.seldon.codec import SeldonCodec
from servekit.settings import Settings

__all__ = ["create_app"]

_PROTECTED = frozenset(r.path for r in ROUTES if r.protected)
_ENVELOPES = {r.path: r.envelope for r in ROUTES}


def create_app(
    settings: Settings,
    state: ServerState,
    registry: CollectorRegistry | None = None,
    run: Runner = call_now,
) -> Flask:
    """A Flask app serving ``state``'s data plane under ``settings``.

    ``registry`` receives servekit's metrics (a fresh one when None); in multi-process
    mode ``/metrics`` reads every worker's values instead. ``run`` calls every
    prediction (uWSGI's entry point passes a request deadline's).
    """
    app = Flask("servekit", static_folder=None)  # every route is in the table
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    registry = registry if registry is not None else CollectorRegistry()
    telemetry = ServerMetrics(registry)
    authenticator = build_authenticator(settings.access_tokens, settings.access_tokens_file)
    plane = state.dataplane
    jobs, live = _async_predictions(settings, state, registry)
    predictions = Predictions(state, telemetry, settings.max_body_bytes, run, settings.model_id)
    seldon = SeldonCodec(plane) if plane is not None else None
    v2 = v2_routes.Inference(state, telemetry, run, settings.max_body_bytes, settings.model_id)
    scoring = mlflow_routes.Scoring(state, telemetry, run, settings.max_body_bytes)
    views: dict[str, Any] = {
        "predict": predictions.view,
        **probes.views(state, registry, telemetry, live),
        **async_routes.views(jobs),
        **ground_truth.views(settings, state),
        **seldon_routes.views(seldon, UserMetrics(registry), telemetry, run),
        **v2_routes.views(v2),
        **v1_routes.views(state, telemetry, run, settings.model_id),
        **mlflow_routes.views(scoring),
        **openapi_routes.views(settings, state, authenticator.enabled),
        **tester.views(settings, state, authenticator.enabled),
    }
    for route in ROUTES:
        app.add_url_rule(route.path, route.path, views[route.endpoint], methods=route.methods)
    access = AccessLog(settings.log_format, settings.log_level)
    recorder = Recorder(telemetry, access, _release_fields(telemetry, state))
    metrics_port = str(settings.metrics_port) if settings.metrics_port else ""
    gate = Gate(authenticator, telemetry)
    fast: dict[str, FastView] = {
        "predict": predictions.answer,
        "v2_infer": v2.answer,
        "mlflow_invocations": scoring.answer,
    }
    lifecycle = Lifecycle(app.wsgi_app, gate, fast, recorder, metrics_port)
    _admit_in_flask(app, settings, gate, lifecycle, metrics_port)
    app.wsgi_app = lifecycle  # type: ignore[method-assign]
    return app


def _admit_in_flask(
    app: Flask, settings: Settings, gate: Gate, lifecycle: Lifecycle, metrics_port: str
) -> None:
    """Flask's part of the lifecycle: name the route, admit the request, and answer
    every error through :meth:`Lifecycle.error_reply` in the route's envelope."""

    @app.before_request
    def admit() -> None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        environ.setdefault(REQUEST_ID, request_id(environ))  # Flask called on its own
        route = environ[ROUTE] = _route(app, req)
        found = front_error(environ, settings)
        if found is not None:
            raise found
        # A 405 names its route, but is refused before the token is asked for.
        gate.admit(environ, protected=req.url_rule is not None and route in _PROTECTED)
        if metrics_port and (environ.get("SERVER_PORT") == metrics_port) != (route == "/metrics"):
            raise errors.NotFound(f"{req.path} is not served on this port")

    def handle(exc: Exception) -> Response:
        environ = request.environ
        route = environ.get(ROUTE) or _route(app, request)
        found = to_servekit_error(exc) if isinstance(exc, HTTPException) else exc
        envelope, rid = _ENVELOPES.get(route, DOMINO), environ.get(REQUEST_ID, "")
        status, headers, body = lifecycle.error_reply(found, envelope, rid)
        return Response(body, status, {"Content-Type": "application/json", **headers})

    app.register_error_handler(Exception, handle)


def _release_fields(telemetry: ServerMetrics, state: ServerState) -> dict[str, str]:
    """Announce what is served (``servekit_build_info``, the load time); the access
    log's fields naming it."""
    if state.dataplane is None:
        return {}
    release = state.dataplane.release
    telemetry.build_info.labels(__version__, release.model_name, release.model_version).set(1)
    telemetry.load_seconds.set(state.dataplane.load_seconds)
    return {"model_name": release.model_name, "model_version": release.model_version}


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
    return UNMATCHED
