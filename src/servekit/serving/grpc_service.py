"""The V2 gRPC service's methods (``inference.GRPCInferenceService``): thin, over the V2
codec (:mod:`servekit.protocols.v2.grpc_codec`), with what every HTTP request also gets.

- **Auth**: ``ModelInfer``, ``ModelMetadata`` and ``ModelReady`` need a token when tokens
  are configured, sent as the ``authorization`` metadata (``Bearer TOKEN``, as the header);
  health and server metadata are open, as ``/v2/health/*`` and ``/v2`` are.
- **Metrics and the access log**: each call is counted under its method's path
  (``/inference.GRPCInferenceService/ModelInfer``) with the HTTP status its gRPC status
  stands for (``INVALID_ARGUMENT`` 400, ``UNAUTHENTICATED`` 401, ``NOT_FOUND`` 404,
  ``INTERNAL`` 500, ``UNAVAILABLE`` 503, ``DEADLINE_EXCEEDED`` 504), so dashboards and
  alerts read gRPC and REST alike; the access line's method is ``GRPC``.
- **Request ids**: the caller's ``x-request-id`` metadata when it is safe to echo, else a
  new one; sent back as trailing metadata.
- **Time limit**: inference runs under ``SERVEKIT_TIMEOUT`` (the ``run`` it is given),
  at most ``SERVEKIT_THREADS`` calls of the model at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from servekit import errors
from servekit._version import __version__
from servekit.core.runner import Runner
from servekit.http.lifecycle import Gate, Recorder, request_id
from servekit.protocols.v2 import V2Codec, server_metadata
from servekit.protocols.v2.grpc_codec import (
    decode_request,
    encode_response,
    metadata_response,
    status_name,
)
from servekit.protocols.v2.stubs import METHODS, SERVICE, Messages

__all__ = ["Health", "InferenceService"]

log = logging.getLogger("servekit.grpc")
_PROTECTED = frozenset({"ModelInfer", "ModelMetadata", "ModelReady"})


@dataclass
class Health:
    """What ``ServerReady`` and ``ModelReady`` say: false once draining."""

    draining: bool = False
    replace: bool = False
    """Set when a call overran the time limit: this process is to be replaced."""


class InferenceService:
    """The service's handlers for ``codec``'s model."""

    def __init__(
        self,
        codec: V2Codec,
        messages: Messages,
        gate: Gate,
        recorder: Recorder,
        run: Runner,
        health: Health,
        model_id: str = "",
        calls_at_once: int = 1,
    ) -> None:
        self.codec = codec
        self.messages = messages
        self.gate = gate
        self.recorder = recorder
        self.run = run
        self.health = health
        self.model_id = model_id
        self._calls = threading.BoundedSemaphore(calls_at_once)
        self._metadata = metadata_response(messages, codec)
        info = server_metadata(__version__)
        self._server = messages["ServerMetadataResponse"](**info)

    def handler(self) -> grpc.GenericRpcHandler:
        """The service as grpcio serves it."""
        methods = {
            name: grpc.unary_unary_rpc_method_handler(
                self._wrap(name, getattr(self, name)),
                request_deserializer=self.messages[f"{name}Request"].FromString,
                response_serializer=self.messages[f"{name}Response"].SerializeToString,
            )
            for name in METHODS
        }
        return grpc.method_handlers_generic_handler(SERVICE, methods)

    def _wrap(
        self, name: str, method: Callable[[Any, str], Any]
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        route = f"/{SERVICE}/{name}"
        protected = name in _PROTECTED

        def handle(message: Any, context: grpc.ServicerContext) -> Any:
            began = time.perf_counter()
            given = dict(context.invocation_metadata())
            rid = request_id({"HTTP_X_REQUEST_ID": given.get("x-request-id", "")})
            context.set_trailing_metadata((("x-request-id", rid),))
            code, reply, failure = 200, None, None
            try:
                self.gate.admit({"HTTP_AUTHORIZATION": given.get("authorization", "")}, protected)
                reply = method(message, rid)
            except errors.ServekitError as exc:
                code, failure = exc.status, exc
            except Exception:
                log.exception("the gRPC method %s failed", name, extra={"request_id": rid})
                code = 500
                failure = errors.ServekitError(f"internal error (request id {rid})")
            size_out = reply.ByteSize() if reply is not None else 0
            self.recorder.answered(
                rid, "GRPC", route, code, time.perf_counter() - began, message.ByteSize(), size_out
            )
            if failure is not None:
                context.abort(getattr(grpc.StatusCode, status_name(failure)), failure.message)
            return reply

        return handle

    def ServerLive(self, message: Any, rid: str) -> Any:  # the protocol names its methods
        """Always live while this process answers."""
        return self.messages["ServerLiveResponse"](live=True)

    def ServerReady(self, message: Any, rid: str) -> Any:
        """Ready unless draining."""
        return self.messages["ServerReadyResponse"](ready=not self.health.draining)

    def ServerMetadata(self, message: Any, rid: str) -> Any:
        """The server's name, version and extensions."""
        return self._server

    def ModelReady(self, message: Any, rid: str) -> Any:
        """Whether the model asked for is served here and ready."""
        self.codec.served(message.name, message.version, self.model_id)
        return self.messages["ModelReadyResponse"](ready=not self.health.draining)

    def ModelMetadata(self, message: Any, rid: str) -> Any:
        """The model's inputs and outputs."""
        self.codec.served(message.name, message.version, self.model_id)
        return self._metadata

    def ModelInfer(self, message: Any, rid: str) -> Any:
        """One inference, under the time limit."""
        codec = self.codec
        codec.served(message.model_name, message.model_version, self.model_id)
        request = decode_request(message)
        with self._calls:
            inferred = self.run(lambda: codec.run(request, rid))
        self.recorder.telemetry.model_seconds.observe(inferred.model_seconds)
        return encode_response(self.messages, codec, inferred)
