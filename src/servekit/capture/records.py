"""What one captured prediction is, as a JSON line. I/O-free.

``{"time", "event_id", "model", "version", "protocol", "inputs", "result", "status",
"model_ms"}`` (and ``"error"`` for a failed one): ``inputs`` are the arguments as the
model received them, by parameter name; ``result`` what it returned (null when it
failed); ``status`` the HTTP status the caller got for it. A record made with
:func:`servekit.capture.record` has the same shape, with ``protocol`` ``"user"`` and the
features and prediction the model's code gave.
"""

from __future__ import annotations

import time
from typing import Any

from servekit.core.dataplane import Observed
from servekit.core.encoding import EncodeError, encode
from servekit.core.release import Release

__all__ = ["encode_record", "prediction_record", "stamp", "user_record"]

_REPR_LIMIT = 1000


def stamp(now: float) -> str:
    """``now`` (seconds since the epoch) as ``2026-12-04T13:13:27.952Z``."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{whole}.{int(now * 1000) % 1000:03d}Z"


def prediction_record(
    observed: Observed, release: Release, names: tuple[str, ...], now: float
) -> dict[str, Any]:
    """The record of one prediction; ``names`` are the signature's parameter names (for
    positional arguments). A single argument with a ``captured_inputs()`` method (the
    input a codec made, such as MLflow's scoring input) gives the inputs itself."""
    bound = observed.bound
    view = getattr(bound.args[0], "captured_inputs", None) if len(bound.args) == 1 else None
    if callable(view) and not bound.kwargs:  # a codec's own input (MLflow's ScoringInput)
        inputs = view()
    else:
        inputs = {
            names[index] if index < len(names) else f"arg{index}": value
            for index, value in enumerate(bound.args)
        }
        inputs.update(bound.kwargs)
    error = observed.error
    record: dict[str, Any] = {
        "time": stamp(now),
        "event_id": observed.request_id,
        "model": release.model_name,
        "version": release.model_version,
        "protocol": observed.protocol,
        "inputs": inputs,
        "result": observed.result,
        "status": 200 if error is None else error.status,
        "model_ms": round(observed.model_seconds * 1000, 3),
    }
    if error is not None:
        record["error"] = error.message
    return record


def user_record(
    features: Any, prediction: Any, event_id: str, release: Release, now: float
) -> dict[str, Any]:
    """The record :func:`servekit.capture.record` makes."""
    return {
        "time": stamp(now),
        "event_id": event_id,
        "model": release.model_name,
        "version": release.model_version,
        "protocol": "user",
        "inputs": features,
        "result": prediction,
        "status": None,
        "model_ms": None,
    }


def encode_record(record: dict[str, Any]) -> bytes:
    """One JSON line. Inputs or a result JSON cannot hold are kept as their ``repr``
    (cut at 1,000 characters) under ``{"unencodable": ...}``, never lost with the rest."""
    try:
        return encode(record) + b"\n"
    except EncodeError:
        pass
    safe = dict(record)
    for key in ("inputs", "result"):
        try:
            encode(safe[key])
        except EncodeError:
            safe[key] = {"unencodable": repr(safe[key])[:_REPR_LIMIT]}
    return encode(safe) + b"\n"
