"""Seldon interop against the real thing: seldon-core 1.18.2's ``seldon-core-microservice``
and ``SeldonClient``, from a virtual environment of their own (scripts/test makes it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port, http, write_project
from tests.metrics_parsing import value

pytestmark = pytest.mark.integration

CLIENTS = REPO / "tests" / "clients"

SELDON_MODEL = """
    import numpy as np

    class SeldonModel:
        def __init__(self, scale=2):
            self.scale = float(scale)

        def predict(self, X, features_names=None, meta=None):
            if isinstance(X, dict):
                if X.get("raise"):
                    raise ValueError("asked to raise")
                return {"keys": sorted(X), "scale": self.scale}
            if isinstance(X, np.ndarray):
                return X * self.scale
            return X * 2

        def class_names(self):
            return ["a", "b"]

        def tags(self):
            return {"model": "seldon-style"}

        def metrics(self):
            return [{"type": "COUNTER", "key": "calls", "value": 1}]
"""

FUNCTION = """
    def predict(x: list[list[float]], names: list[str] = ()) -> dict:
        return {"total": sum(map(sum, x)), "names": list(names), "rows": len(x)}
"""

CALLS = [
    {"data": [[1.0, 2.0]], "payload_type": "ndarray"},
    {"data": [[1.0, 2.0], [3.0, 4.0]], "payload_type": "tensor", "names": ["a", "b"]},
    {"data": [0.5, 1.5], "payload_type": "tensor"},
    {"json_data": {"y": 1, "x": [1, 2]}},
    {"str_data": "ab"},
    {"bin_data": "hi"},
]


@pytest.fixture(scope="module")
def seldon_python() -> Path:
    venv = Path(os.environ.get("SERVEKIT_TEST_SELDON_VENV") or REPO / ".venv-seldon")
    python = venv / "bin" / "python"
    if not (venv / "bin" / "seldon-core-microservice").exists():
        pytest.fail(
            f"seldon-core 1.18.2 is not installed in {venv}: run scripts/test, which makes it "
            "(python3 -m venv .venv-seldon; .venv-seldon/bin/pip install seldon-core==1.18.2 "
            "'setuptools<81'; .venv-seldon/bin/pip install --no-deps -e . orjson)"
        )
    return python


class Microservice:
    """A running ``seldon-core-microservice`` (its own session; stopped by its PID)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # gunicorn and its workers
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture
def microservice(seldon_python: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Microservice] = []

    def start(folder: Path, interface: str, env: dict[str, str] | None = None) -> Microservice:
        port, metrics_port = free_port(), free_port()
        log = tmp_path / f"seldon-{port}.log"
        command = [
            str(seldon_python),
            str(CLIENTS / "seldon_loopback.py"),
            interface,
            "--service-type",
            "MODEL",
            "--http-port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--grpc-workers",
            "0",
            "--workers",
            "1",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        service = Microservice(process, port, log)
        started.append(service)
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", f"http://{service.endpoint}/health/ping", timeout=1).status == 200:
                    return service
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"seldon-core-microservice did not start:\n{log.read_text()}")
            time.sleep(0.2)

    yield start
    for service in started:
        service.stop()


