"""MLflow's scoring server's routes (rows in :mod:`servekit.http.routes`,
``envelope="mlflow"``, ``only="mlflow"``). Thin: the logic is
:class:`~servekit.protocols.mlflow.codec.ScoringCodec`; errors are answered in MLflow's
shape by the one lifecycle, with the same codes counted.

``POST /invocations`` (scoring: a fast route, as ``/model`` is, under the request
deadline and ``SERVEKIT_MAX_BODY_BYTES``, and needing a token like ``/model``),
``GET /ping`` and ``GET /health`` (``"\\n"``, 200 once the model is loaded) and
``GET /version`` (the MLflow version serving the model). They are served only for a
model of the ``mlflow`` runtime: 404 for any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Response, request

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.predictions import limited_body, not_ready
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics

if TYPE_CHECKING:  # the codec imports pandas: built for an MLflow model only
    from servekit.protocols.mlflow.codec import ScoringCodec

__all__ = ["Scoring", "views"]

_JSON = "application/json"
_JSON_HEADERS = {"Content-Type": _JSON}
KIND = "mlflow"
"""The runtime whose models these routes serve."""


@dataclass
class Scoring:
    """``POST /invocations`` from a WSGI environ: the answer's body and headers, or a
    ServekitError."""

    state: ServerState
    telemetry: ServerMetrics
    run: Runner
    max_body_bytes: int
    _codec: ScoringCodec | None = None

    def plane(self, path: str) -> DataPlane:
        """The data plane of an MLflow model: NotReady before it is loaded, NotFound (for
        ``path``) for another kind of model."""
        plane = self.state.dataplane
        if plane is None:
            raise not_ready(self.state)
        if plane.runtime.kind != KIND:
            raise errors.NotFound(
                f"no route for {path}: MLflow's scoring protocol is served for MLflow "
                f"models only, and this server serves a {plane.runtime.kind} model"
            )
        return plane

    def answer(self, environ: dict[str, Any], request_id: str) -> tuple[bytes, dict[str, str]]:
        """Check the model and the length; score under the deadline."""
        plane = self.plane(environ.get("PATH_INFO", ""))
        content_type = environ.get("CONTENT_TYPE")
        codec = self._codec
        if codec is None or codec.plane is not plane:
            from servekit.protocols.mlflow.codec import ScoringCodec

            codec = self._codec = ScoringCodec(plane, model_metadata(plane))
        body = limited_body(environ, self.max_body_bytes)
        answer = self.run(lambda: codec.score(body, content_type, request_id))
        self.telemetry.model_seconds.observe(answer.model_seconds)
        return answer.body, _JSON_HEADERS

    def view(self) -> Response:
        """The same answer as a Flask view (for a request the fast path passed on)."""
        environ = request.environ
        body, headers = self.answer(environ, environ[REQUEST_ID])
        return Response(body, 200, headers)


def model_metadata(plane: DataPlane) -> Any:
    """The served model's ``mlflow.models.Model`` (its signature and params): the
    metadata of the MLflow runtime's ``model`` (a loaded ``PyFuncModel``)."""
    return getattr(plane.runtime, "model").metadata  # noqa: B009 (not in the Runtime protocol)


def views(scoring: Scoring) -> dict[str, Any]:
    """The views, by endpoint; scoring's is ``scoring``'s (a fast route)."""

    def ping() -> Response:
        scoring.plane(request.path)
        return Response("\n", mimetype=_JSON)

    def version() -> Response:
        scoring.plane(request.path)
        from mlflow.version import VERSION

        return Response(VERSION, mimetype=_JSON)

    return {"mlflow_invocations": scoring.view, "mlflow_ping": ping, "mlflow_version": version}
