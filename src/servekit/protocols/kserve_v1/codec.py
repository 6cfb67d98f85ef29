"""KServe's V1 protocol over the one data plane. I/O-free.

:meth:`KServeV1Codec.predict` answers ``{"predictions": [...]}``, one per instance, in
order, from ``{"instances": [...]}`` (or ``{"inputs": [...]}``):

- a tensor model (ONNX) takes the instances as one batch (:mod:`.batch`);
- any other model (Python, R) is called once per instance: an object is its keyword
  arguments (as Domino's ``data``), an array its positional arguments (as
  ``parameters``), and any other value the argument of a model of one argument. Every
  instance is bound before the first call, so a bad one is a 400 naming it
  (``instances[2].x: expected integer, got string "a"``) and the model never runs.

Errors are ``{"error": "message"}`` (:func:`encode_error`) with KServe's codes: 400 for
a bad body or instance (422 elsewhere), 404 for another model, 500 when the model
raises (naming the instance), 501 for ``:explain``, 503 while loading.
"""

from __future__ import annotations

from typing import Any

import orjson

from servekit import errors
from servekit.core.binding import BoundCall, Call
from servekit.core.dataplane import Answer, DataPlane
from servekit.core.paths import describe, report
from servekit.core.signature import ParamKind
from servekit.protocols.kserve_v1.batch import TensorBatch
from servekit.protocols.kserve_v1.request import parse_request

__all__ = ["KServeV1Codec", "encode_error"]

_NAMED = (ParamKind.POSITIONAL_ONLY, ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY)
_SHOWN = 10
"""At most this many problems in one error message."""


def encode_error(error: errors.ServekitError) -> tuple[int, bytes]:
    """The status and body of ``error`` in V1's shape, ``{"error": "message"}``. A
    request the model's signature refuses (422 elsewhere) is 400, KServe's InvalidInput;
    its message lists the problems (the first ten)."""
    if isinstance(error, errors.InvalidArguments) and error.problems:
        problems = error.problems
        text = "; ".join(p.message for p in problems[:_SHOWN])
        if len(problems) > _SHOWN:
            text += f" (and {len(problems) - _SHOWN} more)"
        return 400, orjson.dumps({"error": text})
    return error.status, orjson.dumps({"error": error.message})


class KServeV1Codec:
    """Serves ``plane``'s model over V1. Build once per process (reads the signature)."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.name = plane.release.model_name
        signature = plane.binder.signature
        self.batch = TensorBatch.of(signature)
        """How the instances make one batch (tensor models), or None: one call each."""
        named = [p.name for p in signature.params if p.kind in _NAMED]
        self._single = named[0] if len(named) == 1 else None

    def names(self, model_id: str = "") -> list[str]:
        """The names the model answers to: its own and ``model_id`` (another, when set)."""
        return [self.name] if model_id in ("", self.name) else [self.name, model_id]

    def served(self, name: str, model_id: str = "") -> None:
        """NotFound unless ``name`` is one of :meth:`names`."""
        if name not in self.names(model_id):
            raise errors.NotFound(
                f"model {name!r} is not served here: this server serves {self.name!r}"
            )

    def predict(self, body: bytes, request_id: str) -> Answer:
        """One predict request: ``{"predictions": [...]}`` and the seconds the model took."""
        key, instances = parse_request(body)
        if self.batch is not None:
            predictions, seconds = self._batched(key, instances, request_id)
        else:
            predictions, seconds = self._each(key, instances, request_id)
        body = self.plane.encode_result({"predictions": predictions}, request_id)
        return Answer(body, seconds)

    def _batched(self, key: str, instances: list[Any], request_id: str) -> tuple[Any, float]:
        batch = self.batch
        assert batch is not None
        call, problems = batch.call(key, instances)
        if problems:
            raise errors.InvalidArguments(problems + batch.locate(key, instances))
        try:
            result, seconds = self.plane.run(call, request_id, "kserve_v1")
        except errors.InvalidArguments as exc:
            located = batch.locate(key, instances)
            raise (errors.InvalidArguments(located) if located else exc) from None
        return batch.predictions(result, len(instances)), seconds

    def _each(self, key: str, instances: list[Any], request_id: str) -> tuple[Any, float]:
        plane = self.plane
        calls = self._bind(key, instances)
        clock = plane.clock
        started = clock()
        predictions = plane.call_all(calls, request_id, protocol="kserve_v1")
        seconds = clock() - started
        for index, outcome in enumerate(predictions):
            if isinstance(outcome, errors.ModelError):
                raise errors.ModelError(f"{key}[{index}]: {outcome.message}") from outcome
            if isinstance(outcome, errors.ServekitError):
                raise outcome
        return predictions, seconds

    def _bind(self, key: str, instances: list[Any]) -> list[BoundCall]:
        """Every instance bound, or InvalidArguments with every instance's problems."""
        problems: list[errors.Problem] = []
        calls: list[BoundCall] = []
        for index, instance in enumerate(instances):
            root = f"{key}[{index}]"
            if type(instance) is dict or type(instance) is list:
                call = Call(root, instance)
            elif self._single is not None:
                call = Call(root, {self._single: instance})
            else:
                report(
                    problems,
                    key,
                    index,
                    "an object (named arguments) or an array (positional arguments)",
                    describe(instance),
                )
                continue
            try:
                calls.append(self.plane.bind(call))
            except errors.InvalidArguments as exc:
                problems.extend(exc.problems)
        if problems:
            raise errors.InvalidArguments(problems)
        return calls
