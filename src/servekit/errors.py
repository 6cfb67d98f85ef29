"""servekit's one exception root. Imports no web framework.

Every error a client can see is a :class:`ServekitError`; its HTTP status and its
machine-readable ``code`` are class attributes, so one place (the transport's error
handler) turns any of them into the one error envelope::

    {"error": {"code": "...", "message": "...", "details": [...]}, "request_id": "..."}

The tree::

    ServekitError                 500 INTERNAL
    ├── BadJson                   400 BAD_JSON              not JSON (NaN, a key twice in an object)
    ├── BadRequest                400 BAD_REQUEST           JSON, but not {"data"} / {"parameters"}
    ├── InvalidArguments          422 INVALID_ARGUMENTS     arguments do not fit the signature
    ├── Unauthorized              401 UNAUTHORIZED          no valid access token
    ├── NotFound                  404 NOT_FOUND
    ├── MethodNotAllowed          405 METHOD_NOT_ALLOWED
    ├── Conflict                  409 CONFLICT              Idempotency-Key reused, another body
    ├── PayloadTooLarge           413 PAYLOAD_TOO_LARGE
    ├── RequestLineTooLong        414 URI_TOO_LONG          longer than the nginx front reads
    ├── HeadersTooLarge           431 HEADERS_TOO_LARGE
    ├── UnsupportedMediaType      415 UNSUPPORTED_MEDIA_TYPE
    ├── TooManyRequests           429 TOO_MANY_REQUESTS     the async queue is full (Retry-After)
    ├── ModelError                500 MODEL_ERROR           the user's code raised
    ├── NotImplementedHere        501 NOT_IMPLEMENTED       a Transfer-Encoding, V1 :explain
    ├── WorkerLost                502 WORKER_LOST           a worker died mid-request (nginx)
    ├── NotReady                  503 NOT_READY             model not loaded yet, or draining
    ├── StoreUnavailable          503 STORE_UNAVAILABLE     the async job store cannot be reached
    ├── Timeout                   504 TIMEOUT
    ├── VersionNotSupported       505 HTTP_VERSION_NOT_SUPPORTED  above HTTP/1.1 (nginx)
    ├── LoadError                 500 LOAD_ERROR            start-up: the model could not be loaded
    └── ConfigError               500 CONFIG_ERROR          start-up: a setting is invalid
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "BadJson",
    "BadRequest",
    "BatchMismatch",
    "ConfigError",
    "Conflict",
    "DeadlineExpired",
    "HeadersTooLarge",
    "InvalidArguments",
    "LoadError",
    "MethodNotAllowed",
    "ModelError",
    "NotFound",
    "NotImplementedHere",
    "NotReady",
    "PayloadTooLarge",
    "Problem",
    "RequestLineTooLong",
    "ServekitError",
    "StoreUnavailable",
    "Timeout",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "VersionNotSupported",
    "WorkerLost",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request's arguments, and where.

    ``path`` is written the way the client wrote the value: ``data.x``,
    ``parameters[2]``, ``data.rows[3].age``.
    """

    path: str
    expected: str
    got: str

    @property
    def message(self) -> str:
        """A one-line human explanation: ``data.x: expected integer, got string "a"``."""
        return f"{self.path}: expected {self.expected}, got {self.got}"

    def to_dict(self) -> dict[str, str]:
        """The JSON form used in the error envelope's ``details``."""
        return {
            "path": self.path,
            "expected": self.expected,
            "got": self.got,
            "message": self.message,
        }


class ServekitError(Exception):
    """Root of every error servekit reports to a client or at start-up."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        message: str,
        details: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, Any]] = list(details)
        self.headers: dict[str, str] = headers or {}

    def to_envelope(self, request_id: str) -> dict[str, Any]:
        """The one error envelope, as a JSON-ready dict."""
        return {
            "error": {"code": self.code, "message": self.message, "details": self.details},
            "request_id": request_id,
        }


class BadJson(ServekitError):
    """The body is not valid JSON (NaN and Infinity literals are not JSON)."""

    status = 400
    code = "BAD_JSON"


class BadRequest(ServekitError):
    """Valid JSON, but not a ``{"data": {...}}`` or ``{"parameters": ...}`` object."""

    status = 400
    code = "BAD_REQUEST"


class InvalidArguments(ServekitError):
    """The arguments do not fit the model's signature; ``problems`` lists every one."""

    status = 422
    code = "INVALID_ARGUMENTS"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        first = self.problems[0].message if self.problems else "invalid arguments"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first}{more}", [p.to_dict() for p in self.problems])


