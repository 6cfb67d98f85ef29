"""The two times in a success envelope: what each measures, its unit, and that the OpenAPI
document says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import orjson
import pytest

from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.http.openapi.document import build_document
from servekit.protocols.domino import DominoCodec
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings


def add(a: int, b: int = 1) -> int:
    return a + b


def ticking(*readings: float) -> Callable[[], float]:
    """A clock that reads ``readings`` in turn (seconds)."""
    it: Iterator[float] = iter(readings)
    return lambda: next(it)


def answer(model_seconds: float, total_seconds: float) -> dict[str, Any]:
    """The envelope of one prediction whose model took ``model_seconds`` of ``total_seconds``.

    The data plane reads its clock four times: at the start, around the model, and
    before encoding the envelope."""
    start = 100.0
    bound = start + (total_seconds - model_seconds) / 2
    clock = ticking(start, bound, bound + model_seconds, start + total_seconds)
    plane = DataPlane(FunctionRuntime(add), Release("0", "adder", "1"), clock=clock)
    reply = DominoCodec(plane).predict(b'{"data": {"a": 2}}', "rid")
    assert reply.model_seconds == pytest.approx(model_seconds)
    return dict(orjson.loads(reply.body))


@pytest.mark.parametrize(
    ("model_seconds", "expected_ms"),
    [(0.0, 0), (0.0004, 0), (0.0006, 1), (0.0123, 12), (0.0127, 13), (2.0, 2000)],
)
def test_model_time_is_whole_milliseconds_rounded_to_the_nearest(
    model_seconds: float, expected_ms: int
) -> None:
    body = answer(model_seconds, model_seconds + 0.003)
    assert body["result"] == 3
    assert body["model_time_in_ms"] == expected_ms
    assert type(body["model_time_in_ms"]) is int  # Domino's harness writes an integer


def test_timing_is_fractional_milliseconds_of_decode_bind_and_model() -> None:
    body = answer(0.0002, 0.00075)
    assert body["model_time_in_ms"] == 0
    assert type(body["timing"]) is float
    assert body["timing"] == pytest.approx(0.75)  # milliseconds, not seconds


def test_the_document_states_both_units() -> None:
    plane = DataPlane(FunctionRuntime(add), Release("0", "adder", "1"))
    schemas = build_document(Settings(), plane)["components"]["schemas"]
    response = schemas["PredictionResponse"]
    model_time = response["properties"]["model_time_in_ms"]
    timing = response["properties"]["timing"]
    assert model_time["type"] == "integer"
    assert timing["type"] == "number"
    assert "milliseconds" in model_time["description"]
    assert "nearest millisecond" in model_time["description"]
    assert timing["description"].startswith("milliseconds, with a fraction")
    # and a real answer fits the schema the document gives for it
    body = orjson.loads(DominoCodec(plane).predict(b'{"data": {"a": 2}}', "rid").body)
    jsonschema.Draft202012Validator(response).validate(body)
