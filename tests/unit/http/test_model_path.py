"""``/models/<id>/<version>/model`` on the pod: the version must be ``latest`` or the one
served; the id is opaque unless ``SERVEKIT_MODEL_ID`` names it."""

from __future__ import annotations

import pytest

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http import ServerState, create_app
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings


def predict(x: int) -> int:
    return x + 1


def status(path: str, **settings: str) -> tuple[int, str]:
    plane = DataPlane(FunctionRuntime(predict), Release("0", "churn", "3"))
    client = create_app(Settings(**settings), ServerState(dataplane=plane)).test_client()
    reply = client.post(path, json={"data": {"x": 1}})
    body = reply.get_json()
    return reply.status_code, body["error"]["message"] if "error" in body else body["result"]


@pytest.mark.parametrize(
    "path", ["/model", "/models/churn/3/model", "/models/5f1b2c/latest/model", "/models/x/3/model"]
)
def test_the_served_version_or_latest_is_answered(path: str) -> None:
    assert status(path) == (200, 2)


def test_another_version_is_404_saying_which_is_served() -> None:
    code, message = status("/models/churn/2/model")
    assert code == 404
    assert message == (
        "this server serves version '3' of model 'churn', not '2': use "
        "/models/churn/3/model or /models/churn/latest/model"
    )


def test_a_configured_model_id_must_match_or_the_name() -> None:
    assert status("/models/5f1b2c/latest/model", model_id="5f1b2c") == (200, 2)
    assert status("/models/churn/latest/model", model_id="5f1b2c") == (200, 2)
    code, message = status("/models/range/latest/model", model_id="5f1b2c")
    assert code == 404
    assert "serves model '5f1b2c' (churn), not 'range'" in message
