"""The rule that turns a record's inputs into rows of features, and its result into a
prediction per row."""

from __future__ import annotations

from typing import Any

import pytest

from servekit.monitor.flatten import flatten_record, leaf


def test_scalars_are_features_and_objects_give_dotted_names() -> None:
    inputs = {"x": 1.5, "plan": "pro", "customer": {"tenure": 3, "address": {"city": "Oslo"}}}
    flat = flatten_record(inputs, 0.8)
    assert flat is not None
    assert flat.rows == [
        {"x": 1.5, "plan": "pro", "customer.tenure": 3, "customer.address.city": "Oslo"}
    ]
    assert flat.predictions == [0.8]
    assert flat.skipped == frozenset()


def test_a_list_of_objects_is_a_batch_with_the_result_per_row() -> None:
    inputs = {"customers": [{"tenure": 3, "plan": "a"}, {"tenure": 9, "plan": "b"}], "k": 2}
    flat = flatten_record(inputs, [{"churn": 0.1}, {"churn": 0.7}])
    assert flat is not None
    assert flat.rows == [{"k": 2, "tenure": 3, "plan": "a"}, {"k": 2, "tenure": 9, "plan": "b"}]
    assert flat.predictions == [0.1, 0.7]


def test_batches_zip_and_differing_lengths_skip_the_record() -> None:
    flat = flatten_record({"a": [{"x": 1}, {"x": 2}], "b": [{"y": 3}, {"y": 4}]}, None)
    assert flat is not None
    assert flat.rows == [{"x": 1, "y": 3}, {"x": 2, "y": 4}]
    assert flat.predictions == [None, None]
    assert flatten_record({"a": [{"x": 1}], "b": [{"y": 3}, {"y": 4}]}, [1, 2]) is None


def test_a_result_not_aligned_with_the_rows_is_no_prediction() -> None:
    flat = flatten_record({"rows": [{"x": 1}, {"x": 2}]}, {"total": 3})
    assert flat is not None
    assert flat.predictions == [None, None]
    one = flatten_record({"rows": [{"x": 1}]}, [5])
    assert one is not None
    assert one.predictions == [5]


def test_other_lists_are_no_features_and_are_named() -> None:
    flat = flatten_record({"vector": [1, 2, 3], "meta": {"tags": ["a"], "n": 1}}, 1)
    assert flat is not None
    assert flat.rows == [{"meta.n": 1}]
    assert flat.skipped == {"vector", "meta.tags"}


@pytest.mark.parametrize("inputs", [None, [1, 2], "x", {"unencodable": "<object at 0x1>"}])
def test_inputs_that_are_no_object_give_no_rows(inputs: Any) -> None:
    assert flatten_record(inputs, 1) is None


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        (3, "", 3),
        ("yes", "churn", "yes"),
        ({"churn": 0.2}, "", 0.2),
        ({"churn": 0.2, "why": "x"}, "churn", 0.2),
        ({"out": {"churn": 0.2}, "why": "x"}, "churn", 0.2),
        ({"churn": 0.2, "why": "x"}, "", None),
        ({"a": 1, "b": 2}, "c", None),
        ([1, 2], "", None),
    ],
)
def test_a_prediction_or_label_is_one_leaf(value: Any, key: str, expected: Any) -> None:
    assert leaf(value, key) == expected
