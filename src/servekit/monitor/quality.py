"""How good the predictions were where ground truth came: scikit-learn's metrics over
(label, prediction) pairs, for the whole window and per hour or day. I/O-free.

The task is chosen from the pairs unless named: labels or predictions that are strings
or booleans, or numbers that are all whole, are classes (accuracy; precision, recall
and F1 per class and their macro average); other numbers are regression (MAE, RMSE).
Classes are compared as text (``1``, ``1.0`` and ``"1"`` are the same class).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from servekit.monitor._libs import metrics

__all__ = [
    "CLASS_METRICS",
    "NUMBER_METRICS",
    "as_class",
    "bucket_unit",
    "choose_task",
    "score",
    "score_over_time",
]

CLASS_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
NUMBER_METRICS = ("mae", "rmse")
HOURLY_UP_TO_HOURS = 48
"""A window up to this long is bucketed by hour, a longer one by day."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def choose_task(labels: list[Any], predictions: list[Any], requested: str = "auto") -> str:
    """``classification`` or ``regression`` (``requested`` unless it is ``auto``)."""
    if requested != "auto":
        return requested
    values = [*labels, *predictions]
    if all(_is_number(v) for v in values) and not all(float(v).is_integer() for v in values):
        return "regression"
    return "classification"


def as_class(value: Any) -> str:
    """A class label as text: whole numbers without ``.0``."""
    if _is_number(value) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def score(task: str, labels: list[Any], predictions: list[Any]) -> dict[str, Any]:
    """The window's metrics: ``{"metrics": {...}, "per_class": {...}}`` (classes) or
    ``{"metrics": {"mae", "rmse"}}``."""
    if task == "regression":
        truth, guess = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
        return {
            "metrics": {
                "mae": float(metrics.mean_absolute_error(truth, guess)),
                "rmse": float(metrics.root_mean_squared_error(truth, guess)),
            }
        }
    truth_text = [as_class(v) for v in labels]
    guess_text = [as_class(v) for v in predictions]
    classes = sorted(set(truth_text) | set(guess_text))
    found: dict[str, Any] = {"accuracy": float(metrics.accuracy_score(truth_text, guess_text))}
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        truth_text, guess_text, labels=classes, average="macro", zero_division=0
    )
    found.update(precision_macro=float(precision), recall_macro=float(recall), f1_macro=float(f1))
    each = metrics.precision_recall_fscore_support(
        truth_text, guess_text, labels=classes, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(each[0][i]),
            "recall": float(each[1][i]),
            "f1": float(each[2][i]),
            "support": int(each[3][i]),
        }
        for i, name in enumerate(classes)
    }
    return {"metrics": found, "per_class": per_class}


def bucket_unit(first: datetime, last: datetime) -> str:
    """``hour`` for a window up to :data:`HOURLY_UP_TO_HOURS` long, else ``day``."""
    return "hour" if (last - first).total_seconds() <= HOURLY_UP_TO_HOURS * 3600 else "day"


def _bucket(when: datetime, unit: str) -> datetime:
    start = when.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if unit == "day" else start


def score_over_time(
    task: str, times: list[datetime], labels: list[Any], predictions: list[Any], unit: str
) -> list[dict[str, Any]]:
    """The metrics per bucket (``{"start", "count", metric: value...}``), in time order;
    buckets without pairs are left out."""
    buckets: dict[datetime, list[int]] = {}
    for index, when in enumerate(times):
        buckets.setdefault(_bucket(when, unit), []).append(index)
    points = []
    for start in sorted(buckets):
        chosen = buckets[start]
        found = score(task, [labels[i] for i in chosen], [predictions[i] for i in chosen])
        points.append({"start": start.isoformat(), "count": len(chosen), **found["metrics"]})
    return points
