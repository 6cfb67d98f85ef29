"""MLflow's scoring protocol on real servers: for each model of :mod:`tests.mlflow_models`,
MLflow's own scoring server (``mlflow models serve --env-manager local``, uvicorn) and
``servekit serve`` (uWSGI behind nginx) are sent the same ``/invocations`` bodies (every
format, with and without params, CSV, Parquet, bad bodies, a wrong content type) and
answer the same status, Content-Type and bytes, but for one difference on purpose:
where MLflow sends a traceback (``stack_trace``, when the model raised or pandas could
not read a CSV body), servekit logs it and sends the rest of the same document.

Both servers run with one ``PYTHONHASHSEED``: some of MLflow's messages print a set,
whose order is the process's. ``/ping``, ``/health`` and ``/version`` answer alike; a
token, when servekit has tokens, is asked for in MLflow's shape; a Python model has no
``/invocations``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import mlflow_models
from tests.conftest import REPO, Reply, Server, free_port, http, start_server, write_project

pytestmark = pytest.mark.integration

MODELS = ("classifier", "regressor", "pyfunc", "unsigned", "tensors")
TOKEN = "sc0ring"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON, CSV, PARQUET = "application/json", "text/csv", "application/vnd.apache.parquet"
LIMIT = 64 * 1024
ENV = {
    "PYTHONHASHSEED": "0",  # MLflow prints sets in some messages
    "PYTHONPATH": str(REPO),  # the PythonModels are pickled by reference to tests.*
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
}


@dataclass
class Pair:
    """MLflow's scoring server and servekit's, serving one model."""

    mlflow: Server
    servekit: Server

    def send(
        self, body: bytes, content_type: str | None = JSON, path: str = "/invocations"
    ) -> tuple[Reply, Reply]:
        headers = {"Content-Type": content_type} if content_type is not None else {}
        method = "POST" if path == "/invocations" else "GET"
        data = body if method == "POST" else None
        theirs = http(method, f"{self.mlflow.url}{path}", data, headers)
        ours = http(method, f"{self.servekit.url}{path}", data, {**headers, **AUTH})
        return theirs, ours

    def same(
        self, body: bytes, content_type: str | None = JSON, path: str = "/invocations"
    ) -> Reply:
        """Both answer ``body`` alike (a traceback aside); servekit's answer."""
        theirs, ours = self.send(body, content_type, path)
        assert (ours.status, ours.headers["content-type"]) == (
            theirs.status,
            theirs.headers["content-type"],
        ), (theirs.raw[:600], ours.raw[:600])
        if isinstance(theirs.body, dict) and "stack_trace" in theirs.body:
            assert "stack_trace" not in ours.body
            expected = {k: v for k, v in theirs.body.items() if k != "stack_trace"}
            assert ours.raw == json.dumps(expected).encode()
        else:
            assert ours.raw == theirs.raw
        return ours


def _start_mlflow(model: Path, log_path: Path) -> Server:
    if shutil.which("uvicorn", path=ENV["PATH"]) is None:
        pytest.fail("mlflow models serve needs uvicorn: pip install mlflow (it brings uvicorn)")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model)]
    command += ["--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **ENV},
            start_new_session=True,
        )
    return Server(process, port, log_path)


