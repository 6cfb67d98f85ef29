"""Metrics from a real multi-process uWSGI server: totals exact, recycling loses nothing."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import pytest

from tests.conftest import free_port, http, post_json, run_cli, write_project
from tests.metrics_parsing import value

pytestmark = pytest.mark.integration

MODEL = """
    import os
    import time
    from servekit import metrics

    CALLS = metrics.counter("demo_calls_total", "Calls, by parity.", ["parity"])

    def predict(x: int, pause: float = 0.0):
        time.sleep(pause)
        if x < 0:
            raise ValueError("negative")
        CALLS.labels("even" if x % 2 == 0 else "odd").inc()
        return {"pid": os.getpid()}
"""


def test_counts_add_up_exactly_across_recycled_workers(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    # Workers recycle every 7 (+ jitter) requests once they have lived a second; the
    # run lasts a few seconds so that several are replaced mid-run.
    server = serve(
        f"{tmp_path}/model.py:predict",
        "--processes",
        "2",
        "--max-requests",
        "7",
        "--max-requests-jitter",
        "3",
        "--model-version",
        "9",
    )
    url = f"{server.url}/model"
    ok, bad = 100, 9

    def send(i: int) -> tuple[int, int | None]:
        reply = post_json(url, {"data": {"x": i if i < ok else -1, "pause": 0.03}})
        return reply.status, reply.body["result"]["pid"] if reply.status == 200 else None

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(send, range(ok + bad)))
    statuses = [status for status, _ in replies]
    assert statuses.count(200) == ok
    assert statuses.count(500) == bad
    for _ in range(4):
        assert post_json(url, {"data": {"x": 0}}).status == 200
    pids = {pid for _, pid in replies if pid is not None}
    assert len(pids) >= 3, f"workers should have been recycled; only pids {pids} answered"
    text = http("GET", f"{server.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="200") == ok + 4
    assert value(text, "servekit_requests_total", route="/model", code="500") == bad
    assert value(text, "servekit_model_errors_total", code="MODEL_ERROR") == bad
    assert value(text, "servekit_request_duration_seconds_count", route="/model") == ok + bad + 4
    assert value(text, "demo_calls_total", parity="even") == ok // 2 + 4
    assert value(text, "demo_calls_total", parity="odd") == ok // 2
    assert value(text, "servekit_inflight_requests") == 1  # only the scrape itself
    assert (
        value(
            text,
            "servekit_build_info",
            version="0.1.0",
            model_name=tmp_path.name,
            model_version="9",
        )
        == 1
    )


def test_each_start_begins_from_zero(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    port = free_port()
    first = serve(f"{tmp_path}/model.py:predict", "--processes", "1", port=port)
    for i in range(3):
        post_json(f"{first.url}/model", {"data": {"x": i}})
    first.stop()
    second = serve(f"{tmp_path}/model.py:predict", "--processes", "1", port=port)
    text = http("GET", f"{second.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="200") == 0


def test_metrics_on_their_own_port(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    metrics_port = free_port()
    server = serve(
        f"{tmp_path}/model.py:predict", "--processes", "2", "--metrics-port", str(metrics_port)
    )
    assert post_json(f"{server.url}/model", {"data": {"x": 2}}).status == 200
    assert http("GET", f"{server.url}/metrics").status == 404
    side = http("GET", f"http://127.0.0.1:{metrics_port}/metrics")
    assert side.status == 200
    assert value(side.raw.decode(), "servekit_requests_total", route="/model", code="200") == 1
    assert post_json(f"http://127.0.0.1:{metrics_port}/model", {"data": {"x": 2}}).status == 404


def test_a_custom_metrics_folder_works(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    folder = tmp_path / "runtime"
    server = serve(
        f"{tmp_path}/model.py:predict",
        "--processes",
        "2",
        env={"SERVEKIT_METRICS_DIR": str(folder)},
    )
    assert post_json(f"{server.url}/model", {"data": {"x": 2}}).status == 200
    text = http("GET", f"{server.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="200") == 1
    assert (folder / f"start-{server.process.pid}" / "metrics").is_dir()


def test_a_failed_second_start_on_the_same_port_leaves_the_first_alone(
    serve, tmp_path: Path
) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    port = free_port()
    first = serve(f"{tmp_path}/model.py:predict", "--processes", "1", port=port)
    for i in range(3):
        assert post_json(f"{first.url}/model", {"data": {"x": i}}).status == 200
    second = run_cli(
        ["serve", "model.py:predict", "--port", str(port), "--host", "127.0.0.1"], cwd=tmp_path
    )
    assert second.returncode != 0
    assert post_json(f"{first.url}/model", {"data": {"x": 9}}).status == 200
    text = http("GET", f"{first.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="200") == 4


def test_a_wrong_method_counts_under_its_route_and_a_stray_path_does_not(
    serve, tmp_path: Path
) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1")
    assert http("GET", f"{server.url}/model", headers={"X-Request-ID": "get-model"}).status == 405
    assert http("GET", f"{server.url}/models/id-7/v7/model").status == 405
    assert http("DELETE", f"{server.url}/models/id-8/v8/model").status == 405
    assert http("GET", f"{server.url}/no/such/path-9").status == 404
    text = http("GET", f"{server.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="405") == 1
    template = "/models/<model_id>/<version>/model"
    assert value(text, "servekit_requests_total", route=template, code="405") == 2
    assert value(text, "servekit_requests_total", route="<unmatched>", code="404") == 1
    assert value(text, "servekit_requests_total", route="<unmatched>", code="405") == 0
    assert value(text, "servekit_model_errors_total", code="METHOD_NOT_ALLOWED") == 3
    assert not any(word in text for word in ("id-7", "id-8", "path-9"))
    server.stop()
    access = [
        json.loads(line)
        for line in server.log().splitlines()
        if line.startswith("{") and '"servekit.access"' in line
    ]
    mine = [line for line in access if line.get("request_id") == "get-model"]
    assert [(line["method"], line["route"], line["code"]) for line in mine] == [
        ("GET", "/model", 405)
    ]
