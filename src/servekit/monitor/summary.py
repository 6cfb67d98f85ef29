"""The summary JSON: every number the report shows, for a machine (``summary.json``).
No file I/O.

Its shape (``version`` 1)::

    {"version": 1, "exit_code": 0 | 1, "window": {...}, "records": {...}, "baseline": {...},
     "thresholds": {"psi", "p_value"}, "features": [<drift>, ...]  (most severe first),
     "prediction": <drift> | null, "not_in_baseline": [...], "not_captured": [...],
     "skipped_inputs": [...], "quality": {...} | null, "crossed": [...]}

A ``<drift>`` is ``{"name", "column", "kind", "test", "statistic", "p_value", "psi",
"limits": {"psi", "p_value"}, "drifted", "baseline_count", "current_count", "missing",
"bins": [{"bin", "baseline", "current"}]}`` (the shares of the PSI's bins); a feature
with no values on a side has ``"test": null`` and no numbers.
"""

from __future__ import annotations

import math
from typing import Any

from servekit.monitor.analysis import Compared
from servekit.monitor.thresholds import Thresholds
from servekit.monitor.verdict import Verdict

__all__ = ["VERSION", "drift_entry", "finite", "summarise"]

VERSION = 1


def drift_entry(item: Compared) -> dict[str, Any]:
    """One feature's (or the prediction's) drift as JSON."""
    entry: dict[str, Any] = {
        "name": item.name,
        "column": item.column,
        "kind": item.kind,
        "test": None,
        "statistic": None,
        "p_value": None,
        "psi": None,
        "limits": {"psi": item.limits.psi, "p_value": item.limits.p_value},
        "drifted": item.drifted,
        "baseline_count": len(item.baseline),
        "current_count": len(item.current),
        "missing": item.missing,
        "bins": [],
    }
    drift = item.drift
    if drift is not None:
        entry.update(test=drift.test, statistic=drift.statistic, p_value=drift.p_value)
        entry["psi"] = drift.psi
        entry["bins"] = [
            {"bin": label, "baseline": base, "current": now}
            for label, base, now in zip(
                drift.bins, drift.baseline_share, drift.current_share, strict=True
            )
        ]
    return entry


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity made None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [finite(inner) for inner in value]
    return value


def summarise(
    verdict: Verdict,
    thresholds: Thresholds,
    window: dict[str, Any],
    records: dict[str, Any],
    baseline: dict[str, Any],
    skipped_inputs: list[str],
) -> dict[str, Any]:
    """The summary document (``window``, ``records`` and ``baseline`` as given)."""
    document = {
        "version": VERSION,
        "exit_code": 1 if verdict.crossed else 0,
        "window": window,
        "records": records,
        "baseline": baseline,
        "thresholds": {"psi": thresholds.default.psi, "p_value": thresholds.default.p_value},
        "features": [drift_entry(item) for item in verdict.features],
        "prediction": drift_entry(verdict.prediction) if verdict.prediction else None,
        "not_in_baseline": verdict.not_in_baseline,
        "not_captured": verdict.not_captured,
        "skipped_inputs": skipped_inputs,
        "quality": verdict.quality,
        "crossed": verdict.crossed,
    }
    return dict(finite(document))
