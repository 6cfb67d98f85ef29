"""Errors the front (nginx) found in a request before any worker saw it.

nginx hands such a request (a body over the limit: 413; headers too large: 494, answered
431) to a worker with the uwsgi variable
:data:`~servekit.serving.front.FRONT_ERROR_VAR` set to the status it found (never a
header: a client cannot set it), and without the body. The worker answers it like any
other error, so it has the route's own error shape, a request id, the access line and
its count in the metrics.
"""

from __future__ import annotations

from typing import Any

from servekit import errors
from servekit.settings import Settings

__all__ = ["FRONT_ERROR_VAR", "MAX_HEADER_BYTES", "MAX_HEADER_LINE_BYTES", "front_error"]

FRONT_ERROR_VAR = "SERVEKIT_FRONT_ERROR"
MAX_HEADER_BYTES = 32 * 1024
"""Headers (with the request line) above this get 431; with nginx, 4 lines of 8 KiB."""
MAX_HEADER_LINE_BYTES = 8 * 1024
"""The longest header line (or request line) the nginx front reads."""


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
