"""Request timeouts that hold in every worker mode, on every route that runs user code."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pytest

from tests.conftest import http, post_json, write_project

pytestmark = pytest.mark.integration

MODEL = """
import time


def predict(pause: float = 0.0) -> dict:
    time.sleep(pause)
    return {"slept": pause}


class Seldonish:
    def predict(self, X, feature_names):
        return X

    def health_status(self):
        time.sleep(30)
        return {"healthy": True}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_project(tmp_path / "project", {"model.py": MODEL})
    return tmp_path / "project" / "model.py"


def _timed(url: str, pause: float) -> tuple[float, int, object]:
    started = time.monotonic()
    reply = post_json(url, {"data": {"pause": pause}})
    return time.monotonic() - started, reply.status, reply.body


def test_with_threads_a_stuck_request_gets_504_on_time_and_spares_its_neighbour(
    serve, project: Path
) -> None:
    server = serve(f"{project}:predict", "--processes", "1", "--threads", "2", "--timeout", "3")
    url = f"{server.url}/model"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stuck = pool.submit(_timed, url, 20.0)
        time.sleep(1.5)  # the neighbour runs on past the stuck request's 504
        neighbour = pool.submit(_timed, url, 2.5)
        stuck_after, stuck_status, stuck_body = stuck.result()
        _, neighbour_status, neighbour_body = neighbour.result()
    assert stuck_status == 504, stuck_body
    assert stuck_body["error"]["code"] == "TIMEOUT"  # type: ignore[index]
    assert stuck_after < 4.5, f"504 after {stuck_after:.1f} s for a 3 s timeout"
    assert neighbour_status == 200, neighbour_body
    assert neighbour_body["result"] == {"slept": 2.5}  # type: ignore[index]
    # The worker is replaced once its other request is done; the server goes on serving.
    deadline = time.monotonic() + 20
    while post_json(url, {"data": {}}).status != 200:
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.2)


def test_health_status_runs_under_the_timeout_and_needs_a_token(serve, project: Path) -> None:
    server = serve(
        f"{project}:Seldonish", "--processes", "1", "--timeout", "2", "--access-tokens", "k"
    )
    assert http("GET", f"{server.url}/health/status").status == 401
    started = time.monotonic()
    reply = http("GET", f"{server.url}/health/status", headers={"Authorization": "Bearer k"})
    assert reply.status == 504, reply.body
    assert time.monotonic() - started < 3.5
    assert http("GET", f"{server.url}/health/ping").status == 200
