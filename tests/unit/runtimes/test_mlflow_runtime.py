"""The MLflow runtime over real MLflow models (made by tests.mlflow_models), driven
through Domino's codec and the data plane as a server drives it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.errors import InvalidArguments, LoadError, ModelError
from servekit.protocols.domino import DominoCodec
from servekit.runtimes import make_runtime, parse_target
from servekit.runtimes.mlflow.runtime import MlflowRuntime
from servekit.runtimes.mlflow.scoring import ScoringInput
from tests import mlflow_models

MAKERS: dict[str, Callable[[Path], Path]] = {
    "classifier": mlflow_models.classifier,
    "regressor": mlflow_models.regressor,
    "pyfunc": mlflow_models.pyfunc,
    "unsigned": mlflow_models.unsigned,
    "tensors": mlflow_models.tensors,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("mlflow")
    return {name: make(base / name) for name, make in MAKERS.items()}


@pytest.fixture(scope="module")
def codecs(models: dict[str, Path]) -> dict[str, DominoCodec]:
    made = {}
    for name, folder in models.items():
        target = parse_target(str(folder))
        runtime = make_runtime(target, target.project_dir())
        runtime.load()
        made[name] = DominoCodec(DataPlane(runtime, Release("test", name, "1")))
    return made


def result(codec: DominoCodec, body: dict[str, Any]) -> Any:
    return orjson.loads(codec.predict(orjson.dumps(body), "r1").body)["result"]


def problems(codec: DominoCodec, body: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidArguments) as caught:
        codec.predict(orjson.dumps(body), "r1")
    return [(p.path, p.expected, p.got) for p in caught.value.problems]


def mlflow_predict(folder: Path, data: Any, params: dict[str, Any] | None = None) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(folder)).predict(data, params=params)


def test_a_folder_with_mlmodel_is_served_by_the_mlflow_runtime(
    codecs: dict[str, DominoCodec], models: dict[str, Path]
) -> None:
    runtime = codecs["classifier"].plane.runtime
    assert isinstance(runtime, MlflowRuntime)
    assert runtime.kind == "mlflow"
    details = runtime.details()
    assert details["flavor"] == "mlflow.sklearn"
    assert details["inputs"] == "columns"
    assert details["model_uuid"] == runtime.model.metadata.model_uuid
    assert details["mlflow_version"] == __import__("mlflow").__version__


def test_one_row_columns_and_rows_give_the_models_own_predictions(
    codecs: dict[str, DominoCodec], models: dict[str, Path]
) -> None:
    frame = mlflow_models.churn_frame(8, seed=3)
    expected = mlflow_predict(models["classifier"], frame).tolist()
    assert len(set(expected)) == 2  # both classes, so a mix-up would show
    records = frame.to_dict(orient="records")
    columns = frame.to_dict(orient="list")
    codec = codecs["classifier"]
    assert result(codec, {"data": columns}) == expected
    assert result(codec, {"data": records}) == expected
    assert [result(codec, {"data": row})[0] for row in records] == expected


def test_a_missing_column_and_a_wrong_type_are_422s_naming_the_column(
    codecs: dict[str, DominoCodec],
) -> None:
    codec = codecs["classifier"]
    assert problems(codec, {"data": {"tenure": 3, "monthly": 9.5}}) == [
        ("data.plan", "string or array of string", "nothing (required)")
    ]
    assert problems(codec, {"data": {"tenure": "3", "monthly": 9.5, "plan": "pro"}}) == [
        ("data.tenure", "integer or array of integer", 'string "3"')
    ]
    found = problems(codec, {"data": [{"tenure": 3, "monthly": 9.5, "plan": 4}]})
    assert found == [("data[0].plan", "string", "integer 4")]


def test_columns_of_unequal_lengths_are_a_422_naming_them(codecs: dict[str, DominoCodec]) -> None:
    body = {"data": {"tenure": [3, 4], "monthly": [9.5], "plan": "pro"}}
    assert problems(codecs["classifier"], body) == [
        ("data.monthly", "2 values, as data.tenure", "1 value"),
        ("data.plan", "2 values, as data.tenure", "1 value"),
    ]


def test_params_take_their_defaults_and_are_typed(
    codecs: dict[str, DominoCodec], models: dict[str, Path]
) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    codec = codecs["pyfunc"]
    plain = result(codec, {"data": frame.to_dict(orient="list")})
    assert plain == mlflow_predict(models["pyfunc"], frame).to_dict(orient="records")
    scaled = result(codec, {"data": {"a": [1, 2], "b": [0.5, 1.5], "scale": 2, "offset": 1}})
    expected = mlflow_predict(models["pyfunc"], frame, {"scale": 2.0, "offset": 1})
    assert (
        scaled
        == expected.to_dict(orient="records")
        == [
            {"total": 4.0, "label": "4.0"},
            {"total": 8.0, "label": "8.0"},
        ]
    )
    assert problems(codec, {"data": {"a": 1, "b": 2, "offset": 1.5}}) == [
        ("data.offset", "integer", "number 1.5")
    ]


def test_an_optional_column_may_be_left_out_or_hold_nulls(codecs: dict[str, DominoCodec]) -> None:
    codec = codecs["pyfunc"]
    assert result(codec, {"data": {"a": 1, "b": 1}}) == [{"total": 2.0, "label": "2.0"}]
    with_notes = result(codec, {"data": [{"a": 1, "b": 1, "note": "hi"}, {"a": 2, "b": 2}]})
    assert [r["label"] for r in with_notes] == ["2.0 hi", "4.0"]


def test_a_model_without_a_signature_takes_any_columns(
    codecs: dict[str, DominoCodec], models: dict[str, Path]
) -> None:
    frame = mlflow_models.regression_frame(4)
    expected = mlflow_predict(models["unsigned"], frame).tolist()
    assert result(codecs["unsigned"], {"data": frame.to_dict(orient="list")}) == expected
    assert result(codecs["unsigned"], {"data": frame.to_dict(orient="records")}) == expected
    with pytest.raises(ModelError, match="x2"):  # the model's own error: no schema to check
        codecs["unsigned"].predict(b'{"data": {"x1": 1.0}}', "r1")


def test_tensors_are_checked_then_passed_as_arrays(codecs: dict[str, DominoCodec]) -> None:
    codec = codecs["tensors"]
    assert result(codec, {"data": {"x": [[1, 2, 3], [4, 5, 6]]}}) == [6.0, 15.0]
    assert problems(codec, {"data": {"x": [[1, 2]]}}) == [
        ("data.x", "tensor float32[?, 3]", "an array of shape [1, 2]")
    ]


def test_a_scoring_input_gets_the_raw_result_and_mlflows_refusals_as_422s(
    codecs: dict[str, DominoCodec],
) -> None:
    runtime = codecs["classifier"].plane.runtime
    frame = mlflow_models.churn_frame(5)
    raw = runtime.predict((ScoringInput(frame),), {})
    assert isinstance(raw, np.ndarray)
    with pytest.raises(InvalidArguments) as caught:
        runtime.predict((ScoringInput(frame.drop(columns=["plan"])),), {})
    assert [(p.path, p.got) for p in caught.value.problems] == [("plan", "nothing (required)")]
    wrong = frame.assign(tenure=["x"] * len(frame))
    with pytest.raises(InvalidArguments) as caught:
        runtime.predict((ScoringInput(wrong),), {})
    assert caught.value.problems[0].path == "tenure"
    regressor = codecs["regressor"].plane.runtime
    data = mlflow_models.regression_frame(2)
    with pytest.raises(InvalidArguments) as caught:
        regressor.predict((ScoringInput(data, {"top": "many"}),), {})
    assert caught.value.problems[0].path == "top"


def test_load_errors_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    broken = MlflowRuntime(parse_target(str(tmp_path / "broken")))
    with pytest.raises(LoadError, match="cannot load MLflow model"):
        broken.load()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/empty.db")
    missing = MlflowRuntime(parse_target("models:/nothing/1"))
    with pytest.raises(LoadError, match=r"models:/nothing/1.*tracking URI sqlite:///"):
        missing.load()


def test_each_column_reaches_the_model_in_its_mlflow_type(tmp_path: Path) -> None:
    runtime = MlflowRuntime(parse_target(str(mlflow_models.echo(tmp_path / "echo"))))
    runtime.load()
    codec = DominoCodec(DataPlane(runtime, Release("test", "echo", "1")))
    row = {"flag": True, "when": "2024-01-02T03:04:05", "blob": "aGk=", "small": 3, "f": 1.5}
    got = result(codec, {"data": [{**row, "vec": [1, 2], "opt": 1}, {**row, "vec": [3], "opt": 7}]})
    assert {name: column["dtype"] for name, column in got.items()} == {
        "flag": "bool",
        "when": "datetime64[ns]",
        "blob": "object",
        "small": "int32",
        "f": "float32",
        "vec": "object",
        "opt": "int64",
    }
    assert got["when"]["cells"] == ["2024-01-02T03:04:05"] * 2  # datetimes, JSON-encoded
    assert got["vec"]["cells"] == [[1.0, 2.0], [3.0]]
    one = result(codec, {"data": {**row, "vec": [1, 2]}})  # a flat array is one row's cell
    assert one["blob"]["cells"] == ["aGk="]  # bytes b"hi", which the encoder writes as base64
    assert one["vec"]["cells"] == [[1.0, 2.0]]
    assert "opt" not in one  # an optional column left out stays out of the frame
    bad = {**row, "blob": "!!", "small": 2**40, "vec": [1]}
    assert [path for path, _, _ in problems(codec, {"data": bad})] == ["data.blob", "data.small"]
    # MLflow's own rule: an integer column cannot hold a missing value (a 422, not a 500)
    gaps = problems(codec, {"data": [{**row, "vec": [1]}, {**row, "vec": [1], "opt": 7}]})
    assert gaps == [("data.opt", "the column's type", "Can not safely convert float64 to int64.")]


def test_without_mlflow_the_load_error_says_what_to_install(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    runtime = MlflowRuntime(parse_target(str(models["classifier"])))
    with pytest.raises(
        LoadError, match=r"MLflow models need mlflow: pip install 'servekit\[mlflow\]'"
    ):
        runtime.load()
