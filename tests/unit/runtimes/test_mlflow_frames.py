"""The MLflow runtime's frames: results made JSON-ready, and MLflow's refusals as 422s."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from servekit.core.encoding import encode
from servekit.runtimes.mlflow.frames import as_column, jsonable, refusal

WHEN = pd.Timestamp("2024-01-02T03:04:05")


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            pd.DataFrame({"p": [0.25, 0.5], "label": ["a", "b"]}),
            [{"p": 0.25, "label": "a"}, {"p": 0.5, "label": "b"}],
        ),
        (pd.DataFrame({"at": [WHEN, pd.NaT]}), [{"at": "2024-01-02T03:04:05"}, {"at": None}]),
        (pd.Series([1, 2], dtype="int32"), [1, 2]),
        (pd.Series([WHEN]), ["2024-01-02T03:04:05"]),
        (np.array([[1.5], [2.5]], dtype="float32"), [[1.5], [2.5]]),
        (np.array(["2024-01-02T03:04"], dtype="datetime64[m]"), ["2024-01-02T03:04"]),
        (
            {"a": np.arange(2), "b": [WHEN, np.int64(3)]},
            {"a": [0, 1], "b": ["2024-01-02T03:04:05", 3]},
        ),
        (np.float64(0.5), 0.5),
        ("text", "text"),
    ],
)
def test_results_become_json(result: object, expected: object) -> None:
    made = jsonable(result)
    assert made == expected
    assert orjson.loads(encode(made)) == expected


def test_a_value_is_a_row_and_an_array_a_column() -> None:
    assert as_column(3) == [3]
    assert as_column([3, 4]) == [3, 4]
    assert as_column([1.0, 2.0], array=True) == [[1.0, 2.0]]
    assert as_column([[1.0], None], array=True) == [[1.0], None]


def _enforcement(reason: str) -> MlflowException:
    return MlflowException.invalid_parameter_value(
        f"Failed to enforce schema of data 'frame' with schema '[...]'. Error: {reason}",
        error_class="SCHEMA_ENFORCEMENT_FAILED",
    )


def test_mlflows_schema_errors_name_the_column() -> None:
    missing = refusal(_enforcement("Model is missing inputs ['plan', 'age']."), "data")
    assert missing is not None
    assert [(p.path, p.got) for p in missing.problems] == [
        ("data.plan", "nothing (required)"),
        ("data.age", "nothing (required)"),
    ]
    typed = refusal(
        _enforcement("Incompatible input types for column age. Can not safely convert x. Hint: y"),
        "",
    )
    assert typed is not None
    assert [(p.path, p.got) for p in typed.problems] == [("age", "Can not safely convert x.")]


def test_other_mlflow_errors_are_the_models() -> None:
    assert refusal(MlflowException("the model broke"), "data") is None
