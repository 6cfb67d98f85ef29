"""The Seldon wire format and plane, in one process: servekit functions and Seldon-style
classes through Flask's test client (Seldon's own client is in the integration tests)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import openapi_spec_validator
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servekit import errors
from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.protocols.seldon.hooks import unit_parameters
from servekit.protocols.seldon.message import SeldonInput, decode, respond, seldon_error
from servekit.settings import Settings
from tests.conftest import write_project

SELDON_CLASS = """
    import numpy as np

    class Model:
        def __init__(self, scale=2, label="x"):
            self.scale = scale
            self.label = label
            self.feedback = []

        def predict(self, X, features_names=None, meta=None):
            if isinstance(X, dict) and X.get("raise"):
                raise ValueError("asked to raise")
            if isinstance(X, np.ndarray):
                return X * self.scale
            if isinstance(X, dict):
                return {"got": X, "names": features_names, "label": self.label}
            return X * self.scale

        def class_names(self):
            return ["left", "right"]

        def tags(self):
            return {"model": "m"}

        def metrics(self):
            return [{"type": "COUNTER", "key": "calls", "value": 1},
                    {"type": "GAUGE", "key": "scale", "value": self.scale},
                    {"type": "TIMER", "key": "work_ms", "value": 12.0, "tags": {"kind": "t"}}]

        def health_status(self):
            return {"healthy": True}

        def init_metadata(self):
            return {"platform": "custom", "custom": {"author": "me"}}

        def send_feedback(self, features, feature_names, reward, truth, routing=None):
            self.feedback.append(reward)
            return [[reward]]
"""

FUNCTION = """
    def predict(x: list[list[float]], names: list[str] = ()) -> dict:
        return {"sum": sum(map(sum, x)), "names": list(names)}
