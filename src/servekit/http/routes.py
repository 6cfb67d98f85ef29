"""The one route table: every route the server answers, declared once.

Flask's URL rules, the lifecycle's fast path, the set of routes that need an access
token, the error envelope of each route and the paths of the OpenAPI document are all
derived from :data:`ROUTES`; a test checks that the served URL map and the documented
paths are the same. Adding a protocol means adding its rows here (and its views and
codec): nothing else lists paths. I/O-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "DOMINO",
    "KSERVE_V1",
    "MLFLOW",
    "ROUTES",
    "SELDON",
    "V2",
    "Route",
    "fast_matcher",
    "fast_routes",
    "openapi_path",
    "routes_for",
]

DOMINO, SELDON, V2 = "domino", "seldon", "v2"
"""The error envelopes: servekit's own (Domino's), Seldon's and the Open Inference
Protocol's (``{"error": "message"}``)."""
KSERVE_V1 = "kserve_v1"
"""KServe V1's error envelope: ``{"error": "message"}``, with KServe's status codes."""
MLFLOW = "mlflow"
"""MLflow's scoring server's: ``{"error_code": "BAD_REQUEST", "message": ...}``, with
MLflow's status codes (a 415 in plain text)."""


@dataclass(frozen=True)
class Route:
    """One route: a Flask rule with its methods, the view (``endpoint``) answering it,
    and how the server treats it."""

    path: str
    """Flask's rule (``/models/<model_id>/<version>/model``)."""
    methods: tuple[str, ...]
    endpoint: str
    """The name of the view that answers it (see ``views`` in the modules of
    :mod:`servekit.http`)."""
    protected: bool = False
    """Needs an access token when tokens are configured."""
    envelope: str = DOMINO
    """The shape of its errors: :data:`DOMINO`, :data:`SELDON`, :data:`V2`,
    :data:`KSERVE_V1` or :data:`MLFLOW`."""
    fast: bool = False
    """A ``POST`` answered by the lifecycle's fast path, in front of Flask."""
    operation: str = ""
    """The OpenAPI operation that documents it (:mod:`servekit.http.openapi.document`)."""
    only: str = ""
    """A feature it is documented with: ``async`` (when asynchronous predictions are on),
    ``capture`` (when predictions are captured), ``metrics`` (when ``/metrics`` is on
    the main port) or ``mlflow`` (when the model is served by the MLflow runtime: 404
    otherwise); always when empty."""


def _each(
    paths: tuple[str, ...], methods: tuple[str, ...], endpoint: str, **how: object
) -> Iterator[Route]:
    for path in paths:
        yield Route(path, methods, endpoint, **how)  # type: ignore[arg-type]


