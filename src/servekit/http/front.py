"""Errors the front (nginx) found in a request before any worker saw it.

nginx hands such a request (a body over the limit: 413; headers too large: 494, answered
431) to a worker with the uwsgi variable
:data:`~servekit.serving.front.FRONT_ERROR_VAR` set to the status it found (never a
header: a client cannot set it), and without the body. The worker answers it like any
other error, so it has the route's own error shape, a request id, the access line and
its count in the metrics.

Others nginx answers itself (:data:`NGINX_ANSWERS`): a request it cannot read, a worker
it cannot reach. Their bodies are rendered once, when the configuration is written, in
each route's error shape (:mod:`servekit.serving.nginx_errors`).
"""

from __future__ import annotations

from typing import Any

from servekit import errors
from servekit.settings import Settings

__all__ = [
    "FRONT_ERROR_VAR",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINE_BYTES",
    "NGINX_ANSWERS",
    "front_error",
]

FRONT_ERROR_VAR = "SERVEKIT_FRONT_ERROR"
MAX_HEADER_BYTES = 32 * 1024
"""Headers (with the request line) above this get 431; with nginx, 4 lines of 8 KiB."""
MAX_HEADER_LINE_BYTES = 8 * 1024
"""The longest header line (or request line) the nginx front reads."""


NGINX_ANSWERS: tuple[errors.ServekitError, ...] = (
    errors.BadRequest(
        "the request could not be read: its request line, a header, its Content-Length or "
        "its chunked body is malformed"
    ),
    errors.NotFound("no route answers this path"),
    errors.MethodNotAllowed("TRACE requests are not served"),
    errors.RequestLineTooLong(
        f"the request line (method, path and query string) is longer than the limit of "
        f"{MAX_HEADER_LINE_BYTES} bytes; send long inputs in the body"
    ),
    errors.ServekitError("the front (nginx) could not handle this request; see the server log"),
    errors.NotImplementedHere(
        "this Transfer-Encoding is not supported: send a Content-Length or "
        "Transfer-Encoding: chunked"
    ),
    errors.WorkerLost(
        "the worker handling this request stopped before answering (it crashed or was "
        "killed), or none could take it (the server queue was full); see the server log"
    ),
    errors.Timeout("no worker answered in time; see the server log"),
    errors.VersionNotSupported("this HTTP version is not supported: send HTTP/1.1 or HTTP/1.0"),
)
"""What nginx answers itself, each with its error's status: a request it cannot read
(400; 414 a request line too long; 501 an unknown Transfer-Encoding; 505 HTTP/2 or later
in plain text; 405 the TRACE method), one it cannot pass on (500), a worker it cannot
reach or that stopped (502) or never answered (504), and a client asking for one of the
front's own error pages (404). nginx sends no 408 (it closes the connection) and, with
no TLS, no 495-497."""


def front_error(environ: dict[str, Any], settings: Settings) -> errors.ServekitError | None:
    """The error nginx found in this request, if it found one."""
    status = environ.get(FRONT_ERROR_VAR)
    if not status:
        return None
    if status == "413":
        limit = max(settings.max_body_bytes, settings.async_max_body_bytes)
        return errors.PayloadTooLarge(
            f"the request body is larger than the limit of {limit} bytes (SERVEKIT_MAX_BODY_BYTES)"
        )
    return errors.HeadersTooLarge(
        f"the request headers are larger than {MAX_HEADER_BYTES} bytes in all, or a header "
        f"line is longer than {MAX_HEADER_LINE_BYTES} bytes"
    )
