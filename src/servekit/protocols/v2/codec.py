"""The Open Inference Protocol (KServe/Triton "V2") over the one data plane. I/O-free.

:meth:`V2Codec.infer` decodes a request (JSON, or JSON plus binary tensor data), turns
its tensors into the model's arguments (:mod:`.inputs`), binds and calls them through
:class:`~servekit.core.dataplane.DataPlane` and answers the result's tensors
(:mod:`.outputs`), those asked for in binary after the JSON header. :meth:`V2Codec.run`
is the transport-neutral middle, which the gRPC service (:mod:`.grpc_codec`) shares. Its errors are
BadRequest (400) naming the input or output; :func:`encode_error` writes any
ServekitError in V2's shape, ``{"error": "message"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import orjson

from servekit import errors
from servekit.core.binding import Call
from servekit.core.dataplane import DataPlane
from servekit.core.signature import ParamKind
from servekit.protocols.v2.binary import to_bytes
from servekit.protocols.v2.datatypes import to_json
from servekit.protocols.v2.inputs import Slot, slot_of
from servekit.protocols.v2.outputs import datatype, output_metadata, tensors_of
from servekit.protocols.v2.request import InferRequest, decode

__all__ = ["Inferred", "V2Answer", "V2Codec", "encode_error", "server_metadata"]

EXTENSIONS = ("binary_tensor_data",)
_PLATFORMS = {"onnx": "onnxruntime_onnx", "python": "python", "r": "r"}
_NAMED = (ParamKind.POSITIONAL_ONLY, ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY)


def server_metadata(version: str) -> dict[str, Any]:
    """``GET /v2``: the server's name, version and extensions."""
    return {"name": "servekit", "version": version, "extensions": list(EXTENSIONS)}


def encode_error(error: errors.ServekitError) -> tuple[int, bytes]:
    """The status and body of ``error`` in V2's shape. A request the model's signature
    refuses (422 elsewhere) is 400 here: in V2 a tensor that does not fit is a bad request."""
    status = 400 if isinstance(error, errors.InvalidArguments) else error.status
    return status, orjson.dumps({"error": error.message})


@dataclass(frozen=True)
class Inferred:
    """What an inference answers, whatever the transport: the id, each output's name,
    tensor and whether it goes in binary (REST), and the seconds the model took."""

    id: str
    outputs: list[tuple[str, np.ndarray[Any, Any], bool]]
    model_seconds: float


@dataclass(frozen=True)
class V2Answer:
    """An inference response: its body, headers (Content-Type and, with binary outputs,
    Inference-Header-Content-Length) and the seconds the model took."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    model_seconds: float = 0.0


class V2Codec:
    """Serves ``plane``'s model over V2. Build once per process (reads the signature)."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        release = plane.release
        self.name, self.version = release.model_name, release.model_version
        params = plane.binder.signature.params
        self.slots: dict[str, Slot] = {p.name: slot_of(p) for p in params if p.kind in _NAMED}
        self._extra = any(p.kind is ParamKind.VAR_KEYWORD for p in params)
        runtime = plane.runtime
        outputs = output_metadata(runtime, getattr(runtime, "served", getattr(runtime, "fn", None)))
        self._outputs = outputs
        self._output_names = frozenset(o["name"] for o in outputs)

    def metadata(self) -> dict[str, Any]:
        """``GET /v2/models/<name>``: name, versions, platform, inputs and outputs."""
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": _PLATFORMS.get(self.plane.runtime.kind, self.plane.runtime.kind),
            "inputs": [slot.metadata() for slot in self.slots.values()],
            "outputs": self._outputs,
        }

    def infer(self, body: bytes, header_length: str | None, request_id: str) -> V2Answer:
        """One inference: the response body and headers; BadRequest for a client's tensor."""
        inferred = self.run(decode(body, header_length), request_id)
        body, headers = self._response(inferred, request_id)
        return V2Answer(body, headers, inferred.model_seconds)

    def run(self, request: InferRequest, request_id: str) -> Inferred:
        """Call the model on ``request``'s tensors (any transport's): the outputs to
        answer, in order; BadRequest for a tensor the model cannot take."""
        self._check_outputs(request, self._output_names)
        call = Call("inputs", self._arguments(request))
        plane = self.plane
        try:
            result, model_seconds = plane.run(call, request_id, "v2")
        except errors.InvalidArguments as exc:
            raise errors.BadRequest("; ".join(p.message for p in exc.problems)) from None
        tensors = tensors_of(result, partial(plane.encode_result, request_id=request_id))
        self._check_outputs(request, frozenset(name for name, _ in tensors))
        if request.outputs is None:
            chosen = [(name, array, request.binary_output) for name, array in tensors]
        else:
            by_name = dict(tensors)
            chosen = [(o.name, by_name[o.name], o.binary) for o in request.outputs]
        answer_id = request.id if request.id is not None else request_id
        return Inferred(answer_id, chosen, model_seconds)

    def served(self, name: str, version: str | None, model_id: str = "") -> None:
        """NotFound unless this codec's model is ``name`` (or ``model_id``, another name
        it answers to) at ``version`` (None, empty or ``latest``: the one served)."""
        if name not in (self.name, model_id or self.name):
            raise errors.NotFound(
                f"model {name!r} is not served here: this server serves {self.name!r}"
            )
        if version not in (None, "", "latest", self.version):
            raise errors.NotFound(
                f"version {version!r} of model {name!r} is not served here: this server "
                f"serves version {self.version!r} (or ask for latest, or no version)"
            )

    def _arguments(self, request: InferRequest) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, array in request.inputs.items():
            slot = self.slots.get(name)
            if slot is None:
                if not self._extra:
                    raise errors.BadRequest(
                        f"unknown input {name!r}: the model's inputs are "
                        f"{', '.join(self.slots) or 'none'}"
                    )
                slot = slot_of_extra(name)
            values[name] = slot.value(array, request.datatypes[name])
        for name, slot in self.slots.items():
            if slot.required and name not in values:
                raise errors.BadRequest(
                    f"missing input {name!r} ({slot.datatype} {list(slot.shape)})"
                )
        return values

    @staticmethod
    def _check_outputs(request: InferRequest, known: frozenset[str]) -> None:
        if request.outputs is None or not known:
            return
        for wanted in request.outputs:
            if wanted.name not in known:
                raise errors.BadRequest(
                    f"unknown output {wanted.name!r}: the model's outputs are "
                    f"{', '.join(sorted(known))}"
                )

    def _response(self, inferred: Inferred, request_id: str) -> tuple[bytes, dict[str, str]]:
        described: list[dict[str, Any]] = []
        binary: list[bytes] = []
        for name, array, in_binary in inferred.outputs:
            entry: dict[str, Any] = {
                "name": name,
                "datatype": datatype(array),
                "shape": list(array.shape),
            }
            if in_binary:
                raw = to_bytes(array)
                entry["parameters"] = {"binary_data_size": len(raw)}
                binary.append(raw)
            else:
                entry["data"] = to_json(array, name)
            described.append(entry)
        document = {
            "model_name": self.name,
            "model_version": self.version,
            "id": inferred.id,
            "outputs": described,
        }
        header = self.plane.encode_result(document, request_id)
        if not binary:
            return header, {"Content-Type": "application/json"}
        headers = {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(header)),
        }
        return b"".join([header, *binary]), headers


def slot_of_extra(name: str) -> Slot:
    """The slot of an input a ``**kwargs`` parameter takes: any tensor."""
    return Slot(name, "any", "BYTES", (-1,), None, False)