def _wait_for_mlflow(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"mlflow models serve exited:\n{server.log()}")
        try:
            if http("GET", f"{server.url}/ping", timeout=1.0).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"mlflow models serve not ready within {timeout}s:\n{server.log()}")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    """Every model served by both, started all at once (a few seconds each)."""
    folder = tmp_path_factory.mktemp("mlflow-scoring")
    models = {name: getattr(mlflow_models, name)(folder / name) for name in MODELS}
    started: list[Server] = []
    try:
        theirs: dict[str, Server] = {}
        for name, path in models.items():
            theirs[name] = _start_mlflow(path, folder / f"{name}.mlflow.log")
            started.append(theirs[name])
        env = {**ENV, "SERVEKIT_ACCESS_TOKENS": TOKEN, "SERVEKIT_MAX_BODY_BYTES": str(LIMIT)}

        def ours(name: str) -> Server:
            args = [str(models[name]), "--processes", "1"]
            return start_server(args, folder / f"{name}.servekit.log", env=env, ready_timeout=90)

        with ThreadPoolExecutor(len(MODELS)) as pool:
            futures = {name: pool.submit(ours, name) for name in MODELS}
            for future in futures.values():  # every one, so that each started is stopped
                with contextlib.suppress(AssertionError):
                    started.append(future.result())
            servekit = {name: future.result() for name, future in futures.items()}
        for server in theirs.values():
            _wait_for_mlflow(server)
        yield {name: Pair(theirs[name], servekit[name]) for name in MODELS}
    finally:
        for server in started:
            server.stop()


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def split(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {"columns": columns, "data": [[row[c] for c in columns] for row in rows]}


def forms(rows: list[dict[str, Any]], **extra: Any) -> list[bytes]:
    """The four JSON forms of ``rows`` (``extra`` beside the data: params)."""
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    return [
        dumps({"dataframe_split": split(rows), **extra}),
        dumps({"dataframe_records": rows, **extra}),
        dumps({"instances": rows, **extra}),
        dumps({"inputs": columns, **extra}),
    ]


def parquet(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pd.DataFrame(rows).to_parquet(out)
    return out.getvalue()


CHURN = mlflow_models.churn_frame(4, seed=3).to_dict(orient="records")
XS = mlflow_models.regression_frame(3, seed=5).to_dict(orient="records")
SUMS = [{"a": 1, "b": 2.5, "note": "caf\u00e9"}, {"a": -4, "b": 0.25, "note": "x"}]
BAD = [
    b'{"dataframe_records": [{"tenure": 3,',  # malformed JSON
    b"[1, 2]",  # not an object
    dumps({"records": CHURN}),  # an unknown format key (MLflow prints its set of keys)
    dumps({"inputs": CHURN, "instances": CHURN}),  # two formats
    dumps({"dataframe_split": {**split(CHURN), "extra": 1}}),  # split's keys, a set again
]
CONTENT_TYPES = ["text/plain", "application/json; charset=latin-1", "application/json; q=1"]


def test_the_classifier_in_every_format_and_refusal(pairs: dict[str, Pair]) -> None:
    pair = pairs["classifier"]
    for body in forms(CHURN) + forms(CHURN, params={"ignored": 1}):
        reply = pair.same(body)
        assert reply.status == 200
        assert len(reply.body["predictions"]) == len(CHURN)
    pair.same(pd.DataFrame(CHURN).to_csv(index=False).encode(), CSV)
    pair.same(parquet(CHURN), PARQUET)
    missing = pair.same(dumps({"dataframe_records": [{"tenure": 3, "plan": "basic"}]}))
    assert missing.status == 400
    assert "Model is missing inputs ['monthly']" in missing.body["message"]
    wrong = pair.same(dumps({"dataframe_records": [{**CHURN[0], "tenure": "three"}]}))
    assert wrong.body["error_code"] == "BAD_REQUEST"
    pair.same(b"tenure,monthly,plan\nthree,50.5,basic\n", CSV)  # a traceback in MLflow's
    for body in BAD:
        assert pair.same(body).status == 400
    for content_type in CONTENT_TYPES:
        assert pair.same(dumps({"inputs": CHURN}), content_type).status == 415


def test_params_as_mlflow_checks_them(pairs: dict[str, Pair]) -> None:
    regressor, pyfunc = pairs["regressor"], pairs["pyfunc"]
    for params in ({}, {"threshold": 0.1, "mode": "slow", "top": 5, "weights": [0.5, 1, 2]}):
        for body in forms(XS, params=params):
            assert regressor.same(body).status == 200
    for params in ({"top": "many"}, {"weights": "heavy"}, {"unknown": 1}):
        regressor.same(dumps({"dataframe_records": XS, "params": params}))
    for params in ({}, {"scale": 2.0, "offset": 3}, {"scale": "big"}):
        for body in forms(SUMS, params=params):
            pyfunc.same(body)
    frame = pyfunc.same(dumps({"dataframe_records": SUMS, "params": {"scale": 2.0}}))
    assert frame.body["predictions"][0] == {"total": 7.0, "label": "7.0 caf\u00e9"}
    pyfunc.same(dumps({"dataframe_records": [{"a": "one", "b": 1.0}]}))
    pyfunc.same(dumps({"dataframe_records": [{"b": 1.0}]}))
    pyfunc.same(b"a,b,note\n1,2.5,x\n2,0.5,\n", CSV)


def test_models_without_a_column_signature(pairs: dict[str, Pair]) -> None:
    unsigned, tensors = pairs["unsigned"], pairs["tensors"]
    for body in forms(XS):  # inputs: a dict of arrays sklearn refuses (a traceback)
        unsigned.same(body)
    unsigned.same(pd.DataFrame(XS).to_csv(index=False).encode(), CSV)
    rows = [[1.0, 2.0, 3.5], [0.0, -1.0, 4.0]]
    assert tensors.same(dumps({"inputs": {"x": rows}})).body == {"predictions": [6.5, 3.0]}
    tensors.same(dumps({"instances": [{"x": row} for row in rows]}))
    tensors.same(dumps({"inputs": {"x": [[1.0, 2.0]]}}))  # the wrong shape


NOTES = st.one_of(st.none(), st.text(max_size=6))
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.integers(-(2**53), 2**53),
            "b": st.floats(allow_nan=True, allow_infinity=False),
            "note": NOTES,
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, form=st.integers(0, 3), scale=st.floats(-4, 4))
def test_any_rows_answer_alike(
    pairs: dict[str, Pair], rows: list[dict[str, Any]], form: int, scale: float
) -> None:
    pairs["pyfunc"].same(forms(rows, params={"scale": scale})[form])


def test_probes_version_and_limits(pairs: dict[str, Pair]) -> None:
    pair = pairs["classifier"]
    for path in ("/ping", "/health", "/version"):
        pair.same(b"", None, path)
    anonymous = http("POST", f"{pair.servekit.url}/invocations", dumps({"inputs": CHURN}), {})
    assert anonymous.status == 401
    assert anonymous.body["error_code"] == "UNAUTHENTICATED"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    huge = http("POST", f"{pair.servekit.url}/invocations", b"x" * (LIMIT + 1), AUTH)
    assert huge.status == 413
    assert huge.body["error_code"] == "BAD_REQUEST"
    assert f"larger than the limit of {LIMIT} bytes" in huge.body["message"]


def test_a_python_model_has_no_invocations(serve: Any, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "py", {"model.py": "def predict(x: int) -> int:\n    return x\n"}
    )
    server = serve(f"{project}/model.py:predict", env={"SERVEKIT_ACCESS_TOKENS": TOKEN})
    assert http("POST", f"{server.url}/invocations", b"{}", {}).status == 401
    reply = http("POST", f"{server.url}/invocations", dumps({"inputs": [1]}), AUTH)
    assert reply.status == 404
    assert reply.body["error_code"] == "ENDPOINT_NOT_FOUND"
    assert http("GET", f"{server.url}/ping").status == 404
    assert "/invocations" not in http("GET", f"{server.url}/openapi.json").body["paths"]
