"""The Seldon plane: a SeldonMessage in, a SeldonMessage out, over the one data plane.

Two kinds of model are served the same way:

- a **servekit function** (any TARGET): ``jsonData`` (an object) binds as ``{"data":
  ...}`` would; an ``ndarray`` or ``tensor`` is its first argument (as nested lists, then
  converted by its type hints), with ``names`` passed to a parameter called ``names``,
  ``features_names`` or ``feature_names``; ``strData`` and ``binData`` are its first
  argument too;
- a **Seldon-style class** (:class:`~servekit.protocols.seldon.hooks.SeldonHooks`): ``predict(X,
  features_names[, meta=])`` with ``X`` a numpy array (or the JSON value, str or bytes),
  or ``predict_raw(message)``; its ``tags()`` and ``metrics()`` go into the response's
  ``meta``, as Seldon's wrapper puts them.

Either way the call goes through :meth:`DataPlane.call`, so the model's errors are
logged and answered the same as everywhere else. I/O-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servekit import errors
from servekit.core.binding import BoundCall, Call
from servekit.core.dataplane import DataPlane
from servekit.protocols.seldon.hooks import SeldonHooks, is_metric
from servekit.protocols.seldon.message import (
    SeldonInput,
    as_lists,
    check_meta,
    decode,
    model_input,
    respond,
)

__all__ = ["SeldonAnswer", "SeldonCodec"]

PROTOCOL = "seldon"
"""The protocol named in a captured prediction."""

_NAMES = ("names", "features_names", "feature_names")
_FEEDBACK_FIELDS = frozenset({"request", "response", "reward", "truth"})


@dataclass(frozen=True)
class SeldonAnswer:
    """A response message, its HTTP status, and the user's metrics to export."""

    body: dict[str, Any]
    status: int = 200
    metrics: list[dict[str, Any]] = field(default_factory=list)


