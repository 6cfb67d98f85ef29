"""The ``--mlflow`` benchmark without servers: its bodies are what MLflow and servekit
read as the rows meant, the answers it expects are what servekit and MLflow's own scoring
function give for the benchmark model, and its table and goals."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from benchmarks.__main__ import verdicts
from benchmarks.mlflow_bench import (
    ROWS,
    in_process,
    invocations_body,
    missed,
    mlflow_table,
    model_body,
    stack,
    workloads,
)
from benchmarks.models.mlflow_classifier import build, frame, predictions
from flask.testing import FlaskClient

from tests.unit.test_benchmark_verdicts import run as verdict_run

RECORDS = [
    {"tenure": 55, "monthly": 86.93, "plan": "basic"},
    {"tenure": 3, "monthly": 19.5, "plan": "pro"},
]


def test_the_bodies_hold_the_rows_in_each_protocol() -> None:
    split = json.loads(invocations_body(RECORDS))["dataframe_split"]
    assert split == {
        "columns": ["tenure", "monthly", "plan"],
        "data": [[55, 86.93, "basic"], [3, 19.5, "pro"]],
    }
    assert orjson.loads(model_body(RECORDS[:1])) == {"data": RECORDS[0]}
    assert orjson.loads(model_body(RECORDS)) == {"data": RECORDS}


def test_invocations_go_to_both_servers_and_model_only_to_servekit() -> None:
    many = RECORDS * 50
    work = workloads(many, [1, 0] * 50)
    assert [(w.name, w.path, w.servers, w.against) for w in work] == [
        ("sklearn 1 row", "/invocations", ("mlflow", "servekit"), "sklearn 1 row"),
        ("sklearn 1 row /model", "/model", ("servekit",), "sklearn 1 row"),
        ("sklearn 100 rows", "/invocations", ("mlflow", "servekit"), "sklearn 100 rows"),
        ("sklearn 100 rows /model", "/model", ("servekit",), "sklearn 100 rows"),
    ]
    assert work[0].expect == b'\r\n\r\n{"predictions": [1]}'
    assert work[1].expect == b'\r\n\r\n{"result":[1],'
    assert work[2].body == invocations_body(many)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FlaskClient]:
    folder = build(tmp_path_factory.mktemp("mlflow-bench") / "model")
    return folder, in_process(folder).test_client()


def test_the_expected_answers_are_servekits_and_mlflows(
    served: tuple[Path, FlaskClient],
) -> None:
    """What the benchmark counts as correct is what each server answers for its model:
    servekit over both routes, and MLflow's own scoring function (``mlflow models
    serve``'s) byte for byte on /invocations."""
    from mlflow.pyfunc import scoring_server

    folder, client = served
    table = frame(max(ROWS), seed=22)
    predicted = predictions(table, folder)
    assert 0 < sum(predicted) < len(predicted)  # both classes: a wrong answer shows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(str(folder))
    for work in workloads(table.to_dict(orient="records"), predicted):
        answer = client.post(work.path, data=work.body, content_type="application/json")
        assert answer.status_code == 200
        assert work.expect in b"\r\n\r\n" + answer.data
        if work.path == "/invocations":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = scoring_server.invocations(
                    work.body.decode(), "application/json", model, model.metadata.get_input_schema()
                )
            assert b"\r\n\r\n" + theirs.response.encode() == work.expect


def run(server: str, model: str, p99: float, rps: float, errors: int = 0) -> dict[str, Any]:
    """A row of the report, as :func:`benchmarks.mlflow_bench.mlflow_runs` writes it."""
    return {
        **verdict_run(server, p99=p99, errors=errors, rps=rps),
        "model": model,
        "against": model.removesuffix(" /model"),
        "closed_loop_cpu_us": {"worker": 1500.0, "nginx": 100.0},
    }


REPORT = {
    "runs": [
        run("mlflow", "sklearn 1 row", 5.0, 400.0),
        run("servekit", "sklearn 1 row", 4.0, 1600.0),
        run("servekit", "sklearn 1 row /model", 6.0, 500.0),
    ]
}


def test_the_table_sets_servekit_against_mlflow_on_the_same_rows() -> None:
    text = mlflow_table(REPORT)
    assert text.startswith("| model | figure | servekit | mlflow | servekit/mlflow |")
    assert "| sklearn 1 row | saturation req/s | 1600.00 | 400.00 | 4.00 |" in text
    assert "| sklearn 1 row /model | p99 ms @100 rps | 6.00 | 5.00 | 1.20 |" in text
    assert "| sklearn 1 row | CPU us/request, server processes (saturation) | 1600.00 |" in text
    assert text.count("cold start s") == 1  # the server's figures once
    assert text.count("\n|---") == 1  # one header


def test_goals_are_targets_and_only_servekits_errors_break_the_promise() -> None:
    assert missed(REPORT) == [
        "sklearn 1 row /model: saturation 1.25x MLflow's (goal 3.0x)",
        "sklearn 1 row /model: p99 6.00 ms, not under MLflow's 5.00 ms",
    ]
    assert verdicts(REPORT) == ([], [])
    failing = {"runs": [*REPORT["runs"], run("mlflow", "sklearn 100 rows", 80.0, 1.0, errors=3)]}
    assert verdicts(failing) == ([], [])
    failing["runs"].append(run("servekit", "sklearn 100 rows", 60.0, 1.0))
    assert verdicts(failing)[0] == ["sklearn 100 rows: p99 60.0 ms, 0 errors ()"]


def test_the_stack_names_mlflows_server() -> None:
    found = stack()
    assert set(found) == {"mlflow", "uvicorn", "fastapi", "http", "loop"}
    assert found["http"] in ("httptools", "h11")
