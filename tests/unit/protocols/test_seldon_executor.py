"""The executor's replies, in one process: one queued SeldonMessage in, its reply out."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.protocols.seldon.codec import SeldonCodec
from servekit.protocols.seldon.executor import Executor, Reply
from servekit.runtimes.function import FunctionRuntime
from tests.conftest import sized_model as model

FAILED = {"code": 0, "info": "Prediction Failed", "status": "FAILURE"}
TOO_LARGE = {
    "code": -1,
    "info": "Payload size is greater than allowed size",
    "reason": "payload is large",
    "status": "FAILURE",
}


def executor_of(
    fn: Any = model, limit: int = 10240, instance: Any = None, new_puid: str = "new-puid"
) -> Executor:
    runtime = FunctionRuntime(fn)
    runtime.instance = instance  # what a class TARGET's runtime holds (Seldon's hooks)
    runtime.load()
    plane = DataPlane(runtime, Release("0", "m", "1"))
    return Executor(SeldonCodec(plane), limit, lambda: new_puid)


def answer(executor: Executor, message: Any, header: str | None = None) -> tuple[Reply, Any]:
    body = message if isinstance(message, bytes) else orjson.dumps(message)
    reply = executor.answer(body, header)
    return reply, orjson.loads(reply.body)


def test_a_prediction_carries_the_requests_puid() -> None:
    message = {"jsonData": {"x": 2}, "meta": {"puid": "abc", "tags": {"t": 1}}}
    reply, body = answer(executor_of(), message, header="ignored-header")
    assert body == {"meta": {"puid": "abc", "tags": {"t": 1}}, "jsonData": {"x": 2, "pad": ""}}
    assert (reply.puid, reply.failed) == ("abc", False)


@pytest.mark.parametrize(
    ("meta", "header", "puid"),
    [
        ({}, "from-header", "from-header"),
        (None, None, "new-puid"),
        ({"puid": ""}, None, "new-puid"),
    ],
)
def test_a_request_without_a_puid_gets_one(meta: Any, header: str | None, puid: str) -> None:
    message: dict[str, Any] = {"jsonData": {"x": 1}}
    if meta is not None:
        message["meta"] = meta
    reply, body = answer(executor_of(), message, header)
    assert reply.puid == puid
    assert body["meta"]["puid"] == puid


def test_a_failed_prediction_is_seldons_failure_status() -> None:
    reply, body = answer(executor_of(), {"jsonData": {"x": -1}, "meta": {"puid": "p1"}})
    assert body == {"status": {**FAILED, "reason": "ValueError: negative"}, "meta": {"puid": "p1"}}
    assert reply.failed


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"not json", "the SeldonMessage is not valid JSON: "),
        (b"", "the SeldonMessage is not valid JSON: "),
        ([1, 2], "a SeldonMessage is a JSON object, got array"),
        ({"nothing": 1}, "the SeldonMessage has no data, jsonData, strData or binData"),
        ({"jsonData": {"x": "seven"}}, 'data.x: expected integer, got string "seven"'),
        ({"jsonData": {"x": 99}}, "the model's result could not be encoded as JSON"),
        ({"jsonData": {"x": 1}, "meta": {"puid": 7}}, '"meta.puid" must be a string, got'),
        ({"jsonData": {"x": 1}, "meta": "m"}, '"meta" must be an object, got string'),
    ],
)
def test_a_bad_message_is_answered_not_raised(message: Any, reason: str) -> None:
    reply, body = answer(executor_of(), message, header="h-1")
    assert body["meta"] == {"puid": "h-1"}
    status = body["status"]
    assert status.pop("reason").startswith(reason)
    assert status == FAILED
    assert reply.failed


def test_a_reply_over_the_limit_is_replaced() -> None:
    message = {"jsonData": {"x": 1, "size": 500}, "meta": {"puid": "big"}}
    size = len(executor_of().answer(orjson.dumps(message)).body)
    reply, body = answer(executor_of(limit=size), message)
    assert body["jsonData"]["pad"] == "p" * 500, "a reply of exactly the limit is sent"
    reply, body = answer(executor_of(limit=size - 1), message)
    assert body == {"status": TOO_LARGE, "meta": {"puid": "big"}}
    assert (reply.puid, reply.failed) == ("big", True)


class RawClass:
    """A Seldon-style class whose predict_raw answers with a puid of its own."""

    def predict_raw(self, message: Any) -> Any:
        return {"jsonData": {"seen": message["jsonData"]}, "meta": {"puid": "mine", "tags": {}}}


def test_the_reply_always_carries_the_requests_puid() -> None:
    instance = RawClass()
    executor = executor_of(instance.predict_raw, instance=instance)
    _, body = answer(executor, {"jsonData": 5, "meta": {"puid": "theirs"}})
    assert body == {"jsonData": {"seen": 5}, "meta": {"puid": "theirs", "tags": {}}}


def test_an_unexpected_error_is_logged_and_answered(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    executor = executor_of()

    def broken(document: Any, request_id: str) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(executor.seldon, "predict", broken)
    with caplog.at_level(logging.ERROR, "servekit.amqp"):
        reply, body = answer(executor, {"jsonData": {"x": 1}, "meta": {"puid": "p"}})
    assert body == {
        "status": {**FAILED, "reason": "internal error: RuntimeError"},
        "meta": {"puid": "p"},
    }
    assert "a bug" in caplog.text
    assert reply.failed


@pytest.fixture(scope="module")
def shared() -> Executor:
    """One executor for the property tests (one per example would dominate their time)."""
    return executor_of()


@given(body=st.binary(max_size=200))
def test_any_bytes_get_one_json_reply_with_a_puid(shared: Executor, body: bytes) -> None:
    reply = shared.answer(body)
    decoded = orjson.loads(reply.body)
    assert decoded["meta"]["puid"] == reply.puid
    assert reply.puid


@given(puid=st.text(min_size=1, max_size=40), x=st.integers(0, 98))  # 99 is unencodable
def test_any_puid_comes_back(shared: Executor, puid: str, x: int) -> None:
    reply = shared.answer(orjson.dumps({"jsonData": {"x": x}, "meta": {"puid": puid}}))
    assert orjson.loads(reply.body) == {"meta": {"puid": puid}, "jsonData": {"x": x, "pad": ""}}
    assert reply.puid == puid
