"""The asynchronous API's views (Domino's paths, and short aliases; see
:mod:`servekit.http.routes`). Thin: the logic is
:class:`~servekit.jobs.service.AsyncPredictions`; errors go through the one lifecycle.

- ``POST /api/modelApis/async/v1/<model_id>`` and ``POST /async``: validate and queue;
  ``{"asyncPredictionId": ...}``. An ``Idempotency-Key`` header makes a repeat (same
  caller, same body) return the same id; the same caller's key with another body is 409
  CONFLICT. A full queue is 429 TOO_MANY_REQUESTS with ``Retry-After``.
- ``GET /api/modelApis/async/v1/<model_id>/<job_id>`` and ``GET /async/<job_id>``: the
  job's status document.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from servekit import errors
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.predictions import read_body, require_json
from servekit.jobs.service import AsyncPredictions, caller_identity

__all__ = ["views"]

_OFF = (
    "asynchronous predictions are not enabled on this server: start it with "
    "--async-workers N (SERVEKIT_ASYNC_WORKERS) or set SERVEKIT_ASYNC_STORE"
)


def views(jobs: AsyncPredictions | None) -> dict[str, Any]:
    """The views, by endpoint; with ``jobs`` None (asynchronous predictions off) 404."""

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
        answer = service.submit(body, key, request.environ[REQUEST_ID], caller)
        return Response(answer, 200, mimetype="application/json")

    def status(job_id: str, **_: str) -> Response:
        return Response(enabled().status(job_id), 200, mimetype="application/json")

    return {"async_submit": submit, "async_status": status}
