"""The Flask transport over a real Python runtime, through Flask's test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.settings import Settings
from tests.conftest import write_project

MODEL = """
    from typing import Literal
    import numpy as np
    import numpy.typing as npt

    def predict(x: int, scale: float = 1.0, mode: Literal["sum", "max"] = "sum",
                values: npt.NDArray[np.float64] | None = None):
        if x < 0:
            raise RuntimeError("negative x")
        total = float(values.sum() if mode == "sum" else values.max()) if values is not None else 0
        return {"x": x * scale, "total": total, "echo": values}
"""


@pytest.fixture
def state(tmp_path: Path) -> ServerState:
    write_project(tmp_path, {"model.py": MODEL})
    plane = load_dataplane(Settings(target=f"{tmp_path}/model.py:predict"))
    return ServerState(dataplane=plane)


@pytest.fixture
def client(state: ServerState) -> FlaskClient:
    return create_app(Settings(max_body_bytes=4096), state).test_client()


def post(client: FlaskClient, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/model", data=data, headers={"Content-Type": "application/json", **headers})


def test_success_envelope(client: FlaskClient) -> None:
    reply = post(
        client,
        {"data": {"x": 2, "scale": 1.5, "values": [[1, 2], [3, 4]]}},
        **{"X-Request-ID": "abc.1"},
    )
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["result"] == {"x": 3.0, "total": 10.0, "echo": [[1.0, 2.0], [3.0, 4.0]]}
    assert body["request_id"] == "abc.1" == reply.headers["X-Request-ID"]
    assert set(body) == {"result", "request_id", "model_time_in_ms", "timing", "release"}


def test_an_unsafe_request_id_is_replaced(client: FlaskClient) -> None:
    reply = post(client, {"data": {"x": 1}}, **{"X-Request-ID": "bad id\twith spaces"})
    assert reply.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(reply.headers["X-Request-ID"]) == 32


def test_not_ready_until_loaded_and_when_draining(state: ServerState) -> None:
    empty = create_app(Settings(), ServerState()).test_client()
    for reply in (empty.get("/readyz"), post(empty, {"data": {"x": 1}})):
        assert reply.status_code == 503
        assert reply.get_json()["error"]["code"] == "NOT_READY"
        assert reply.headers["Retry-After"] == "1"
    assert empty.get("/healthz").status_code == 200
    state.draining = True
    draining = create_app(Settings(), state).test_client()
    assert "draining" in draining.get("/readyz").get_json()["error"]["message"]


def test_model_error_hides_the_traceback(client: FlaskClient) -> None:
    reply = post(client, {"parameters": [-1]})
    assert reply.status_code == 500
    assert reply.get_json()["error"]["message"] == "RuntimeError: negative x"
    assert b"Traceback" not in reply.data


def test_body_over_the_limit_is_413_in_the_envelope(client: FlaskClient) -> None:
    reply = post(client, b'{"data": {"x": 1, "pad": "' + b"x" * 5000 + b'"}}')
    assert reply.status_code == 413
    assert reply.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "4096 bytes" in reply.get_json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json", ""])
def test_json_content_types_are_accepted(client: FlaskClient, content_type: str) -> None:
    reply = client.post(
        "/model",
        data=b'{"data": {"x": 1}}',
        headers={"Content-Type": content_type} if content_type else {},
    )
    assert reply.status_code == 200


def test_literal_and_array_problems_name_the_field(client: FlaskClient) -> None:
    reply = post(client, {"data": {"x": 1, "mode": "min", "values": [[1, 2], [3]]}})
    details = {d["path"]: d for d in reply.get_json()["error"]["details"]}
    assert reply.status_code == 422
    assert details["data.mode"]["expected"] == "one of 'sum', 'max'"
    assert "ragged" in details["data.values"]["got"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=json_values)
def test_no_json_document_gets_a_500(client: FlaskClient, document: Any) -> None:
    for body in (document, {"data": document}, {"parameters": document}):
        reply = post(client, body)
        if reply.status_code == 500:  # only the model's own, deliberate error
            assert reply.get_json()["error"]["message"] == "RuntimeError: negative x"
        else:
            assert reply.status_code in (200, 400, 422), reply.data
        assert reply.get_json() is not None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_no_bytes_get_a_500(client: FlaskClient, raw: bytes) -> None:
    reply = post(client, raw)
    assert reply.status_code in (200, 400, 422), reply.data
    assert reply.get_json()["request_id"]


def test_flasks_own_prediction_view_answers_like_the_fast_path(client: FlaskClient) -> None:
    # PredictionPath answers prediction POSTs before Flask; Flask's view for the same routes
    # (there for 405s) must give the same answer if it is ever reached directly.
    inner = Client(client.application.wsgi_app.app, client.application.response_class)
    body = {"data": {"x": 2, "scale": 2.0}}
    fast, direct = post(client, body), post(inner, body)  # type: ignore[arg-type]
    assert fast.status_code == direct.status_code == 200
    assert (
        fast.get_json()["result"]
        == direct.get_json()["result"]
        == {"x": 4.0, "total": 0, "echo": None}
    )
    bad = post(inner, {"data": {"x": "a"}})  # type: ignore[arg-type]
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (422, "INVALID_ARGUMENTS")
