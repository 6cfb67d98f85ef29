"""An MLflow model batched with SERVEKIT_BATCH_MAX_SIZE: concurrent requests' rows in one
predict, each request's answer exactly what it gets alone (real MLflow models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from servekit.core.batching import BatchOptions
from servekit.core.binding import Binder, BoundCall, Call
from servekit.runtimes import parse_target
from servekit.runtimes.mlflow.batched import predict_rows
from servekit.runtimes.mlflow.runtime import MlflowRuntime
from servekit.runtimes.mlflow.scoring import ScoringInput
from tests import mlflow_models


def _loaded(folder: Path, size: int = 16) -> MlflowRuntime:
    runtime = MlflowRuntime(parse_target(str(folder)), (size, 2.0))
    with mlflow_models.quiet():
        runtime.load()
    return runtime


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> MlflowRuntime:
    with mlflow_models.quiet():
        folder = mlflow_models.classifier(tmp_path_factory.mktemp("m") / "clf")
    return _loaded(folder)


def test_each_request_gets_what_it_gets_alone(classifier: MlflowRuntime) -> None:
    assert classifier.batch_options == BatchOptions(16, 2.0)
    binder = Binder(classifier.signature())
    frame = mlflow_models.churn_frame(rows=9, seed=3)
    records = frame.to_dict(orient="records")
    calls = [
        binder.bind(Call("data", records[0])),  # one row
        binder.bind(Call("data", records[1:4])),  # rows
        BoundCall((ScoringInput(frame.iloc[4:7].reset_index(drop=True), None),), {}),
        binder.bind(Call("data", {k: [r[k] for r in records[7:]] for k in records[0]})),
    ]
    alone = [classifier.predict(c.args, c.kwargs) for c in calls]
    together = classifier.predict_batch(calls)
    assert together[0] == alone[0]
    assert together[1] == alone[1]
    assert together[3] == alone[3]
    np.testing.assert_array_equal(together[2], alone[2])
    assert together[1] == [int(v) for v in alone[1]]


def test_rows_stack_only_with_the_same_params_and_columns() -> None:
    seen: list[int] = []

    def predict(data: Any, params: dict[str, Any] | None) -> Any:
        seen.append(len(data))
        scale = (params or {}).get("scale", 1)
        return data["x"].to_numpy() * scale

    one = pd.DataFrame({"x": [1, 2]})
    two = pd.DataFrame({"x": [3]})
    other = pd.DataFrame({"y": [4]}).rename(columns={"y": "x"}).assign(z=0)
    results = predict_rows(
        [(one, None), (two, None), (one, {"scale": 10}), (other, None), ({"x": 1}, None)],
        lambda d, p: predict(pd.DataFrame(d, index=[0]) if isinstance(d, dict) else d, p),
    )
    assert [list(r) for r in results[:4]] == [[1, 2], [3], [10, 20], [4]]
    assert sorted(seen) == [1, 1, 2, 3]  # one and two stacked (3 rows); the rest alone


def test_a_result_not_one_per_row_runs_each_request_alone() -> None:
    calls: list[int] = []

    def summed(data: Any, params: Any) -> Any:
        calls.append(len(data))
        return {"total": int(data["x"].sum())}

    frames = [pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [5]})]
    assert predict_rows([(f, None) for f in frames], summed) == [{"total": 3}, {"total": 5}]
    assert calls == [3, 2, 1]
