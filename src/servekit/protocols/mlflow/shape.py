"""The error shape of MLflow's scoring server, for every error on its routes. I/O-free;
imports no MLflow.

MLflow answers ``{"error_code": "BAD_REQUEST", "message": "...", "sqlstate": "KAM00",
"error_class": "INVALID_PARAMETER_VALUE"}`` (``MlflowException.serialize_as_json``:
``json.dumps``, so ``", "`` separators and non-ASCII escaped) with the status of its
error code, and a 415 as plain text. :class:`ScoringError` carries an answer MLflow's
own logic made (its status and document); every other servekit error (401, 413, 504,
...) is written in the same shape by :func:`encode_error`, its status kept, with the
error code MLflow gives that status and the ``sqlstate``/``error_class`` MLflow adds to
that code. MLflow's ``stack_trace`` field is never sent: servekit logs tracebacks.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from servekit import errors

__all__ = ["ScoringError", "UnsupportedContent", "encode_error", "error_document"]

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    422: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""MLflow's error code for a status (``mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS``
read backwards); any other 4xx is ``BAD_REQUEST``, any other 5xx ``INTERNAL_ERROR``."""
_CLASSES = {
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_PARAMETER_VALUE": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "PERMISSION_DENIED": ("KAM00", "PERMISSION_DENIED"),
    "ENDPOINT_NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "INTERNAL_ERROR": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "TEMPORARILY_UNAVAILABLE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
}
"""The ``sqlstate`` and ``error_class`` an ``MlflowException`` of that code adds."""
_PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


class ScoringError(errors.ServekitError):
    """An error answered as MLflow's scoring server answers it: ``answer_status`` and
    ``document`` (``{"error_code", "message", ...}``), made from an ``MlflowException``
    by :meth:`of`. Counted as ``BAD_REQUEST``, the code of nearly all of them."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, document: dict[str, Any], answer_status: int = 400) -> None:
        super().__init__(str(document.get("message", "")))
        self.document = document
        self.answer_status = answer_status

    @classmethod
    def of(cls, exc: Any, message: str | None = None) -> ScoringError:
        """From an ``MlflowException`` (its message replaced by ``message``, when given):
        the document ``serialize_as_json`` writes, without ``stack_trace``."""
        document: dict[str, Any] = {
            "error_code": exc.error_code,
            "message": exc.message if message is None else message,
        }
        if getattr(exc, "sqlstate", None) is not None:
            document["sqlstate"] = exc.sqlstate
        if getattr(exc, "error_class", None) is not None:
            document["error_class"] = exc.error_class
        document.update(getattr(exc, "json_kwargs", None) or {})
        document.pop("stack_trace", None)
        return cls(document, int(exc.get_http_status_code()))


class UnsupportedContent(errors.UnsupportedMediaType):
    """415, answered in plain text as MLflow answers a content type it does not take."""

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=dict(_PLAIN))


def error_document(code: str, message: str) -> dict[str, Any]:
    """The document ``MlflowException(message, code).serialize_as_json()`` writes."""
    document: dict[str, Any] = {"error_code": code, "message": message}
    found = _CLASSES.get(code)
    if found is not None:
        document["sqlstate"], document["error_class"] = found
    return document


def encode_error(error: errors.ServekitError) -> tuple[int, bytes]:
    """The status and body of ``error`` in MLflow's shape. A request the model's
    signature refuses (422 elsewhere) is 400 ``INVALID_PARAMETER_VALUE``, as in MLflow."""
    if isinstance(error, ScoringError):
        return error.answer_status, json.dumps(error.document).encode()
    if isinstance(error, UnsupportedContent):
        return error.status, error.message.encode()
    status = 400 if isinstance(error, errors.InvalidArguments) else error.status
    fallback = "BAD_REQUEST" if 400 <= status < 500 else "INTERNAL_ERROR"
    code = _CODES.get(error.status, fallback)
    return status, json.dumps(error_document(code, error.message)).encode()