_POST, _GET = ("POST",), ("GET",)
ROUTES: tuple[Route, ...] = (
    # Domino's envelope: synchronous predictions, then the asynchronous API.
    *_each(
        ("/model", "/models/<model_id>/<version>/model"),
        _POST,
        "predict",
        protected=True,
        fast=True,
        operation="prediction",
    ),
    *_each(
        ("/ground-truth", "/models/<model_id>/<version>/ground-truth"),
        _POST,
        "ground_truth",
        protected=True,
        operation="ground_truth",
        only="capture",
    ),
    *_each(
        ("/api/modelApis/async/v1/<model_id>", "/async"),
        _POST,
        "async_submit",
        protected=True,
        operation="async_submit",
        only="async",
    ),
    *_each(
        ("/api/modelApis/async/v1/<model_id>/<job_id>", "/async/<job_id>"),
        _GET,
        "async_status",
        protected=True,
        operation="async_status",
        only="async",
    ),
    # Seldon Core v1's protocol.
    *_each(
        ("/api/v1.0/predictions", "/api/v0.1/predictions"),
        _POST,
        "seldon_predict",
        protected=True,
        envelope=SELDON,
        operation="seldon_predict",
    ),
    Route(
        "/predict",
        ("GET", "POST"),
        "seldon_predict",
        protected=True,
        envelope=SELDON,
        operation="seldon_predict",
    ),
    *_each(
        ("/api/v1.0/feedback", "/api/v0.1/feedback", "/send-feedback"),
        _POST,
        "seldon_feedback",
        protected=True,
        envelope=SELDON,
        operation="seldon_feedback",
    ),
    *_each(
        ("/health/status", "/api/v1.0/health/status"),
        _GET,
        "seldon_status",
        protected=True,
        envelope=SELDON,
        operation="seldon_status",
    ),
    *_each(
        ("/metadata", "/api/v1.0/metadata"),
        _GET,
        "seldon_metadata",
        envelope=SELDON,
        operation="seldon_metadata",
    ),
    Route("/health/ping", _GET, "seldon_ping", envelope=SELDON, operation="seldon_ping"),
    Route("/seldon.json", _GET, "seldon_openapi", envelope=SELDON, operation="seldon_openapi"),
    # The Open Inference Protocol (KServe/Triton "V2") over REST. Inference needs a token;
    # server and model metadata and model readiness do not, as /readyz and Seldon's
    # /metadata do not (/openapi.json describes the same inputs). Inference is fast, as
    # /model is (its view returns a binary answer's own headers).
    Route("/v2", _GET, "v2_server", envelope=V2, operation="v2_server"),
    *_each(
        ("/v2/models/<name>", "/v2/models/<name>/versions/<version>"),
        _GET,
        "v2_model",
        envelope=V2,
        operation="v2_model",
    ),
    *_each(
        ("/v2/models/<name>/ready", "/v2/models/<name>/versions/<version>/ready"),
        _GET,
        "v2_model_ready",
        envelope=V2,
        operation="v2_model_ready",
    ),
    *_each(
        ("/v2/models/<name>/infer", "/v2/models/<name>/versions/<version>/infer"),
        _POST,
        "v2_infer",
        protected=True,
        envelope=V2,
        fast=True,
        operation="v2_infer",
    ),
    # KServe's V1 protocol (TensorFlow Serving's REST API). Predict and explain need a
    # token; the model list and readiness do not, as V2's metadata does not.
    Route("/v1/models", _GET, "v1_models", envelope=KSERVE_V1, operation="v1_models"),
    Route(
        "/v1/models/<name>",
        _GET,
        "v1_model_ready",
        envelope=KSERVE_V1,
        operation="v1_model_ready",
    ),
    *(
        Route(
            f"/v1/models/<name>:{verb}",
            _POST,
            f"v1_{verb}",
            protected=True,
            envelope=KSERVE_V1,
            operation=f"v1_{verb}",
        )
        for verb in ("predict", "explain")
    ),
    # MLflow's scoring server (`mlflow models serve`), for MLflow models only. Scoring
    # needs a token, as /model does, and is fast; its probes and version do not.
    Route(
        "/invocations",
        _POST,
        "mlflow_invocations",
        protected=True,
        envelope=MLFLOW,
        fast=True,
        operation="mlflow_invocations",
        only="mlflow",
    ),
    *_each(
        ("/ping", "/health"),
        _GET,
        "mlflow_ping",
        envelope=MLFLOW,
        operation="mlflow_ping",
        only="mlflow",
    ),
    Route(
        "/version",
        _GET,
        "mlflow_version",
        envelope=MLFLOW,
        operation="mlflow_version",
        only="mlflow",
    ),
    # Probes, metrics, the documents and the tester page.
    *_each(("/healthz", "/v2/health/live"), _GET, "live", operation="live"),
    *_each(("/readyz", "/v2/health/ready"), _GET, "ready", operation="ready"),
    Route("/metrics", _GET, "metrics", operation="metrics", only="metrics"),
    Route("/openapi.json", _GET, "openapi", operation="openapi"),
    Route("/", _GET, "tester", operation="tester"),
    Route("/_servekit/static/<name>", _GET, "static", operation="static"),
)


def routes_for(envelope: str | None = None) -> Iterator[Route]:
    """The routes, or those answering errors in ``envelope``."""
    return (r for r in ROUTES if envelope is None or r.envelope == envelope)


def openapi_path(route: Route) -> str:
    """The route's path as OpenAPI writes it (``{model_id}`` for ``<model_id>``)."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)


def fast_matcher(routes: tuple[Route, ...] = ROUTES) -> re.Pattern[str]:
    """One regular expression matching the paths of the fast routes; ``lastindex`` is
    the position of the route matched in :func:`fast_routes`'s order."""
    parts = [
        "("
        + re.sub(
            r"<(?:\w+:)?\w+>", "[^/]+", re.escape(r.path).replace(r"\<", "<").replace(r"\>", ">")
        )
        + ")"
        for r in fast_routes(routes)
    ]
    return re.compile("|".join(parts))


def fast_routes(routes: tuple[Route, ...] = ROUTES) -> list[Route]:
    """The routes the lifecycle answers in front of Flask."""
    return [r for r in routes if r.fast]
