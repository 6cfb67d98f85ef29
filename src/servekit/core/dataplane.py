"""The one data plane: parse -> bind -> call -> encode. I/O-free.

Every transport (HTTP, the async worker, Seldon, AMQP) hands request bytes to
:meth:`DataPlane.predict` and writes back what it returns, or maps the
:class:`~servekit.errors.ServekitError` it raises through the one error envelope. So
every door gets the same validation, the same errors and the same timings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servekit.core.binding import Binder, BoundCall
from servekit.core.encoding import EncodeError, encode
from servekit.core.envelope import Release, parse_request
from servekit.errors import BadRequest, DeadlineExpired, ModelError, ServekitError
from servekit.runtimes.base import Runtime

__all__ = ["Answer", "DataPlane"]

log = logging.getLogger("servekit.model")


@dataclass(frozen=True)
class Answer:
    """A successful prediction: the response body and how long the model itself took."""

    body: bytes
    model_seconds: float


class DataPlane:
    """Serves one loaded runtime. Build once per process, after ``runtime.load()``."""

    def __init__(
        self,
        runtime: Runtime,
        release: Release,
        clock: Callable[[], float] = time.perf_counter,
        load_seconds: float = 0.0,
    ) -> None:
        self.runtime = runtime
        self.load_seconds = load_seconds
        """Seconds ``runtime.load()`` took (reported as a metric)."""
        self.release = release
        self.binder = Binder(runtime.signature())
        self._release = release.to_dict()
        self._clock = clock

    def bind(self, body: bytes) -> BoundCall:
        """Decode and bind a request body; raises BadJson, BadRequest or InvalidArguments."""
        call = parse_request(body)
        try:
            return self.binder.bind(call)
        except RecursionError:  # recursive types fed JSON nested deeper than Python allows
            raise BadRequest(
                "the request is nested too deeply for the model's argument types"
            ) from None

    def call(
        self, bound: BoundCall, request_id: str, method: Callable[..., Any] | None = None
    ) -> Any:
        """Run the model on bound arguments; its exceptions become ModelError (logged).

        ``method`` calls another of the user's methods the same way (a Seldon class's
        ``predict_raw``, ``tags``, ...) instead of the runtime's ``predict``."""
        try:
            if method is not None:
                return method(*bound.args, **bound.kwargs)
            return self.runtime.predict(bound.args, bound.kwargs)
        except DeadlineExpired:
            raise
        except ServekitError as exc:  # a runtime's own answer (R's error, its timeout)
            if exc.code == ModelError.code:
                log.error("model raised: %s", exc.message, extra={"request_id": request_id})
            raise
        except BaseException as exc:  # sys.exit() or KeyboardInterrupt in user code too
            log.error(
                "model raised %s",
                type(exc).__name__,
                exc_info=exc,
                extra={"request_id": request_id},
            )
            raise ModelError(_exception_text(exc)) from exc

    def run(self, body: bytes, request_id: str) -> tuple[Any, float]:
        """Bind and call: the model's raw result and the seconds the model took."""
        bound = self.bind(body)
        model_started = self._clock()
        result = self.call(bound, request_id)
        return result, self._clock() - model_started

    def encode_result(self, value: Any, request_id: str) -> bytes:
        """JSON bytes for a result; a result that cannot be encoded is a ModelError."""
        try:
            return encode(value)
        except EncodeError as exc:
            log.error("result could not be encoded: %s", exc, extra={"request_id": request_id})
            raise ModelError(f"the model's result could not be encoded as JSON: {exc}") from exc

    def predict(self, body: bytes, request_id: str) -> Answer:
        """The whole path for one request body; returns the success envelope's bytes."""
        started = self._clock()
        result, model_seconds = self.run(body, request_id)
        envelope = {
            "result": result,
            "request_id": request_id,
            "model_time_in_ms": int(model_seconds * 1000 + 0.5),
            "timing": (self._clock() - started) * 1000,
            "release": self._release,
        }
        return Answer(self.encode_result(envelope, request_id), model_seconds)


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
