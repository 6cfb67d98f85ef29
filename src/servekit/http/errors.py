"""The one place where an exception becomes an HTTP response body and status."""

from __future__ import annotations

from flask import Response, request
from werkzeug.exceptions import HTTPException

from servekit import errors
from servekit.protocols.domino import encode_error

__all__ = ["error_response", "to_servekit_error"]


def to_servekit_error(exc: Exception) -> errors.ServekitError:
    """``exc`` as a ServekitError: Flask's HTTP errors become their servekit codes."""
    if isinstance(exc, errors.ServekitError):
        return exc
    if not isinstance(exc, HTTPException):
        return errors.ServekitError("internal error; see the server log")
    code = exc.code or 500
    if code == 404:
        return errors.NotFound(
            f"no route for {request.method} {request.path}; predictions go to POST /model "
            "or POST /models/<model_id>/<version>/model"
        )
    if code == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))  # stable
        return errors.MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    if code == 413:
        return errors.PayloadTooLarge(
            f"the request body is larger than the limit of "
            f"{request.max_content_length} bytes "
            "(SERVEKIT_MAX_BODY_BYTES)"
        )
    if code == 415:
        return errors.UnsupportedMediaType(exc.description or "unsupported media type")
    if 400 <= code < 500:
        return errors.BadRequest(exc.description or "bad request")
    return errors.ServekitError(exc.description or "internal error")


def error_response(error: errors.ServekitError, request_id: str) -> Response:
    """The error envelope as a response, with the error's own headers."""
    response = Response(encode_error(error, request_id), error.status, mimetype="application/json")
    response.headers.update(error.headers)
    return response
