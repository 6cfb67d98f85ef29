"""The prediction route's pieces, shared by the Flask app and its WSGI fast path.

Predictions are the hot path, so ``POST /model`` and ``POST /models/<id>/<version>/model``
are answered by :class:`PredictionPath`, a WSGI layer in front of Flask that skips
Flask's per-request context, routing and hooks (about half the cost of a request).
Everything else (probes, metrics, errors like 405, the other methods) goes to Flask.
Both paths use the same three pieces, so neither re-implements the other:

- :class:`Gate`: header size and access token, checked before anything else;
- :class:`Predictions`: readiness, content type, body limit, deadline, data plane;
- :class:`Recorder`: metrics, error counts and the access line for an answer.
"""

from __future__ import annotations

import http
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from servekit import errors
from servekit.core.runner import Runner
from servekit.http.auth import Authenticator
from servekit.http.front import FRONT_ERROR_VAR, MAX_HEADER_BYTES
from servekit.http.state import ServerState
from servekit.logs import AccessLog, request_id_var
from servekit.metrics.server import ServerMetrics
from servekit.protocols.domino import DominoCodec, encode_error

__all__ = [
    "MAX_HEADER_BYTES",
    "Gate",
    "PredictionPath",
    "Predictions",
    "Recorder",
    "read_body",
    "request_id",
    "require_json",
]

log = logging.getLogger("servekit.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_PREDICT_PATH = re.compile(r"/models/[^/]+/[^/]+/model")
_JSON = "application/json"
StartResponse = Callable[..., Any]


def request_id(environ: dict[str, Any]) -> str:
    """The caller's ``X-Request-ID`` when it is safe to echo, else a new random id."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


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


@dataclass
class Gate:
    """Checks every request meets before its route runs."""

    authenticator: Authenticator
    telemetry: ServerMetrics

    def admit(self, environ: dict[str, Any], protected: bool) -> None:
        """Raise HeadersTooLarge or (for a protected route) Unauthorized."""
        size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                size += len(key) + len(value)
        if size > MAX_HEADER_BYTES:
            raise errors.HeadersTooLarge(
                f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
            )
        if (
            protected
            and self.authenticator.enabled
            and not self.authenticator.allows(environ.get("HTTP_AUTHORIZATION"))
        ):
            self.telemetry.auth_failures.inc()
            raise errors.Unauthorized()


@dataclass
class Predictions:
    """One prediction from a WSGI environ: the response body, or a ServekitError."""

    state: ServerState
    telemetry: ServerMetrics
    max_body_bytes: int
    run: Runner
    _codec: DominoCodec | None = None

    def answer(self, environ: dict[str, Any], request_id: str) -> bytes:
        """Check readiness, content type and length; run the data plane under the deadline."""
        plane = self.state.dataplane
        if plane is None:  # while draining, predictions are still served
            raise not_ready(self.state)
        require_json(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise errors.BadRequest("the Content-Length header is not a number") from None
        if length > self.max_body_bytes:
            raise errors.PayloadTooLarge(
                f"the request body is larger than the limit of "
                f"{self.max_body_bytes} bytes (SERVEKIT_MAX_BODY_BYTES)"
            )
        body = read_body(environ, length)
        codec = self._codec
        if codec is None or codec.plane is not plane:
            codec = self._codec = DominoCodec(plane)
        answer = self.run(lambda: codec.predict(body, request_id))
        self.telemetry.model_seconds.observe(answer.model_seconds)
        return answer.body


@dataclass
class Recorder:
    """Metrics and the access line for every answered request."""

    telemetry: ServerMetrics
    access_log: AccessLog
    release_fields: dict[str, str]

    def answered(
        self,
        request_id: str,
        method: str,
        route: str,
        code: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        """Record one answer."""
        self.telemetry.observe(route, code, seconds, bytes_in, bytes_out)
        self.access_log.request(
            {
                "request_id": request_id,
                "method": method,
                "route": route,
                "code": code,
                "duration_ms": round(seconds * 1000, 3),
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                **self.release_fields,
            }
        )


class PredictionPath:
    """WSGI: answers POSTs to the prediction routes; hands everything else to ``app``."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        gate: Gate,
        predictions: Predictions,
        recorder: Recorder,
        metrics_port: str,
    ) -> None:
        self.app = app
        self.gate = gate
        self.predictions = predictions
        self.recorder = recorder
        self.metrics_port = metrics_port

    def route(self, environ: dict[str, Any]) -> str | None:
        """The prediction route template this request is for, if it is one we answer."""
        if environ.get("REQUEST_METHOD") != "POST" or FRONT_ERROR_VAR in environ:
            return None
        if self.metrics_port and environ.get("SERVER_PORT") == self.metrics_port:
            return None
        path = environ.get("PATH_INFO", "")
        if path == "/model":
            return "/model"
        return "/models/<model_id>/<version>/model" if _PREDICT_PATH.fullmatch(path) else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = self.route(environ)
        if route is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        rid = request_id(environ)
        token = request_id_var.set(rid)
        telemetry = self.recorder.telemetry
        telemetry.inflight.inc()
        try:
            status, headers, body = 200, {}, self._answer(environ, rid)
        except errors.ServekitError as error:
            status, headers, body = error.status, error.headers, encode_error(error, rid)
            telemetry.error(error.code)
        except Exception as exc:  # a bug: never a traceback to the client
            log.error("unhandled error", exc_info=exc, extra={"request_id": rid})
            internal = errors.ServekitError("internal error; see the server log")
            status, headers, body = internal.status, {}, encode_error(internal, rid)
            telemetry.error(internal.code)
        finally:
            telemetry.inflight.dec()
            request_id_var.reset(token)
        start_response(
            f"{status} {http.HTTPStatus(status).phrase}",
            [
                ("Content-Type", _JSON),
                ("Content-Length", str(len(body))),
                ("X-Request-ID", rid),
                *headers.items(),
            ],
        )
        try:
            bytes_in = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            bytes_in = 0
        self.recorder.answered(
            rid, "POST", route, status, time.perf_counter() - started, bytes_in, len(body)
        )
        return [body]

    def _answer(self, environ: dict[str, Any], rid: str) -> bytes:
        self.gate.admit(environ, protected=True)
        return self.predictions.answer(environ, rid)
