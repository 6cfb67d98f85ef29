"""The asynchronous API's routes (Domino's paths, and short aliases). Thin: the logic is
:class:`~servekit.jobs.service.AsyncPredictions`; errors go through the app's one handler.

- ``POST /api/modelApis/async/v1/<model_id>`` and ``POST /async``: validate and queue;
  ``{"asyncPredictionId": ...}``. An ``Idempotency-Key`` header makes a repeat (same
  caller, same body) return the same id; the same caller's key with another body is 409
  CONFLICT. A full queue is 429 TOO_MANY_REQUESTS with ``Retry-After``.
- ``GET /api/modelApis/async/v1/<model_id>/<job_id>`` and ``GET /async/<job_id>``: the
  job's status document.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from servekit import errors
from servekit.http.predictions import read_body, require_json
from servekit.jobs.service import AsyncPredictions, caller_identity

__all__ = ["ASYNC_ROUTES", "register"]

SUBMIT_ROUTES = ("/api/modelApis/async/v1/<model_id>", "/async")
STATUS_ROUTES = ("/api/modelApis/async/v1/<model_id>/<job_id>", "/async/<job_id>")
ASYNC_ROUTES = (*SUBMIT_ROUTES, *STATUS_ROUTES)
"""Every asynchronous route (each needs an access token, like predictions)."""
_OFF = (
    "asynchronous predictions are not enabled on this server: start it with "
    "--async-workers N (SERVEKIT_ASYNC_WORKERS) or set SERVEKIT_ASYNC_STORE"
)


def register(app: Flask, jobs: AsyncPredictions | None) -> None:
    """Add the asynchronous routes to ``app``; with ``jobs`` None they answer 404."""

    def enabled() -> AsyncPredictions:
        if jobs is None:
            raise errors.NotFound(_OFF)
        return jobs

    def submit(**_: str) -> Response:
        service = enabled()
        require_json(request.environ)
        length = request.content_length or 0
        service.check_length(length)
        body = read_body(request.environ, length)
        key = request.headers.get("Idempotency-Key")
        caller = caller_identity(request.headers.get("Authorization"))
        answer = service.submit(body, key, g.request_id, caller)
        return Response(answer, 200, mimetype="application/json")

    def status(job_id: str, **_: str) -> Response:
        return Response(enabled().status(job_id), 200, mimetype="application/json")

    for rule in SUBMIT_ROUTES:
        app.add_url_rule(rule, rule, submit, methods=["POST"])
    for rule in STATUS_ROUTES:
        app.add_url_rule(rule, rule, status, methods=["GET"])