def client_calls(seldon_python: Path, endpoint: str, calls: list[dict[str, Any]]) -> list[Any]:
    done = subprocess.run(
        [str(seldon_python), str(CLIENTS / "seldon_calls.py"), endpoint, json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_seldons_client_gets_the_same_answers_from_servekit(
    serve, microservice, seldon_python: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "model", {"SeldonModel.py": SELDON_MODEL})
    params = json.dumps([{"name": "scale", "value": "3", "type": "FLOAT"}])
    env = {"PREDICTIVE_UNIT_PARAMETERS": params}
    seldon = microservice(project, "SeldonModel", env)
    ours = serve(f"{project}/SeldonModel.py:SeldonModel", "--processes", "1", env=env)
    expected = client_calls(seldon_python, seldon.endpoint, CALLS)
    got = client_calls(seldon_python, f"127.0.0.1:{ours.port}", CALLS)
    assert all(answer["success"] for answer in expected), expected
    assert got == expected
    assert expected[0]["response"]["data"] == {
        "names": ["a", "b"],
        "ndarray": [[3.0, 6.0]],
    }, "the reference answer is what this test believes it is"
    # An exception in the model: the same status and reason (the message may differ).
    failing = [{"json_data": {"raise": True}}]
    seldon_error = client_calls(seldon_python, seldon.endpoint, failing)[0]
    our_error = client_calls(seldon_python, f"127.0.0.1:{ours.port}", failing)[0]
    assert (seldon_error["success"], our_error["success"]) == (False, False)
    assert our_error["response"]["status"]["reason"] == seldon_error["response"]["status"]["reason"]
    assert "asked to raise" in our_error["response"]["status"]["info"]
    metrics = http("GET", f"{ours.url}/metrics").body
    assert value(metrics, "calls_total", method="predict") == len(CALLS), "metrics() exported"
    for path in ("/health/ping", "/health/status"):
        theirs = http("GET", f"http://{seldon.endpoint}{path}")
        mine = http("GET", f"{ours.url}{path}")
        assert mine.status == theirs.status == 200
        if path == "/health/ping":
            assert mine.raw == theirs.raw == b"pong"


def test_a_servekit_function_runs_under_seldons_wrapper(
    serve, microservice, seldon_python: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "fn", {"model.py": FUNCTION})
    component = microservice(
        project,
        "servekit.seldon.component.ServekitComponent",
        {"SERVEKIT_TARGET": f"{project}/model.py:predict", "SERVEKIT_LOG_FORMAT": "text"},
    )
    ours = serve(f"{project}/model.py:predict", "--processes", "1")
    calls = [
        {"data": [[1.0, 2.0], [3.0, 4.0]], "payload_type": "ndarray", "names": ["p", "q"]},
        {"data": [[5.0]], "payload_type": "tensor"},
        {"json_data": {"x": [[1, 1]]}},
    ]
    under_seldon = client_calls(seldon_python, component.endpoint, calls)
    under_servekit = client_calls(seldon_python, f"127.0.0.1:{ours.port}", calls)
    assert under_seldon == under_servekit
    assert under_seldon[0]["response"]["jsonData"] == {
        "total": 10.0,
        "names": ["p", "q"],
        "rows": 2,
    }
    bad = [{"data": [["not a number"]], "payload_type": "ndarray"}]
    refused = client_calls(seldon_python, component.endpoint, bad)[0]
    assert refused["success"] is False
    assert refused["response"]["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert "parameters.x[0][0]" in refused["response"]["status"]["info"]
    metadata = http("GET", f"http://{component.endpoint}/metadata").body
    assert metadata["platform"] == "servekit"


def test_seldon_parameters_reach_a_class_under_the_component(
    microservice, seldon_python: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "model", {"SeldonModel.py": SELDON_MODEL})
    params = [
        {"name": "target", "value": f"{project}/SeldonModel.py:SeldonModel", "type": "STRING"},
        {"name": "scale", "value": "5", "type": "FLOAT"},
    ]
    component = microservice(
        project,
        "servekit.seldon.component.ServekitComponent",
        {"PREDICTIVE_UNIT_PARAMETERS": json.dumps(params), "SERVEKIT_LOG_FORMAT": "text"},
    )
    [answer] = client_calls(seldon_python, component.endpoint, [CALLS[0]])
    assert answer["success"], answer
    assert answer["response"]["data"]["ndarray"] == [[5.0, 10.0]]


def test_the_component_imports_only_the_io_free_core(seldon_python: Path) -> None:
    done = subprocess.run(
        [
            str(seldon_python),
            "-c",
            "import sys, servekit.seldon.component; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'flask', 'werkzeug', 'uwsgi', 'prometheus_client', 'redis', 'pika'}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
