"""The one data plane: bind -> call -> encode, for any protocol. I/O-free.

A protocol's codec (:mod:`servekit.protocols`) decodes its request into a
:class:`~servekit.core.binding.Call`, and the plane binds it to the model's signature,
calls the model (its exceptions become one ModelError, logged) and encodes what the
codec builds from the result. So every door (HTTP, the async worker, Seldon, AMQP) gets
the same validation, the same errors and the same timings, and none of it knows a
protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from servekit.core.binding import Binder, BoundCall, Call
from servekit.core.encoding import EncodeError, encode
from servekit.core.release import Release
from servekit.core.runtime import Runtime
from servekit.errors import BadRequest, DeadlineExpired, ModelError, ServekitError, Timeout

__all__ = ["Answer", "DataPlane", "Observed", "Observer"]

log = logging.getLogger("servekit.model")


@dataclass(frozen=True)
class Answer:
    """A successful prediction: the response body and how long the model itself took."""

    body: bytes
    model_seconds: float


@dataclass(frozen=True)
class Observed:
    """One call of the model that a protocol made as a prediction, for an
    :data:`Observer` (prediction capture): its arguments as the model received them, and
    its result or error."""

    request_id: str
    protocol: str
    bound: BoundCall
    result: Any
    error: ServekitError | None
    model_seconds: float


Outcome = tuple[Any, BaseException | None]
"""A batched call's result, or what it raised."""

Observer = Callable[[Observed], None]
"""Sees every prediction (:attr:`DataPlane.observer`); must never raise or block."""


class DataPlane:
    """Serves one loaded runtime. Build once per process, after ``runtime.load()``."""

    observer: Observer | None = None
    """Called after each prediction a codec names its protocol for (``call(...,
    protocol=...)``): prediction capture sets it; None costs nothing."""
    dispatch: Callable[[BoundCall], Any] | None = None
    """Calls the model instead of ``runtime.predict``: a batcher's ``submit`` for a
    batched model, where requests meet (:mod:`servekit.batching`); None calls it here."""
    dispatch_many: Callable[[Sequence[BoundCall]], list[Outcome]] | None = None
    """The batcher's ``submit_many``: a request's many calls at once (:meth:`call_all`)."""
    arriving: Callable[[], AbstractContextManager[None]] | None = None
    """The batcher's ``arriving``: a transport marks each request in hand with it, so a
    batch waits only for requests on their way (:mod:`servekit.batching.batcher`)."""

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
        self.clock = clock
        """The clock of every timing (seconds; a fake one in tests)."""

    def bind(self, call: Call) -> BoundCall:
        """Bind a decoded request to the signature; raises BadRequest or InvalidArguments."""
        try:
            return self.binder.bind(call)
        except RecursionError:  # recursive types fed JSON nested deeper than Python allows
            raise BadRequest(
                "the request is nested too deeply for the model's argument types"
            ) from None

    def call(
        self,
        bound: BoundCall,
        request_id: str,
        method: Callable[..., Any] | None = None,
        protocol: str = "",
    ) -> Any:
        """Run the model on bound arguments; its exceptions become ModelError (logged).

        ``method`` calls another of the user's methods the same way (a Seldon class's
        ``predict_raw``, ``tags``, ...) instead of the runtime's ``predict``. A
        ``protocol`` marks the call as a prediction of that protocol: the
        :attr:`observer` sees it, its result or its error."""
        observer = self.observer
        if observer is None or not protocol:
            return self._call(bound, request_id, method)
        started = self.clock()
        try:
            result = self._call(bound, request_id, method)
        except ServekitError as exc:
            observer(Observed(request_id, protocol, bound, None, exc, self.clock() - started))
            raise
        except DeadlineExpired:
            late = Timeout("the prediction ran past the timeout")
            observer(Observed(request_id, protocol, bound, None, late, self.clock() - started))
            raise
        observer(Observed(request_id, protocol, bound, result, None, self.clock() - started))
        return result

    def call_all(
        self, bounds: Sequence[BoundCall], request_id: str, protocol: str = ""
    ) -> list[Any]:
        """Many calls of one request (KServe V1's instances), each a prediction of
        ``protocol``: their results, or a :class:`ServekitError` in the place of each
        call that failed. A batcher takes them all at once; otherwise they run one by
        one, and the first that fails is the last (the list stops there)."""
        many = self.dispatch_many
        if many is None:
            out: list[Any] = []
            for bound in bounds:
                try:
                    out.append(self.call(bound, request_id, protocol=protocol))
                except ServekitError as exc:
                    out.append(exc)
                    break
            return out
        started = self.clock()
        outcomes = many(bounds)
        seconds = self.clock() - started
        results: list[Any] = []
        for bound, (result, error) in zip(bounds, outcomes, strict=True):
            failed = None if error is None else self._failure(error, request_id)
            if self.observer is not None and protocol:
                self.observer(Observed(request_id, protocol, bound, result, failed, seconds))
            results.append(result if failed is None else failed)
        return results

    def _call(self, bound: BoundCall, request_id: str, method: Callable[..., Any] | None) -> Any:
        try:
            if method is not None:
                return method(*bound.args, **bound.kwargs)
            dispatch = self.dispatch
            if dispatch is not None:
                return dispatch(bound)
            return self.runtime.predict(bound.args, bound.kwargs)
        except DeadlineExpired:
            raise
        except BaseException as exc:  # sys.exit() or KeyboardInterrupt in user code too
            failure = self._failure(exc, request_id)
            if failure is exc:
                raise
            raise failure from exc

    def _failure(self, exc: BaseException, request_id: str) -> ServekitError:
        """What the model raised as the request's error, logged: a runtime's own answer
        (R's error, its timeout) as it is, anything else a ModelError with its traceback."""
        if isinstance(exc, DeadlineExpired):
            raise exc
        if isinstance(exc, ServekitError):
            if exc.code == ModelError.code:
                log.error("model raised: %s", exc.message, extra={"request_id": request_id})
            return exc
        log.error(
            "model raised %s", type(exc).__name__, exc_info=exc, extra={"request_id": request_id}
        )
        return ModelError(_exception_text(exc))

    def run(self, call: Call, request_id: str, protocol: str = "") -> tuple[Any, float]:
        """Bind and call (a prediction of ``protocol``, when given): the model's raw
        result and the seconds the model took."""
        bound = self.bind(call)
        model_started = self.clock()
        result = self.call(bound, request_id, protocol=protocol)
        return result, self.clock() - model_started

    def encode_result(self, value: Any, request_id: str) -> bytes:
        """JSON bytes for a result; a result that cannot be encoded is a ModelError."""
        try:
            return encode(value)
        except EncodeError as exc:
            log.error("result could not be encoded: %s", exc, extra={"request_id": request_id})
            raise ModelError(f"the model's result could not be encoded as JSON: {exc}") from exc


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
