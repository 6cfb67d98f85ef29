"""The comparison: which baseline column each feature is, its kind and drift, the
prediction's drift, and the quality where ground truth joined. No file I/O.

A feature is numeric when its baseline column's dtype is a number (not a boolean), else
categorical. A baseline column matches the feature of the same name, or else the one
feature whose dotted name ends in ``.column`` (a training CSV's ``tenure`` is the
captured ``customer.tenure``). Values that are missing (null, NaN), or not numbers for a
numeric feature, are counted and left out of the statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from servekit.monitor._libs import pandas
from servekit.monitor.drift import Drift, categorical_drift, numeric_drift
from servekit.monitor.flatten import leaf
from servekit.monitor.quality import as_class
from servekit.monitor.sample import Sample
from servekit.monitor.thresholds import Limits

__all__ = ["Compared", "compare", "join_labels", "kind_of", "match_columns"]


@dataclass(frozen=True)
class Compared:
    """One feature (or the prediction) compared: its drift (None when a side has no
    values), whether it crossed its limits, and the values compared (for the charts)."""

    name: str
    column: str
    kind: str
    drift: Drift | None
    limits: Limits
    drifted: bool
    baseline: Any
    current: Any
    missing: int


def kind_of(series: Any) -> str:
    """``numeric`` or ``categorical``, from a pandas Series' dtype."""
    dtype = series.dtype
    numeric = pandas.api.types.is_numeric_dtype(dtype)
    return "numeric" if numeric and not pandas.api.types.is_bool_dtype(dtype) else "categorical"


def match_columns(columns: list[str], features: list[str]) -> dict[str, str]:
    """Feature name -> baseline column, by name, else by the feature's last dotted part."""
    found = {name: name for name in features if name in columns}
    for column in columns:
        if column in found.values():
            continue
        ends = [f for f in features if f.endswith("." + column) and f not in found]
        if len(ends) == 1:
            found[ends[0]] = column
    return found


def _values(series: Any, kind: str) -> Any:
    """The usable values of ``series`` as a numpy array (floats or strings)."""
    if kind == "numeric":
        if pandas.api.types.is_bool_dtype(series.dtype) or series.dtype == object:
            series = series.map(lambda v: None if isinstance(v, bool) else v)
        numbers = pandas.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        return numbers[np.isfinite(numbers)]
    kept = series[series.notna()]
    return np.asarray([as_class(v) for v in kept], dtype=str)


def compare(name: str, column: str, baseline: Any, current: Any, limits: Limits) -> Compared:
    """Compare two pandas Series; the kind is the baseline's."""
    kind = kind_of(baseline)
    base, now = _values(baseline, kind), _values(current, kind)
    drift = None
    if len(base) and len(now):
        drift = (numeric_drift if kind == "numeric" else categorical_drift)(base, now)
    drifted = drift is not None and limits.drifted(drift.psi, drift.p_value)
    return Compared(name, column, kind, drift, limits, drifted, base, now, len(current) - len(now))


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def join_labels(
    sample: Sample, labels: dict[str, Any], key: str = ""
) -> tuple[list[datetime], list[Any], list[Any]]:
    """(time, label, prediction) of each row whose event has a label: the label itself
    for a one-row record, its element at the row's place when it is a list as long as the
    record's rows; rows without a prediction or label are left out."""
    times: list[datetime] = []
    truths: list[Any] = []
    guesses: list[Any] = []
    for row, event in enumerate(sample.event_ids):
        if event not in labels:
            continue
        label, size = labels[event], sample.sizes[row]
        if isinstance(label, list) and len(label) == size:
            label = label[sample.positions[row]]
        elif size != 1:
            continue
        truth, guess = leaf(label, key), sample.predictions[row]
        if _present(truth) and _present(guess):
            times.append(sample.times[row])
            truths.append(truth)
            guesses.append(guess)
    return times, truths, guesses
