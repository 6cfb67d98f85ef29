"""Seldon-style user classes: what the Seldon Python wrapper would call, found once at load.

A class is Seldon-style when it has ``predict_raw``, or when its ``predict`` takes
``(X, features_names)`` (or ``feature_names``), as Seldon's wrapper calls it. Its
optional methods (``tags``, ``metrics``, ``class_names``, ``health_status``,
``init_metadata``, ``send_feedback``) are looked up here once; ``meta=`` is passed to
``predict`` only when it accepts it. Constructor parameters come from Seldon's
``PREDICTIVE_UNIT_PARAMETERS`` JSON (:func:`unit_parameters`). I/O-free.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servekit import errors

__all__ = ["SeldonHooks", "is_metric", "unit_parameters"]

_NAMES_PARAMS = ("features_names", "feature_names")
_TYPES: dict[str, Callable[[str], Any]] = {
    "INT": int,
    "FLOAT": float,
    "DOUBLE": float,
    "STRING": str,
    "BOOL": lambda text: text.strip().lower() in ("1", "true", "yes", "y", "on"),
}
Method = Callable[..., Any]


def _method(instance: Any, name: str) -> Method | None:
    found = getattr(instance, name, None)
    return found if callable(found) else None


@dataclass(frozen=True)
class SeldonHooks:
    """The Seldon methods of one user object (each None when it has none)."""

    predict: Method | None
    accepts_meta: bool
    predict_raw: Method | None
    tags: Method | None
    metrics: Method | None
    class_names: Method | list[str] | None
    health_status: Method | None
    init_metadata: Method | None
    send_feedback: Method | None

    @classmethod
    def of(cls, instance: Any, served: Method | None = None) -> SeldonHooks | None:
        """The hooks of ``instance`` if it is Seldon-style, else None; ``served`` is the
        method the TARGET names (``Model.score``), ``predict`` by default."""
        if instance is None or isinstance(instance, type):
            return None
        predict = served if served is not None else _method(instance, "predict")
        predict_raw = _method(instance, "predict_raw")
        params: list[inspect.Parameter] = []
        if predict is not None:
            try:
                params = list(inspect.signature(predict).parameters.values())
            except (TypeError, ValueError):
                params = []
        seldon_style = predict_raw is not None or (
            len(params) >= 2 and params[1].name in _NAMES_PARAMS
        )
        if not seldon_style:
            return None
        accepts_meta = any(
            p.name == "meta" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
        )
        names = getattr(instance, "class_names", None)
        return cls(
            predict=predict,
            accepts_meta=accepts_meta,
            predict_raw=predict_raw,
            tags=_method(instance, "tags"),
            metrics=_method(instance, "metrics"),
            class_names=names if callable(names) or isinstance(names, list) else None,
            health_status=_method(instance, "health_status"),
            init_metadata=_method(instance, "init_metadata"),
            send_feedback=_method(instance, "send_feedback"),
        )

    def names(self) -> list[str] | None:
        """The user's ``class_names`` (a method or a list), if any."""
        found = self.class_names() if callable(self.class_names) else self.class_names
        return [str(n) for n in found] if found else None

    def user_tags(self) -> dict[str, Any]:
        """``tags()``, checked to be an object."""
        found = self.tags() if self.tags is not None else {}
        if not isinstance(found, dict):
            raise errors.ModelError(f"tags() must return a dict, got {type(found).__name__}")
        return found

    def user_metrics(self) -> list[dict[str, Any]]:
        """``metrics()``, each checked: ``{"type": COUNTER|GAUGE|TIMER, "key", "value"}``."""
        found = self.metrics() if self.metrics is not None else []
        if not isinstance(found, list):
            raise errors.ModelError(f"metrics() must return a list, got {type(found).__name__}")
        for metric in found:
            if not is_metric(metric):
                raise errors.ModelError(
                    f"metrics() returned {metric!r}: each metric must be "
                    '{"type": "COUNTER"|"GAUGE"|"TIMER", "key": str, "value": number}'
                )
        return found


def is_metric(metric: Any) -> bool:
    """A ``{"type": COUNTER|GAUGE|TIMER, "key": str, "value": number[, "tags": {}]}``."""
    return (
        isinstance(metric, dict)
        and metric.get("type") in ("COUNTER", "GAUGE", "TIMER")
        and isinstance(metric.get("key"), str)
        and isinstance(metric.get("value"), (int, float))
        and not isinstance(metric.get("value"), bool)
        and isinstance(metric.get("tags", {}), dict)
    )


def unit_parameters(text: str) -> dict[str, Any]:
    """Constructor keyword arguments from Seldon's ``PREDICTIVE_UNIT_PARAMETERS`` JSON,
    ``[{"name", "value", "type": INT|FLOAT|DOUBLE|STRING|BOOL}]``; ConfigError if bad."""
    if not text.strip():
        return {}
    try:
        listed = json.loads(text)
        return {p["name"]: _TYPES[p.get("type", "STRING")](str(p["value"])) for p in listed}
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.ConfigError(
            f"PREDICTIVE_UNIT_PARAMETERS must be a JSON array of "
            f'{{"name", "value", "type"}} (type INT, FLOAT, DOUBLE, STRING or BOOL): {exc}'
        ) from None
