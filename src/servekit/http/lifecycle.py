"""One request lifecycle: every request, on every route, passes through :class:`Lifecycle`.

It is the WSGI layer in front of Flask, and it alone gives each request its id (the
caller's ``X-Request-ID`` when safe to echo), the logging context, the in-flight gauge,
its timing, the ``X-Request-ID`` answer header, its metrics and its access line; every
error anywhere becomes a reply through :meth:`Lifecycle.error_reply`, in the envelope
of the route (:mod:`servekit.http.routes`).

Predictions are the hot path: a route declared ``fast`` (``/model`` and V2's infer) is
answered here, a branch that skips Flask's request context, routing and hooks (about half
the cost of a request); every other request goes on to Flask, whose hooks only admit it
(:class:`Gate`) and name its route.
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

import orjson

from servekit import errors
from servekit.http.auth import Authenticator
from servekit.http.front import FRONT_ERROR_VAR, MAX_HEADER_BYTES
from servekit.http.routes import (
    DOMINO,
    KSERVE_V1,
    MLFLOW,
    ROUTES,
    SELDON,
    V2,
    Route,
    fast_matcher,
    fast_routes,
)
from servekit.logs import AccessLog, request_id_var
from servekit.metrics.server import ServerMetrics
from servekit.protocols.domino import encode_error
from servekit.protocols.kserve_v1 import encode_error as v1_error
from servekit.protocols.mlflow import encode_error as mlflow_error
from servekit.protocols.seldon.message import seldon_error
from servekit.protocols.v2 import encode_error as v2_error

__all__ = [
    "REQUEST_ID",
    "ROUTE",
    "UNMATCHED",
    "FastView",
    "Gate",
    "Lifecycle",
    "Recorder",
    "render_error",
    "request_id",
]

log = logging.getLogger("servekit.http")

REQUEST_ID = "servekit.request_id"
"""The WSGI environ key holding the request's id (the views read it there)."""
ROUTE = "servekit.route"
"""The environ key where Flask's hook leaves the route template a request matched."""
UNMATCHED = "<unmatched>"
"""The route of a request no route matched: paths clients make up are never labels."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_JSON = "application/json"
StartResponse = Callable[..., Any]
FastView = Callable[[dict[str, Any], str], bytes | tuple[bytes, dict[str, str]]]
"""A fast route's view: the environ and the request id in; out, the 200's JSON body, or
its body and headers (a Content-Type among them: V2's binary answers)."""
_JSON_HEADERS = {"Content-Type": _JSON}


def _seldon(error: errors.ServekitError, rid: str) -> tuple[int, bytes]:
    status, document = seldon_error(error)
    return status, orjson.dumps(document)


_RENDERERS: dict[str, Callable[[errors.ServekitError, str], tuple[int, bytes]]] = {
    DOMINO: lambda error, rid: (error.status, encode_error(error, rid)),
    SELDON: _seldon,
    V2: lambda error, rid: v2_error(error),
    KSERVE_V1: lambda error, rid: v1_error(error),
    MLFLOW: lambda error, rid: mlflow_error(error),
}
"""Each envelope's status and body for an error (and the request id)."""


def render_error(error: errors.ServekitError, envelope: str, rid: str) -> tuple[int, bytes]:
    """The status and body of ``error`` in ``envelope``'s shape (a route's
    :attr:`~servekit.http.routes.Route.envelope`), as every worker answers it."""
    return _RENDERERS[envelope](error, rid)


def request_id(environ: dict[str, Any]) -> str:
    """The caller's ``X-Request-ID`` when it is safe to echo, else a new random id."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


@dataclass
class Gate:
    """Checks every request meets before its view runs."""

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


class Lifecycle:
    """WSGI: the one lifecycle around ``app`` (Flask), answering fast routes itself."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        gate: Gate,
        fast_views: dict[str, FastView],
        recorder: Recorder,
        metrics_port: str,
    ) -> None:
        self.app = app
        self.gate = gate
        self.recorder = recorder
        self.telemetry = recorder.telemetry
        self.metrics_port = metrics_port
        self._fast = fast_routes(ROUTES)
        self._views = [fast_views[route.endpoint] for route in self._fast]
        self._matcher = fast_matcher(ROUTES)

    def fast_route(self, environ: dict[str, Any]) -> int | None:
        """The index of the fast route this request is for, if it is one."""
        if environ.get("REQUEST_METHOD") != "POST" or FRONT_ERROR_VAR in environ:
            return None
        if self.metrics_port and environ.get("SERVER_PORT") == self.metrics_port:
            return None
        found = self._matcher.fullmatch(environ.get("PATH_INFO", ""))
        return None if found is None or found.lastindex is None else found.lastindex - 1

    def error_reply(
        self, exc: BaseException, envelope: str, rid: str
    ) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body answering ``exc`` in ``envelope``; counted by
        its code. Anything but a ServekitError is a bug: logged, and a plain 500."""
        error = exc if isinstance(exc, errors.ServekitError) else None
        if error is None or type(error) is errors.ServekitError:
            log.error("unhandled error", exc_info=exc, extra={"request_id": rid})
            error = errors.ServekitError("internal error; see the server log")
        self.telemetry.error(error.code)
        status, body = render_error(error, envelope, rid)
        return status, error.headers, body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = environ[REQUEST_ID] = request_id(environ)
        token = request_id_var.set(rid)
        self.telemetry.inflight.inc()
        try:
            index = self.fast_route(environ)
            if index is None:
                out, code, size = self._flask(environ, start_response, rid)
                route = environ.get(ROUTE, UNMATCHED)
            else:
                out, code, size = self._answer(self._fast[index], index, environ, start_response)
                route = self._fast[index].path
        finally:
            self.telemetry.inflight.dec()
            request_id_var.reset(token)
        try:
            bytes_in = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            bytes_in = 0
        method = environ.get("REQUEST_METHOD", "")
        elapsed = time.perf_counter() - started
        self.recorder.answered(rid, method, route, code, elapsed, bytes_in, size)
        return out

    def _answer(
        self, route: Route, index: int, environ: dict[str, Any], start_response: StartResponse
    ) -> tuple[list[bytes], int, int]:
        """A fast route: admitted, answered by its view, or its error's reply."""
        rid: str = environ[REQUEST_ID]
        try:
            self.gate.admit(environ, protected=route.protected)
            answer = self._views[index](environ, rid)
            status, line = 200, "200 OK"
            if isinstance(answer, bytes):
                body, headers = answer, _JSON_HEADERS
            else:
                body, headers = answer
        except Exception as exc:
            status, extra, body = self.error_reply(exc, route.envelope, rid)
            line, headers = f"{status} {http.HTTPStatus(status).phrase}", {**_JSON_HEADERS, **extra}
        start_response(
            line,
            [*headers.items(), ("Content-Length", str(len(body))), ("X-Request-ID", rid)],
        )
        return [body], status, len(body)

    def _flask(
        self, environ: dict[str, Any], start_response: StartResponse, rid: str
    ) -> tuple[Iterable[bytes], int, int]:
        """Any other route: Flask answers; the status and size are read on the way out."""
        seen: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-ID", rid))
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        out = self.app(environ, start)
        code = int(seen[0].split(" ", 1)[0]) if seen else 500
        length = (
            next((v for k, v in seen[1] if k.lower() == "content-length"), "0") if seen else "0"
        )
        return out, code, int(length) if length.isdigit() else 0