"""


def client_for(tmp_path: Path, source: str, target: str, **settings: Any) -> Any:
    write_project(tmp_path, {"model.py": source})
    chosen = Settings(target=f"{tmp_path}/model.py:{target}", **settings)
    return create_app(chosen, ServerState(dataplane=load_dataplane(chosen))).test_client()


@pytest.fixture
def seldon(tmp_path: Path) -> Any:
    params = json.dumps([{"name": "scale", "value": "3", "type": "INT"}])
    return client_for(tmp_path, SELDON_CLASS, "Model", unit_parameters=params)


@pytest.fixture
def function(tmp_path: Path) -> Any:
    return client_for(tmp_path, FUNCTION, "predict")


def predict(client: Any, message: Any, path: str = "/api/v1.0/predictions") -> Any:
    return client.post(path, json=message)


def test_a_seldon_class_answers_as_seldons_wrapper_does(seldon: Any) -> None:
    reply = predict(seldon, {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "p1"}})
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["data"] == {"names": ["left", "right"], "ndarray": [[3, 6]]}
    assert body["meta"]["puid"] == "p1"
    assert body["meta"]["tags"] == {"model": "m"}
    assert [m["key"] for m in body["meta"]["metrics"]] == ["calls", "scale", "work_ms"]
    tensor = predict(seldon, {"data": {"tensor": {"shape": [2], "values": [1.5, 2]}}})
    assert tensor.get_json()["data"] == {
        "names": [],
        "tensor": {"shape": [2], "values": [4.5, 6.0]},
    }
    assert predict(seldon, {"strData": "ab"}).get_json()["strData"] == "ababab"
    binary = predict(seldon, {"binData": base64.b64encode(b"hi").decode()})
    assert base64.b64decode(binary.get_json()["binData"]) == b"hihihi"
    json_data = predict(seldon, {"jsonData": {"a": 1}, "meta": {"tags": {"t": "r"}}})
    assert json_data.get_json()["jsonData"] == {"got": {"a": 1}, "names": [], "label": "x"}
    assert json_data.get_json()["meta"]["tags"] == {"t": "r", "model": "m"}


@pytest.mark.parametrize("path", ["/api/v1.0/predictions", "/api/v0.1/predictions", "/predict"])
def test_every_prediction_path_and_the_form_field(seldon: Any, path: str) -> None:
    assert predict(seldon, {"data": {"ndarray": [1]}}, path).get_json()["data"]["ndarray"] == [3]
    form = seldon.post(path, data={"json": json.dumps({"data": {"ndarray": [2]}})})
    assert form.get_json()["data"]["ndarray"] == [6]


def test_seldon_errors_use_seldons_envelope(seldon: Any) -> None:
    bad_json = seldon.post("/predict", data=b"{", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.get_json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert bad_json.get_json()["status"]["status"] == 1
    assert bad_json.get_json()["status"]["code"] == -1
    no_payload = predict(seldon, {"meta": {}})
    assert no_payload.status_code == 400
    raised = predict(seldon, {"jsonData": {"raise": True}})
    assert raised.status_code == 500
    assert raised.get_json()["status"]["reason"] == "MICROSERVICE_INTERNAL_ERROR"
    assert "asked to raise" in raised.get_json()["status"]["info"]
    for meta in ({"tags": [1]}, {"metrics": "ab"}, {"metrics": [1]}, {"puid": 5}):
        reply = predict(seldon, {"data": {"ndarray": [1]}, "meta": meta})
        assert reply.status_code == 400, meta
        assert reply.get_json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    wrong_method = seldon.get("/api/v1.0/predictions")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    ragged = predict(seldon, {"data": {"ndarray": [[1], [1, 2]]}})
    assert ragged.status_code == 400
    mismatch = predict(seldon, {"data": {"tensor": {"shape": [3], "values": [1]}}})
    assert mismatch.status_code == 400
    assert "shape" in mismatch.get_json()["status"]["info"]


def test_auth_and_metrics_cover_the_seldon_routes(tmp_path: Path) -> None:
    client = client_for(tmp_path, SELDON_CLASS, "Model", access_tokens="k")
    refused = predict(client, {"data": {"ndarray": [1]}})
    assert refused.status_code == 401
    assert refused.get_json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert client.get("/health/ping").get_data() == b"pong", "probes need no token"
    ok = client.post(
        "/api/v1.0/predictions",
        json={"data": {"ndarray": [1]}},
        headers={"Authorization": "Bearer k"},
    )
    assert ok.status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'servekit_requests_total{code="200",route="/api/v1.0/predictions"} 1.0' in metrics
    assert 'calls_total{method="predict"} 1.0' in metrics
    assert 'scale{method="predict"} 2.0' in metrics
    assert 'work_ms_count{kind="t",method="predict"} 1.0' in metrics
    # health_status() runs the user's code: it needs a token, like predictions.
    assert client.get("/health/status").status_code == 401
    client.get("/health/status", headers={"Authorization": "Bearer k"})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'calls_total{method="health"} 1.0' in metrics, "probes count apart"
    assert 'calls_total{method="predict"} 1.0' in metrics


def test_health_metadata_feedback_and_openapi(seldon: Any) -> None:
    status = seldon.get("/health/status").get_json()
    assert status["jsonData"] == {"healthy": True}
    metadata = seldon.get("/api/v1.0/metadata").get_json()
    assert metadata["platform"] == "custom"
    assert metadata["custom"] == {"author": "me"}
    assert metadata["versions"] == ["1"]
    feedback = seldon.post(
        "/api/v1.0/feedback", json={"request": {"data": {"ndarray": [[1, 2]]}}, "reward": 0.5}
    )
    assert feedback.status_code == 200
    assert feedback.get_json()["data"]["ndarray"] == [[0.5]]
    assert seldon.post("/send-feedback", json={"bogus": 1}).status_code == 400
    bad_response = seldon.post(
        "/send-feedback", json={"request": {"data": {"ndarray": [1]}}, "response": [1]}
    )
    assert bad_response.status_code == 400
    truth = seldon.post(
        "/send-feedback", json={"request": {"data": {"ndarray": [1]}}, "truth": {"jsonData": 1}}
    )
    assert truth.status_code == 200
    described = seldon.get("/seldon.json").get_json()
    assert "/api/v1.0/predictions" in described["paths"]
    openapi_spec_validator.validate(described)


def test_a_servekit_function_gets_arrays_and_json_data(function: Any) -> None:
    arrays = predict(function, {"data": {"names": ["a", "b"], "ndarray": [[1, 2], [3, 4]]}})
    assert arrays.get_json()["jsonData"] == {"sum": 10.0, "names": ["a", "b"]}
    tensor = predict(function, {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}})
    assert tensor.get_json()["jsonData"]["sum"] == 3.0
    by_name = predict(function, {"jsonData": {"x": [[5]]}})
    assert by_name.get_json()["jsonData"]["sum"] == 5.0
    wrong = predict(function, {"data": {"ndarray": [["a"]]}})
    assert wrong.status_code == 400
    assert "parameters.x[0][0]" in wrong.get_json()["status"]["info"]
    assert function.get("/health/status").get_json() == {"meta": {}, "strData": "healthy"}


def test_unit_parameters_are_typed() -> None:
    parsed = unit_parameters(
        json.dumps(
            [
                {"name": "i", "value": "3", "type": "INT"},
                {"name": "f", "value": "0.5", "type": "FLOAT"},
                {"name": "s", "value": "x", "type": "STRING"},
                {"name": "b", "value": "true", "type": "BOOL"},
            ]
        )
    )
    assert parsed == {"i": 3, "f": 0.5, "s": "x", "b": True}
    with pytest.raises(errors.ConfigError, match="PREDICTIVE_UNIT_PARAMETERS"):
        unit_parameters('[{"name": "i", "value": "x", "type": "INT"}]')
    environ = {"PREDICTIVE_UNIT_PARAMETERS": '[{"name": "a", "value": "1"}]'}
    assert Settings.from_env(environ).unit_parameters == environ["PREDICTIVE_UNIT_PARAMETERS"]


def test_the_response_form_follows_the_result() -> None:
    ndarray = SeldonInput("ndarray", [[1]])
    tensor = SeldonInput("tensor", ([1], [1]))
    assert "jsonData" in respond({"a": 1}, ndarray)
    assert respond(3, ndarray)["jsonData"] == 3
    assert "tensor" in respond(np.array([[1.0, 2.0]]), tensor)["data"]
    assert "ndarray" in respond(np.array([[1.0, 2.0]]), ndarray)["data"]
    assert "ndarray" in respond(np.array(["a"]), tensor)["data"], "strings are never a tensor"
    assert respond([[1], [2, 3]], ndarray)["data"]["ndarray"] == [[1], [2, 3]]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_no_document_decodes_to_anything_but_an_input_or_bad_request(document: Any) -> None:
    try:
        found = decode(document)
    except errors.BadRequest as exc:
        status, body = seldon_error(exc)
        assert status == 400
        assert body["status"]["reason"] == "MICROSERVICE_BAD_DATA"
        return
    assert found.kind in ("ndarray", "tensor", "json", "str", "bin")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_MESSAGES = st.one_of(
    _JSON,
    st.fixed_dictionaries({"data": st.fixed_dictionaries({"ndarray": _JSON})}),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {"tensor": st.fixed_dictionaries({"shape": _JSON, "values": _JSON})}
            )
        }
    ),
    st.fixed_dictionaries({"jsonData": _JSON, "meta": _JSON}),
    st.fixed_dictionaries(
        {
            "strData": _JSON,
            "meta": st.fixed_dictionaries({"tags": _JSON, "metrics": _JSON, "puid": _JSON}),
        }
    ),
    st.fixed_dictionaries({"binData": _JSON}),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=_MESSAGES)
def test_no_message_makes_a_servekit_function_answer_500(function: Any, message: Any) -> None:
    reply = predict(function, message)
    assert reply.status_code in (200, 400), reply.get_data(as_text=True)
    assert "status" in reply.get_json() or reply.status_code == 200


RAW_ONLY = """
    class Raw:
        def predict_raw(self, message):
            return {"jsonData": {"echo": message}, "meta": {"metrics": [
                {"type": "COUNTER", "key": "raw_calls", "value": 1}, {"bad": "metric"}]}}
