"""Choosing the task, scoring with scikit-learn's metrics, and buckets over time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sklearn import metrics

from servekit.monitor.quality import as_class, bucket_unit, choose_task, score, score_over_time

T0 = datetime(2026, 12, 4, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("labels", "predictions", "task"),
    [
        (["cat", "dog"], ["cat", "cat"], "classification"),
        ([True, False], [1, 0], "classification"),
        ([1, 0], [1.0, 0.0], "classification"),
        ([1.5, 2.0], [1.0, 2.0], "regression"),
        ([3, 4], [3.2, 4.0], "regression"),
    ],
)
def test_the_task_is_chosen_from_the_pairs(
    labels: list[Any], predictions: list[Any], task: str
) -> None:
    assert choose_task(labels, predictions) == task
    assert choose_task(labels, predictions, "regression") == "regression"


def test_classes_compare_as_text() -> None:
    assert [as_class(v) for v in (1, 1.0, "1", True, 2.5)] == ["1", "1", "1", "True", "2.5"]


def test_classes_are_scored_by_sklearn() -> None:
    truth, guess = ["a", "a", "b", "c", "c"], ["a", "b", "b", "c", "a"]
    found = score("classification", truth, guess)
    assert found["metrics"]["accuracy"] == metrics.accuracy_score(truth, guess)
    assert found["metrics"]["f1_macro"] == pytest.approx(
        metrics.f1_score(truth, guess, average="macro")
    )
    assert found["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )


def test_a_class_never_predicted_scores_zero_without_a_warning() -> None:
    found = score("classification", ["a", "b"], ["a", "a"])
    assert found["per_class"]["b"]["precision"] == 0.0


def test_numbers_are_scored_by_sklearn() -> None:
    found = score("regression", [1.0, 2.0, 4.0], [1.5, 2.0, 1.0])
    assert found["metrics"] == pytest.approx({"mae": 7 / 6, "rmse": ((0.25 + 9) / 3) ** 0.5})


def test_hours_up_to_two_days_then_days() -> None:
    assert bucket_unit(T0, T0 + timedelta(hours=48)) == "hour"
    assert bucket_unit(T0, T0 + timedelta(hours=49)) == "day"


def test_buckets_hold_their_own_pairs_in_time_order() -> None:
    times = [T0 + timedelta(hours=2), T0, T0 + timedelta(minutes=10), T0 + timedelta(hours=2)]
    points = score_over_time("classification", times, [1, 1, 0, 0], [1, 1, 1, 0], "hour")
    assert points == [
        {"start": "2026-12-04T10:00:00+00:00", "count": 2, "accuracy": 0.5, "precision_macro": 0.25,
         "recall_macro": 0.5, "f1_macro": pytest.approx(1 / 3)},
        {"start": "2026-12-04T12:00:00+00:00", "count": 2, "accuracy": 1.0, "precision_macro": 1.0,
         "recall_macro": 1.0, "f1_macro": 1.0},
    ]  # fmt: skip
    days = score_over_time("regression", times, [1, 1, 0, 0], [1, 1, 1, 0], "day")
    assert [(p["start"], p["count"]) for p in days] == [("2026-12-04T00:00:00+00:00", 4)]
