"""Matching baseline columns to features, each feature's kind and usable values, and
ground truth joined to rows, on small frames."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from servekit.monitor.analysis import compare, join_labels, kind_of, match_columns
from servekit.monitor.sample import sample_of
from servekit.monitor.thresholds import Limits

T0 = datetime(2026, 12, 4, tzinfo=timezone.utc)


def test_columns_match_by_name_then_by_the_last_dotted_part() -> None:
    found = match_columns(["tenure", "plan", "age", "x"], ["customer.tenure", "plan", "a.x", "b.x"])
    assert found == {"plan": "plan", "customer.tenure": "tenure"}  # x: two candidates


@pytest.mark.parametrize(
    ("values", "kind"),
    [([1, 2], "numeric"), ([1.5, None], "numeric"), (["a", "b"], "categorical"),
     ([True, False], "categorical")],
)  # fmt: skip
def test_the_kind_is_the_baseline_dtype(values: list[object], kind: str) -> None:
    assert kind_of(pd.Series(values)) == kind


def test_missing_and_non_numbers_are_counted_and_left_out() -> None:
    base = pd.Series([1.0, 2.0, 3.0, 4.0])
    found = compare(
        "x", "x", base, pd.Series([2, None, "3", True, float("nan"), 5], dtype=object), Limits()
    )
    assert found.current.tolist() == [2.0, 3.0, 5.0]
    assert found.missing == 3
    empty = compare("x", "x", base, pd.Series([None, None]), Limits())
    assert (empty.drift, empty.drifted, empty.missing) == (None, False, 2)


def test_categories_are_text_on_both_sides() -> None:
    found = compare("c", "c", pd.Series([True, False]), pd.Series([True, "False", None]), Limits())
    assert found.kind == "categorical"
    assert found.current.tolist() == ["True", "False"]


def test_labels_join_a_batch_by_place_and_a_single_row_as_it_is() -> None:
    records = [
        {"time": T0, "event_id": "b", "inputs": {"rows": [{"x": 1}, {"x": 2}]}, "result": [0, 1],
         "status": 200},
        {"time": T0, "event_id": "s", "inputs": {"x": 3}, "result": {"y": "no"}, "status": None},
        {"time": T0, "event_id": "c", "inputs": {"rows": [{"x": 4}, {"x": 5}]}, "result": [1, 1],
         "status": 200},
        {"time": T0, "event_id": "f", "inputs": {"x": 6}, "result": None, "status": 500,
         "error": "boom"},
    ]  # fmt: skip
    sample = sample_of(records)
    assert sample.frame["x"].tolist() == [1, 2, 3, 4, 5]
    assert sample.counts() == {"read": 4, "used": 3, "failed": 1, "unusable": 0, "rows": 5}
    labels = {"b": [1, 1], "s": {"y": "yes"}, "c": 1, "f": 0}  # c: one label for two rows
    times, truths, guesses = join_labels(sample, labels)
    assert (truths, guesses) == ([1, 1, "yes"], [0, 1, "no"])
    assert times == [T0, T0, T0]