"""


def test_a_class_with_predict_raw_alone_is_served(tmp_path: Path) -> None:
    client = client_for(tmp_path, RAW_ONLY, "Raw")
    reply = predict(client, {"strData": "hi"})
    assert reply.status_code == 200
    assert reply.get_json()["jsonData"] == {"echo": {"strData": "hi"}}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'raw_calls_total{method="predict"} 1.0' in metrics, "predict_raw's metrics exported"


SLOW = """
    import time

    def predict(x: float):
        time.sleep(x)
        return x
"""


def test_seldon_predictions_obey_the_request_deadline(tmp_path: Path) -> None:
    from servekit.serving.deadline import Deadline

    write_project(tmp_path, {"model.py": SLOW})
    chosen = Settings(target=f"{tmp_path}/model.py:predict")
    app = create_app(
        chosen,
        ServerState(dataplane=load_dataplane(chosen)),
        run=Deadline(0.3, lambda: None).run,
    )
    slow = app.test_client().post("/api/v1.0/predictions", json={"jsonData": {"x": 2}})
    assert slow.status_code == 504
    assert slow.get_json()["status"]["reason"] == "MICROSERVICE_INTERNAL_ERROR"
    quick = app.test_client().post("/api/v1.0/predictions", json={"jsonData": {"x": 0}})
    assert quick.status_code == 200
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "servekit_model_duration_seconds_count 1.0" in metrics, "model time, as on /model"
