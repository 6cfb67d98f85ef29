"""Where an MLflow scoring request's time goes, in process: servekit's WSGI app on
``/invocations`` and ``/model`` (no uWSGI, no nginx), MLflow's own scoring function (what
``mlflow models serve`` runs for ``/invocations``, without uvicorn), and the model alone
(the scikit-learn pipeline's ``predict``), for 1 and 100 rows of the ``--mlflow``
benchmark's model (:mod:`benchmarks.mlflow_bench`).

Run with ``python -m benchmarks --micro``; the test suite runs these once each, untimed.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest

from benchmarks.mlflow_bench import ROWS, in_process, label, workloads
from benchmarks.models.mlflow_classifier import build, frame, predictions


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The benchmark's model, its folder and the rows (a pandas frame)."""
    folder = build(tmp_path_factory.mktemp("mlflow-micro") / "model")
    return folder, frame(max(ROWS), seed=22)


@pytest.fixture(scope="module")
def app(model: tuple[Path, Any]) -> Any:
    return in_process(model[0])


def _work(model: tuple[Path, Any], route: str, rows: int) -> Any:
    folder, table = model
    found = workloads(table.to_dict(orient="records"), predictions(table, folder))
    return next(w for w in found if w.path == route and w.against == label(rows))


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("route", ["/invocations", "/model"])
def test_servekit(benchmark: Any, app: Any, model: tuple[Path, Any], route: str, rows: int) -> None:
    work = _work(model, route, rows)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": route,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(work.body)),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    statuses: list[str] = []

    def call() -> bytes:
        given = {**environ, "wsgi.input": io.BytesIO(work.body)}
        return b"".join(app(given, lambda status, headers, *_: statuses.append(status)))

    body = benchmark(call)
    assert statuses[-1].startswith("200")
    assert work.expect in b"\r\n\r\n" + body


@pytest.mark.parametrize("rows", ROWS)
def test_mlflow_scoring_function(benchmark: Any, model: tuple[Path, Any], rows: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc
        from mlflow.pyfunc import scoring_server

        loaded = mlflow.pyfunc.load_model(str(model[0]))
    schema = loaded.metadata.get_input_schema()
    work = _work(model, "/invocations", rows)
    text = work.body.decode()
    answer = benchmark(scoring_server.invocations, text, "application/json", loaded, schema)
    assert work.expect == b"\r\n\r\n" + answer.response.encode()


@pytest.mark.parametrize("rows", ROWS)
def test_the_model_alone(benchmark: Any, model: tuple[Path, Any], rows: int) -> None:
    folder, table = model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.sklearn

        pipeline = mlflow.sklearn.load_model(str(folder))
    given = table.head(rows)
    assert list(benchmark(pipeline.predict, given)) == predictions(given, folder)
