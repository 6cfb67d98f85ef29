"""MLflow models on a real uWSGI server: ``servekit serve ./model`` (a folder holding
MLmodel) and ``servekit serve models:/churn/1`` from a sqlite tracking store, answering
in Domino's envelope what the model itself predicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests import mlflow_models
from tests.conftest import Server, http, post_json, run_cli, start_server

pytestmark = pytest.mark.integration


def _predicted(source: str, rows: int, seed: int, tracking_uri: str = "") -> list[Any]:
    import mlflow.pyfunc

    frame = mlflow_models.churn_frame(rows, seed)
    if tracking_uri:
        client_uri = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(tracking_uri)
    try:
        with mlflow_models.quiet():
            predicted = mlflow.pyfunc.load_model(source).predict(frame).tolist()
    finally:
        if tracking_uri:
            mlflow.set_tracking_uri(client_uri)
    return list(predicted)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlflow_models.classifier(tmp_path_factory.mktemp("mlflow-folder") / "churn")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Server]:
    """``servekit serve <folder>``, two workers (each loads the model after the fork)."""
    started = start_server(
        [str(folder), "--processes", "2"], folder.parent / "server.log", ready_timeout=90
    )
    yield started
    started.stop()


def test_the_folder_is_served_as_the_model_predicts(server: Server, folder: Path) -> None:
    frame = mlflow_models.churn_frame(6, seed=5)
    expected = _predicted(str(folder), 6, 5)
    assert len(set(expected)) == 2
    for data in (frame.to_dict(orient="list"), frame.to_dict(orient="records")):
        reply = post_json(f"{server.url}/model", {"data": data})
        assert reply.status == 200, reply.body
        assert reply.body["result"] == expected
        assert reply.body["release"]["model_name"] == "churn"
    one = post_json(f"{server.url}/model", {"data": frame.to_dict(orient="records")[0]})
    assert one.body["result"] == expected[:1]


def test_a_bad_request_is_a_422_naming_the_column(server: Server) -> None:
    reply = post_json(f"{server.url}/model", {"data": [{"tenure": 3, "monthly": "high"}]})
    assert reply.status == 422
    assert reply.body["error"]["code"] == "INVALID_ARGUMENTS"
    paths = [d["path"] for d in reply.body["error"]["details"]]
    assert paths == ["data[0].monthly", "data[0].plan"]
    uneven = post_json(
        f"{server.url}/model", {"data": {"tenure": [1, 2], "monthly": [3.0, 4.0], "plan": ["a"]}}
    )
    assert uneven.status == 422
    assert uneven.body["error"]["details"][0]["path"] == "data.plan"


def test_openapi_documents_the_columns(server: Server) -> None:
    document = http("GET", f"{server.url}/openapi.json").body
    validate(document)
    data = document["components"]["schemas"]["Data"]
    assert data["required"] == ["tenure", "monthly", "plan"]
    assert "column monthly (double)" in data["properties"]["monthly"]["description"]


def test_readyz_shows_the_mlflow_model(server: Server, folder: Path) -> None:
    runtime = http("GET", f"{server.url}/readyz").body["runtime"]
    assert runtime["runtime"] == "mlflow"
    assert runtime["flavor"] == "mlflow.sklearn"
    assert runtime["inputs"] == "columns"
    assert f"model_uuid: {runtime['model_uuid']}" in (folder / "MLmodel").read_text()


def test_a_registered_model_is_served_from_the_tracking_store(tmp_path: Path, folder: Path) -> None:
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    uri = mlflow_models.register(folder, tracking, "churn", tmp_path / "artifacts")
    assert uri == "models:/churn/1"
    refused = run_cli(["serve", uri, "--port", "1"], env={"MLFLOW_TRACKING_URI": ""})
    assert refused.returncode != 0
    assert "set MLFLOW_TRACKING_URI" in refused.stderr
    server = start_server(
        [uri, "--processes", "1"],
        tmp_path / "server.log",
        env={"MLFLOW_TRACKING_URI": tracking},
        ready_timeout=90,
        cwd=tmp_path,
    )
    try:
        frame = mlflow_models.churn_frame(5, seed=9)
        reply = post_json(f"{server.url}/model", {"data": frame.to_dict(orient="list")})
        assert reply.status == 200, reply.body
        assert reply.body["result"] == _predicted(uri, 5, 9, tracking)
        assert reply.body["release"]["model_name"] == "churn"
        runtime = http("GET", f"{server.url}/readyz").body["runtime"]
        assert runtime["target"] == uri
    finally:
        server.stop()
