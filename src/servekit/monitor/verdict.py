"""The whole comparison of a window against its baseline, and its verdict: every
feature's drift (most severe first), the prediction's, the quality where ground truth
joined, the thresholds crossed, and the summary JSON of it all. No file I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from servekit.errors import ConfigError
from servekit.monitor._libs import pandas
from servekit.monitor.analysis import Compared, compare, join_labels, match_columns
from servekit.monitor.quality import bucket_unit, choose_task, score, score_over_time
from servekit.monitor.sample import Sample
from servekit.monitor.thresholds import Thresholds

__all__ = ["Verdict", "judge"]


@dataclass
class Verdict:
    """What ``servekit monitor`` found."""

    features: list[Compared]
    prediction: Compared | None
    quality: dict[str, Any] | None
    crossed: list[dict[str, Any]] = field(default_factory=list)
    not_in_baseline: list[str] = field(default_factory=list)
    not_captured: list[str] = field(default_factory=list)


def _severity(item: Compared) -> tuple[bool, bool, float]:
    return (item.drifted, item.drift is not None, item.drift.psi if item.drift else 0.0)


def judge(
    sample: Sample,
    baseline: Any,
    baseline_predictions: Any,
    labels: dict[str, Any],
    thresholds: Thresholds,
    prediction_key: str = "",
    task: str = "auto",
) -> Verdict:
    """Compare ``sample`` with ``baseline`` (a DataFrame; ``baseline_predictions`` a
    Series or None) and judge it by ``thresholds``."""
    columns = [str(c) for c in baseline.columns]
    features = [str(c) for c in sample.frame.columns]
    matched = match_columns(columns, features)
    if not matched:
        raise ConfigError(
            "no captured feature is a column of the baseline (captured: "
            f"{', '.join(sorted(features)) or 'none'}; baseline: {', '.join(columns) or 'none'})"
        )
    compared = sorted(
        (
            compare(
                name, column, baseline[column], sample.frame[name], thresholds.for_feature(name)
            )
            for name, column in matched.items()
        ),
        key=_severity,
        reverse=True,
    )
    prediction = None
    if baseline_predictions is not None:
        current = pandas.Series(sample.predictions)
        prediction = compare(
            "prediction",
            str(baseline_predictions.name),
            baseline_predictions,
            current,
            thresholds.for_prediction(),
        )
    verdict = Verdict(
        features=compared,
        prediction=prediction,
        quality=_quality(sample, labels, thresholds, prediction_key, task),
        not_in_baseline=sorted(set(features) - set(matched)),
        not_captured=sorted(set(columns) - set(matched.values())),
    )
    verdict.crossed = _crossed(verdict, thresholds)
    return verdict


def _quality(
    sample: Sample, labels: dict[str, Any], thresholds: Thresholds, key: str, task: str
) -> dict[str, Any] | None:
    if not labels:
        return None
    times, truths, guesses = join_labels(sample, labels, key)
    found: dict[str, Any] = {"labels": len(labels), "joined": len(truths)}
    if not truths:
        return found
    found["task"] = chosen = choose_task(truths, guesses, task)
    found.update(score(chosen, truths, guesses))
    unit = bucket_unit(min(times), max(times))
    found["over_time"] = {
        "unit": unit,
        "points": score_over_time(chosen, times, truths, guesses, unit),
    }
    found["bounds"] = {m: {side: value} for m, (side, value) in thresholds.quality.items()}
    return found


def _crossed(verdict: Verdict, thresholds: Thresholds) -> list[dict[str, Any]]:
    crossed: list[dict[str, Any]] = []
    for item in [*verdict.features, *([verdict.prediction] if verdict.prediction else [])]:
        if item.drifted and item.drift is not None:
            crossed.append(
                {
                    "kind": "prediction drift" if item is verdict.prediction else "drift",
                    "name": item.name,
                    "psi": item.drift.psi,
                    "p_value": item.drift.p_value,
                    "limits": {"psi": item.limits.psi, "p_value": item.limits.p_value},
                }
            )
    measured = (verdict.quality or {}).get("metrics", {})
    for metric, (side, bound) in thresholds.quality.items():
        value = measured.get(metric)
        if value is not None and (value < bound if side == "min" else value > bound):
            crossed.append({"kind": "quality", "name": metric, "value": value, side: bound})
    return crossed
