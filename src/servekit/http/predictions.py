"""Domino's synchronous prediction view, ``POST /model`` and ``POST
/models/<model_id>/<version>/model``: readiness, content type, body limit, the deadline,
then :class:`~servekit.protocols.domino.DominoCodec`. A fast route: the lifecycle
(:mod:`servekit.http.lifecycle`) calls :meth:`Predictions.answer` itself, in front of
Flask. The request helpers here serve the asynchronous routes too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from servekit import errors
from servekit.core.release import Release
from servekit.core.runner import Runner
from servekit.http.lifecycle import REQUEST_ID
from servekit.http.state import ServerState
from servekit.metrics.server import ServerMetrics
from servekit.protocols.domino import DominoCodec

__all__ = [
    "Predictions",
    "check_model_path",
    "limited_body",
    "not_ready",
    "read_body",
    "require_json",
]

log = logging.getLogger("servekit.http")

_JSON = "application/json"


def not_ready(state: ServerState) -> errors.NotReady:
    """The 503 for a model not loaded yet (or, on /readyz, a draining server)."""
    why = "the server is draining" if state.draining else "the model is not loaded yet"
    return errors.NotReady(f"not ready: {why}", headers={"Retry-After": "1"})


def require_json(environ: dict[str, Any]) -> None:
    """UnsupportedMediaType for a body declared as anything but JSON (none is fine)."""
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if mimetype and mimetype != _JSON and not mimetype.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"send the body as JSON (Content-Type: application/json), not {mimetype}"
        )


def read_body(environ: dict[str, Any], length: int) -> bytes:
    """Exactly ``length`` bytes of body, or BadRequest when the client stopped sending
    (a Content-Length larger than the body, a connection closed mid-body)."""
    if length <= 0:
        return b""
    stream = environ["wsgi.input"]
    parts: list[bytes] = []
    got = 0
    try:
        while got < length:
            part = stream.read(length - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except OSError:
        pass  # uWSGI: the client went away, or sent nothing more within its socket timeout
    if got < length:
        raise errors.BadRequest(
            f"the request body ended after {got} of the {length} bytes its Content-Length "
            "announced: the client stopped sending"
        )
    return parts[0] if len(parts) == 1 else b"".join(parts)


def limited_body(environ: dict[str, Any], limit: int) -> bytes:
    """The body its Content-Length announces: BadRequest for a Content-Length that is not
    a number, PayloadTooLarge over ``limit`` (``SERVEKIT_MAX_BODY_BYTES``)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise errors.BadRequest("the Content-Length header is not a number") from None
    if length > limit:
        raise errors.PayloadTooLarge(
            f"the request body is larger than the limit of {limit} bytes (SERVEKIT_MAX_BODY_BYTES)"
        )
    return read_body(environ, length)


def check_model_path(path: str, release: Release, model_id: str) -> None:
    """NotFound unless ``/models/<id>/<version>/model`` names what this server serves:
    the version ``latest`` or its own, and (with ``model_id`` set) that id or the model's
    name; any id without it (Domino's ids are opaque). ``/model`` always passes."""
    if path == "/model":
        return
    _, _, given_id, version, _ = path.split("/", 4)
    served = release.model_version
    if version not in ("latest", served):
        raise errors.NotFound(
            f"this server serves version {served!r} of model {release.model_name!r}, not "
            f"{version!r}: use /models/{given_id}/{served}/model or "
            f"/models/{given_id}/latest/model"
        )
    if model_id and given_id not in (model_id, release.model_name):
        raise errors.NotFound(
            f"this server serves model {model_id!r} ({release.model_name}), not {given_id!r}"
        )


@dataclass
class Predictions:
    """One prediction from a WSGI environ: the response body, or a ServekitError."""

    state: ServerState
    telemetry: ServerMetrics
    max_body_bytes: int
    run: Runner
    model_id: str = ""
    """``SERVEKIT_MODEL_ID`` (:func:`check_model_path`)."""
    _codec: DominoCodec | None = None

    def answer(self, environ: dict[str, Any], request_id: str) -> bytes:
        """Check readiness, content type and length; run the data plane under the deadline."""
        plane = self.state.dataplane
        if plane is None:  # while draining, predictions are still served
            raise not_ready(self.state)
        check_model_path(environ.get("PATH_INFO", ""), plane.release, self.model_id)
        require_json(environ)
        body = limited_body(environ, self.max_body_bytes)
        codec = self._codec
        if codec is None or codec.plane is not plane:
            codec = self._codec = DominoCodec(plane)
        answer = self.run(lambda: codec.predict(body, request_id))
        self.telemetry.model_seconds.observe(answer.model_seconds)
        return answer.body

    def view(self, **_: str) -> Response:
        """The same answer as a Flask view (for a request the fast path passed on)."""
        environ = request.environ
        return Response(self.answer(environ, environ[REQUEST_ID]), 200, mimetype=_JSON)
