"""servekit's metrics in one process, read back with prometheus_client's parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from flask.testing import FlaskClient

from servekit import metrics
from servekit._version import __version__
from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.settings import Settings
from tests.conftest import write_project
from tests.metrics_parsing import samples, value

MODEL = """
    from servekit import metrics

    SEEN = metrics.counter("demo_seen_total", "Values seen, by sign.", ["sign"])

    def predict(x: int):
        if x == 13:
            raise ValueError("unlucky")
        SEEN.labels("neg" if x < 0 else "pos").inc()
        return x
"""


@pytest.fixture(autouse=True)
def fresh_user_registry() -> Iterator[None]:
    metrics._registry = None
    yield
    metrics._registry = None


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    write_project(tmp_path, {"metric_model.py": MODEL})
    settings = Settings(
        target=f"{tmp_path}/metric_model.py:predict",
        access_tokens="t0k",
        model_name="demo",
        model_version="4",
    )
    return create_app(settings, ServerState(dataplane=load_dataplane(settings))).test_client()


def call(client: FlaskClient, document: object, token: str = "t0k") -> int:
    reply = client.post("/model", json=document, headers={"Authorization": f"Bearer {token}"})
    return reply.status_code


def test_counts_are_exact_by_route_code_and_error(client: FlaskClient) -> None:
    codes = [call(client, {"data": {"x": i}}) for i in range(-2, 5)]  # 7 x 200
    codes += [call(client, {"data": {"x": 13}}) for _ in range(2)]  # 2 x MODEL_ERROR
    codes += [call(client, {"data": {"x": "a"}}) for _ in range(3)]  # 3 x INVALID_ARGUMENTS
    codes += [call(client, {"data": {"x": 1}}, token="wrong") for _ in range(4)]  # 4 x 401
    assert codes.count(200) == 7
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "servekit_requests_total", route="/model", code="200") == 7
    assert value(text, "servekit_requests_total", route="/model", code="500") == 2
    assert value(text, "servekit_requests_total", route="/model", code="422") == 3
    assert value(text, "servekit_requests_total", route="/model", code="401") == 4
    assert value(text, "servekit_requests_total", route="/healthz", code="200") == 1
    assert value(text, "servekit_model_errors_total", code="MODEL_ERROR") == 2
    assert value(text, "servekit_model_errors_total", code="INVALID_ARGUMENTS") == 3
    assert value(text, "servekit_model_errors_total", code="UNAUTHORIZED") == 4
    assert value(text, "servekit_auth_failures_total") == 4
    assert value(text, "servekit_request_duration_seconds_count", route="/model") == 16
    assert value(text, "servekit_model_duration_seconds_count") == 7
    assert value(text, "servekit_inflight_requests") == 1  # this very /metrics request
    assert (
        value(
            text, "servekit_build_info", version=__version__, model_name="demo", model_version="4"
        )
        == 1
    )
    assert value(text, "servekit_model_load_seconds") > 0
    assert value(text, "demo_seen_total", sign="neg") == 2
    assert value(text, "demo_seen_total", sign="pos") == 5


def test_latency_buckets_run_from_half_a_millisecond_to_a_minute(client: FlaskClient) -> None:
    call(client, {"data": {"x": 1}})
    text = client.get("/metrics").get_data(as_text=True)
    bounds = sorted(
        float(dict(labels)["le"])
        for name, labels in samples(text)
        if name == "servekit_request_duration_seconds_bucket" and dict(labels)["route"] == "/model"
    )
    assert bounds[0] == 0.0005
    assert bounds[-2:] == [60.0, float("inf")]


def test_labels_never_carry_request_ids_or_input(client: FlaskClient) -> None:
    for i in range(5):
        client.post(
            f"/models/id-{i}/latest/model",
            json={"data": {"x": i}},
            headers={"Authorization": "Bearer t0k", "X-Request-ID": f"req-{i}"},
        )
        client.get(f"/no/such/path/{i}")
    text = client.get("/metrics").get_data(as_text=True)
    label_values = {v for _, labels in samples(text) for _, v in labels}
    assert not any("req-" in v or "id-" in v or "/no/such" in v for v in label_values)
    assert (
        value(
            text, "servekit_requests_total", route="/models/<model_id>/<version>/model", code="200"
        )
        == 5
    )
    assert value(text, "servekit_requests_total", route="<unmatched>", code="404") == 5


def test_a_separate_metrics_port_serves_only_metrics(tmp_path: Path) -> None:
    write_project(tmp_path, {"m2.py": "def predict():\n    return 1\n"})
    settings = Settings(target=f"{tmp_path}/m2.py:predict", port=8080, metrics_port=9090)
    client = create_app(settings, ServerState(dataplane=load_dataplane(settings))).test_client()
    main = "http://localhost:8080"
    side = "http://localhost:9090"
    assert client.get("/metrics", base_url=main).status_code == 404
    assert client.get("/metrics", base_url=side).status_code == 200
    assert client.post("/model", json={"data": {}}, base_url=side).status_code == 404
    assert client.post("/model", json={"data": {}}, base_url=main).status_code == 200


def test_a_wrong_method_counts_under_the_route_it_was_sent_to(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    assert client.get("/model").status_code == 405
    assert client.get("/models/id-1/v1/model").status_code == 405
    assert client.put("/models/id-2/v2/model").status_code == 405
    assert client.post("/healthz").status_code == 405
    assert client.get("/model/extra").status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "servekit_requests_total", route="/model", code="405") == 1
    assert (
        value(
            text, "servekit_requests_total", route="/models/<model_id>/<version>/model", code="405"
        )
        == 2
    )
    assert value(text, "servekit_requests_total", route="/healthz", code="405") == 1
    assert value(text, "servekit_requests_total", route="<unmatched>", code="404") == 1
    assert value(text, "servekit_requests_total", route="<unmatched>", code="405") == 0
    label_values = {v for _, labels in samples(text) for _, v in labels}
    assert not any("id-" in v or "extra" in v for v in label_values)
    access = [orjson.loads(line) for line in capfd.readouterr().err.splitlines() if "{" in line]
    routes = [(line["method"], line["route"], line["code"]) for line in access if "route" in line]
    assert routes[:5] == [
        ("GET", "/model", 405),
        ("GET", "/models/<model_id>/<version>/model", 405),
        ("PUT", "/models/<model_id>/<version>/model", 405),
        ("POST", "/healthz", 405),
        ("GET", "<unmatched>", 404),
    ]
