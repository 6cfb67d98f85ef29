"""Read chunked request bodies, which uWSGI's http-socket hands to the app unread.

Without this a ``Transfer-Encoding: chunked`` body (sent by clients that stream, and by
some proxies) would look empty. :class:`ChunkedInput` reads it with a chunk reader
(``uwsgi.chunked_read`` under uWSGI), stops reading past the body limit, and gives the
app an ordinary body with a Content-Length, so the limit and every error path stay the
same as for any other request.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from servekit.errors import BadRequest
from servekit.protocols.domino import encode_error

__all__ = ["ChunkedInput"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedInput:
    """WSGI middleware: de-chunk bodies with ``read_chunk`` (empty bytes ends the body)."""

    def __init__(self, app: WSGIApp, read_chunk: Callable[[], bytes], limit: int) -> None:
        self.app = app
        self.read_chunk = read_chunk
        self.limit = limit

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)
        parts: list[bytes] = []
        size = 0
        try:
            while size <= self.limit:
                chunk = self.read_chunk()
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
        except OSError as exc:
            return _bad_body(environ, start_response, exc)
        # Past the limit: the declared length makes the app answer 413 without reading.
        environ["wsgi.input"] = io.BytesIO(b"" if size > self.limit else b"".join(parts))
        environ["CONTENT_LENGTH"] = str(size)
        del environ["HTTP_TRANSFER_ENCODING"]  # de-chunked now: the length is what counts
        return self.app(environ, start_response)


def _bad_body(
    environ: dict[str, Any], start_response: Callable[..., Any], exc: OSError
) -> Iterable[bytes]:
    request_id = uuid.uuid4().hex
    body = encode_error(
        BadRequest(f"the chunked request body could not be read: {exc}"), request_id
    )
    start_response(
        "400 BAD REQUEST",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Request-ID", request_id),
        ],
    )
    return [body]