class SeldonCodec:
    """Serves ``plane``'s model to Seldon clients. Build once per process."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        runtime = plane.runtime
        self.hooks = SeldonHooks.of(
            getattr(runtime, "instance", None), getattr(runtime, "served", None)
        )
        params = plane.binder.signature.params
        self._first = params[0].name if params else None
        self._names = next((p.name for p in params if p.name in _NAMES), None)
        self._metadata: dict[str, Any] | None = None

    def predict(self, document: Any, request_id: str) -> SeldonAnswer:
        """One prediction for a request message (already parsed from JSON)."""
        hooks = self.hooks
        if hooks is not None and hooks.predict_raw is not None:
            return self._raw(hooks.predict_raw, document, request_id)
        request = decode(document)
        if hooks is None:
            bound = self.plane.binder.bind(self._call(request))
            result = self.plane.call(bound, request_id, protocol=PROTOCOL)
            return SeldonAnswer(respond(result, request))
        x = model_input(request)
        kwargs = {"meta": request.meta} if hooks.accepts_meta else {}
        bound = BoundCall((x, request.names), kwargs)
        result = self.plane.call(bound, request_id, hooks.predict, PROTOCOL)
        return self._answer(result, request, request_id)

    def feedback(self, document: Any, request_id: str) -> SeldonAnswer:
        """Seldon's feedback call: ``send_feedback(features, names, reward, truth,
        routing=)`` when the class has one; an empty message otherwise."""
        if type(document) is not dict or not set(document) <= _FEEDBACK_FIELDS:
            raise errors.BadRequest(
                "a feedback message is an object with request, response, reward and truth"
            )
        given, response, truth_given = (
            _part(document, k) for k in ("request", "response", "truth")
        )
        request = decode(given) if given and _has_payload(given) else SeldonInput("ndarray", [])
        truth = decode(truth_given) if truth_given and _has_payload(truth_given) else None
        meta = decode(response).meta if _has_payload(response) else (response or {}).get("meta")
        reward = document.get("reward", 0.0)
        if not isinstance(reward, (int, float)) or isinstance(reward, bool):
            raise errors.BadRequest('"reward" must be a number')
        hooks = self.hooks
        if hooks is None or hooks.send_feedback is None:
            return self._answer([], request, request_id, hooks)
        truth_value = model_input(truth) if truth is not None else None
        args = (model_input(request), request.names, float(reward), truth_value)
        bound = BoundCall(args, {"routing": (meta or {}).get("routing")})
        result = self.plane.call(bound, request_id, hooks.send_feedback)
        return self._answer([] if result is None else result, request, request_id)

    def health(self, request_id: str) -> SeldonAnswer:
        """``health_status()`` as a message, or ``strData: "healthy"``."""
        hooks = self.hooks
        empty = SeldonInput("json", None)
        if hooks is None:
            return SeldonAnswer(respond("healthy", empty))
        if hooks.health_status is None:
            return self._answer("healthy", empty, request_id)
        result = self._user(hooks.health_status, request_id)
        return self._answer(result, empty, request_id)

    def metadata(self, request_id: str) -> dict[str, Any]:
        """Seldon's metadata: the model's name and version, updated by ``init_metadata()``."""
        if self._metadata is None:
            release = self.plane.release
            found: dict[str, Any] = {
                "name": release.model_name,
                "versions": [release.model_version],
                "platform": "servekit",
                "inputs": [],
                "outputs": [],
                "custom": {},
            }
            hooks = self.hooks
            if hooks is not None and hooks.init_metadata is not None:
                extra = self._user(hooks.init_metadata, request_id)
                if not isinstance(extra, dict):
                    raise errors.ModelError("init_metadata() must return a dict")
                found.update(extra)
            self._metadata = found
        return self._metadata

    def _call(self, request: SeldonInput) -> Call:
        """How a servekit function is called for ``request``."""
        if request.kind == "json" and isinstance(request.value, dict):
            return Call("data", request.value)
        if self._first is None:
            raise errors.BadRequest("the model takes no arguments; send jsonData {}")
        value = as_lists(request) if request.kind in ("ndarray", "tensor") else request.value
        values: dict[str, Any] = {self._first: value}
        if self._names is not None and self._names != self._first and request.names:
            values[self._names] = request.names
        return Call("parameters", values)

    def _answer(
        self,
        result: Any,
        request: SeldonInput,
        request_id: str,
        hooks: SeldonHooks | None = None,
    ) -> SeldonAnswer:
        hooks = hooks or self.hooks
        if hooks is None:
            return SeldonAnswer(respond(result, request))
        tags = self._user(hooks.user_tags, request_id)
        metrics = self._user(hooks.user_metrics, request_id)
        names = self._user(hooks.names, request_id)
        return SeldonAnswer(respond(result, request, names, tags, metrics), 200, metrics)

    def _raw(self, method: Callable[..., Any], document: Any, request_id: str) -> SeldonAnswer:
        """``predict_raw(message)``: its message is the answer; a ``status.code`` in it
        is the HTTP status, as in Seldon's wrapper."""
        result = self.plane.call(BoundCall((document,), {}), request_id, method, PROTOCOL)
        if not isinstance(result, dict):
            raise errors.ModelError("predict_raw() must return a dict (a SeldonMessage)")
        status_field = result.get("status")
        code = status_field.get("code") if isinstance(status_field, dict) else None
        status = code if isinstance(code, int) and 100 <= code < 600 else 200
        meta = result.get("meta")
        listed = meta.get("metrics") if isinstance(meta, dict) else None
        metrics = [m for m in listed if is_metric(m)] if isinstance(listed, list) else []
        return SeldonAnswer(result, status, metrics)

    def _user(self, method: Callable[[], Any], request_id: str) -> Any:
        """Run one of the user's hooks as the data plane runs predict (errors logged,
        answered as MODEL_ERROR)."""
        return self.plane.call(BoundCall((), {}), request_id, method)


def _part(document: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A feedback's ``request``, ``response`` or ``truth``: an object, or None."""
    value = document.get(name)
    if value is not None and type(value) is not dict:
        raise errors.BadRequest(f'"{name}" must be a SeldonMessage (an object)')
    if value is not None and value.get("meta") is not None:
        check_meta(value["meta"])
    return value


def _has_payload(message: Any) -> bool:
    """True when ``message`` is an object carrying a payload (a feedback's ``response``
    may carry only ``meta``)."""
    return type(message) is dict and any(
        k in message for k in ("data", "jsonData", "strData", "binData")
    )