class Unauthorized(ServekitError):
    """No valid access token was presented. Always sent with ``WWW-Authenticate``."""

    status = 401
    code = "UNAUTHORIZED"

    def __init__(
        self,
        message: str = "a valid access token is required: send "
        "'Authorization: Bearer <token>' or HTTP Basic with the token",
    ) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer, Basic realm="servekit"'})


class NotFound(ServekitError):
    """No route at this path."""

    status = 404
    code = "NOT_FOUND"


class MethodNotAllowed(ServekitError):
    """The route exists but not for this HTTP method."""

    status = 405
    code = "METHOD_NOT_ALLOWED"


class Conflict(ServekitError):
    """The request contradicts an earlier one: an ``Idempotency-Key`` the same caller
    already used with a different body."""

    status = 409
    code = "CONFLICT"


class PayloadTooLarge(ServekitError):
    """The body is larger than the configured limit."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


class RequestLineTooLong(ServekitError):
    """414: the request line (method, path, query string) is longer than the nginx front
    reads."""

    status = 414
    code = "URI_TOO_LONG"


class HeadersTooLarge(ServekitError):
    """The request's headers are larger than servekit accepts."""

    status = 431
    code = "HEADERS_TOO_LARGE"


class UnsupportedMediaType(ServekitError):
    """The body is declared as something other than JSON."""

    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class TooManyRequests(ServekitError):
    """Refused for now, to shed load (the asynchronous queue is full). Always sent with
    ``Retry-After``: the whole seconds after which trying again makes sense."""

    status = 429
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ModelError(ServekitError):
    """The user's code raised. The message names the exception; the traceback is logged only."""

    status = 500
    code = "MODEL_ERROR"


class BatchMismatch(ModelError):
    """A batched model returned something other than one result per request, in order:
    every request of that batch gets this error (never another's answer), and the batch
    is not retried row by row (the rows are not at fault)."""


class NotImplementedHere(ServekitError):
    """501: what the request asks for is not offered here: a ``Transfer-Encoding`` other
    than ``chunked`` (the nginx front), a KServe V1 verb the model lacks (``:explain``)."""

    status = 501
    code = "NOT_IMPLEMENTED"


class WorkerLost(ServekitError):
    """The worker handling the request stopped before answering: it crashed, or was
    killed (harakiri, out of memory). Answered by the nginx front."""

    status = 502
    code = "WORKER_LOST"


class NotReady(ServekitError):
    """The model is not loaded yet, or the server is draining."""

    status = 503
    code = "NOT_READY"


class StoreUnavailable(ServekitError):
    """The asynchronous job store (SQLite file, Redis) cannot be reached just now."""

    status = 503
    code = "STORE_UNAVAILABLE"


class Timeout(ServekitError):
    """The prediction ran past the request timeout."""

    status = 504
    code = "TIMEOUT"


class VersionNotSupported(ServekitError):
    """505: an HTTP version above 1.1 on a plain-text connection (the nginx front)."""

    status = 505
    code = "HTTP_VERSION_NOT_SUPPORTED"


class LoadError(ServekitError):
    """The model could not be loaded at start-up. Never sent to a client: the server stops.

    ``traceback_text`` holds the user's traceback, for the log, when there is one.
    """

    status = 500
    code = "LOAD_ERROR"

    def __init__(self, message: str, traceback_text: str = "") -> None:
        super().__init__(message)
        self.traceback_text = traceback_text


class ConfigError(ServekitError):
    """A setting (environment variable or flag) is invalid. The server does not start."""

    status = 500
    code = "CONFIG_ERROR"


class DeadlineExpired(BaseException):
    """Raised inside a request's code when its time is up (not a ServekitError: it must
    pass through the model's ``except Exception`` and the data plane to the deadline,
    which answers :class:`Timeout`)."""
