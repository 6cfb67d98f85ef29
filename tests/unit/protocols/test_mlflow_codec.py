"""MLflow's scoring protocol's codec (servekit.protocols.mlflow), against MLflow's own
scoring function run on the same in-memory models: every input format, with and without
params, CSV and Parquet, and every refusal answer the same status, content type and
bytes (MLflow's ``stack_trace`` aside: servekit logs tracebacks instead). Where they
differ on purpose, the test says so."""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.utils.proto_json_utils import NumpyEncoder

from servekit import errors
from servekit.core.dataplane import Observed
from servekit.protocols.mlflow import encode_error
from servekit.protocols.mlflow.answer import records
from servekit.protocols.mlflow.codec import ScoringCodec
from servekit.protocols.mlflow.shape import error_document
from servekit.runtimes.mlflow.scoring import ScoringInput
from tests.unit.protocols import mlflow_memory as memory

JSON, CSV = "application/json", "text/csv"
ROW = {"tenure": 3, "monthly": 50.5, "plan": "basic"}
ROWS = [ROW, {"tenure": 40, "monthly": 20.0, "plan": "pro"}]
MODELS = {
    "churn": memory.churn(),
    "scaled": memory.scaled(),
    "summed": memory.summed(),
    "unsigned": memory.pyfunc(memory.Summed()),
    "chat": memory.chat(),
    "hinted": memory.pyfunc(memory.Echo(), memory.chat().metadata.signature, hinted=True),
}


def split(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {"columns": columns, "data": [[row[c] for c in columns] for row in rows]}


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out)
    return out.getvalue()


CASES: list[tuple[str, str, bytes]] = [
    # Every format, with and without params.
    ("churn", JSON, dumps({"dataframe_split": split(ROWS)})),
    ("churn", JSON, dumps({"dataframe_records": ROWS})),
    ("churn", JSON, dumps({"instances": ROWS})),
    ("churn", JSON, dumps({"inputs": {k: [r[k] for r in ROWS] for k in ROW}})),
    ("churn", JSON, dumps({"inputs": ROWS, "params": {"unknown": 1}})),
    ("churn", "application/json; charset=UTF-8", dumps({"dataframe_records": ROWS})),
    ("churn", JSON, json.dumps({"dataframe_records": ROWS}).encode("utf-16")),
    ("churn", CSV, b"tenure,monthly,plan\n3,50.5,basic\n40,20,pro\n"),
    ("churn", "application/vnd.apache.parquet", parquet(pd.DataFrame(ROWS))),
    ("scaled", JSON, dumps({"dataframe_split": split([{"a": 1, "b": 2.5}])})),
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 1, "b": 2.5, "note": "h\u00e9"}]})),
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 1, "b": 2}], "params": {"scale": 3}})),
    ("scaled", JSON, dumps({"inputs": {"a": [1, 2], "b": [0.5, 1]}, "params": {"offset": 7}})),
    ("scaled", JSON, dumps({"instances": [{"a": 1, "b": 2.5}], "params": {"nope": 1}})),
    ("scaled", JSON, b'{"dataframe_records": [{"a": 1, "b": NaN}, {"a": 2, "b": Infinity}]}'),
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 16, "b": 1.0}]})),  # a Series
    ("scaled", CSV, b"a,b,note\n1,2.5,x\n"),
    ("summed", JSON, dumps({"inputs": {"x": [[1, 2, 3], [4, 5, 6.5]]}})),
    ("summed", JSON, dumps({"instances": [{"x": [1, 2, 3]}, {"x": [4, 5, 6]}]})),
    ("unsigned", JSON, dumps({"dataframe_records": [{"x1": 1, "x2": 2.5}]})),
    ("unsigned", JSON, dumps({"inputs": [[1, 2], [3, 4]]})),
    ("chat", JSON, dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": 0.2})),
    ("hinted", JSON, dumps({"inputs": ["a", "b"], "params": {"temperature": 0.1}})),
    # A column missing, a wrong type, a bad param: MLflow's enforcement, its words.
    ("churn", JSON, dumps({"dataframe_records": [{"tenure": 3, "plan": "basic"}]})),
    ("churn", JSON, dumps({"dataframe_records": [{**ROW, "tenure": "x"}]})),
    ("churn", JSON, dumps({"dataframe_split": {**split(ROWS), "extra": 1}})),
    ("churn", JSON, dumps({"dataframe_split": ROWS})),
    ("churn", JSON, dumps({"dataframe_records": ROW})),
    ("churn", CSV, b"tenure,monthly,plan\nx,50.5,basic\n"),
    ("churn", CSV, b"\xff\xfe"),
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 1, "b": 2}], "params": {"scale": "x"}})),
    ("summed", JSON, dumps({"inputs": {"x": [[1, 2]]}})),
    ("hinted", JSON, dumps({"dataframe_records": ["a"]})),
    # The model raising: a ValueError (400, as MLflow answers), its own MlflowException.
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 13, "b": 1.0}]})),
    ("scaled", JSON, dumps({"dataframe_records": [{"a": 14, "b": 1.0}]})),
    # Not the protocol's JSON: malformed, not UTF-8, an unknown key, two keys, not an object.
    ("churn", JSON, b'{"dataframe_records": [{"tenure": 3,'),
    ("churn", JSON, b""),
    ("churn", JSON, b'{"inputs": "\xff"}'),
    ("churn", JSON, dumps({"data": ROWS})),
    ("churn", JSON, dumps({"inputs": ROWS, "instances": ROWS})),
    ("churn", JSON, dumps(ROWS)),
    ("churn", JSON, b"3"),
    # Content types MLflow does not take: 415 in plain text.
    ("churn", "text/plain", b"x"),
    ("churn", "Application/JSON", dumps({"inputs": ROWS})),
    ("churn", "application/x-www-form-urlencoded", b"a=1"),
    ("churn", "application/json; charset=latin-1", b"{}"),
    ("churn", "application/json; foo=bar", b"{}"),
    ("churn", "application/json;", b"{}"),
    ("churn", "", b"{}"),
]


def ours(model: Any, body: bytes, content_type: str | None) -> tuple[int, str, bytes]:
    codec = ScoringCodec(memory.plane_of(model), model.metadata)
    try:
        return 200, JSON, codec.score(body, content_type, "r1").body
    except errors.ServekitError as exc:
        status, rendered = encode_error(exc)
        return status, exc.headers.get("Content-Type", JSON), rendered


@pytest.mark.parametrize(("model", "content_type", "body"), CASES)
def test_the_answer_is_mlflows(model: str, content_type: str, body: bytes) -> None:
    expected = memory.mlflow_answer(MODELS[model], body, content_type)
    assert ours(MODELS[model], body, content_type) == expected


def test_the_model_gets_one_scoring_input_and_capture_sees_it() -> None:
    model = memory.scaled()
    plane = memory.plane_of(model)
    seen: list[Observed] = []
    plane.observer = seen.append
    ticks = itertools.count(10.0, 0.25)
    plane.clock = lambda: next(ticks)
    body = dumps({"dataframe_records": [{"a": 1, "b": 2}], "params": {"scale": 2.0}})
    answer = ScoringCodec(plane, model.metadata).score(body, JSON, "r1")
    assert answer.model_seconds == 0.75  # the codec's clock reads around the observer's
    assert orjson_like(answer.body) == {"predictions": [{"total": 6.0, "label": "6.0"}]}
    (given,) = plane.runtime.calls  # type: ignore[attr-defined]
    assert isinstance(given, ScoringInput)
    assert given.params == {"scale": 2.0}
    assert given.data.to_dict("records") == [{"a": 1, "b": 2.0}]
    assert str(given.data.dtypes["a"]) == "int64"  # cast to the signature's long
    (observed,) = seen
    assert (observed.protocol, observed.request_id, observed.error) == ("mlflow", "r1", None)
    assert observed.bound.args == (given,)
    assert observed.model_seconds == 0.25


def orjson_like(body: bytes) -> Any:
    return json.loads(body)


def test_where_servekit_answers_differently() -> None:
    churn = MODELS["churn"]
    # No Content-Type: MLflow 3.17 fails on None with a bare 500; servekit names it.
    status, kind, body = ours(churn, b"{}", None)
    assert (status, kind) == (415, "text/plain; charset=utf-8")
    assert body.endswith(b"Got ''.")
    # A result JSON cannot hold: MLflow's encoder raises (a bare 500 "Internal Server
    # Error"); servekit answers 500 in MLflow's shape.
    scaled = MODELS["scaled"]
    status, kind, body = ours(scaled, dumps({"dataframe_records": [{"a": 15, "b": 1}]}), JSON)
    assert status == 500
    document = json.loads(body)
    assert document["error_code"] == "INTERNAL_ERROR"
    assert "could not be encoded" in document["message"]
    with pytest.raises(TypeError):
        memory.mlflow_answer(scaled, dumps({"dataframe_records": [{"a": 15, "b": 1}]}), JSON)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.Unauthorized(), 401, "UNAUTHENTICATED"),
        (errors.NotFound("no"), 404, "ENDPOINT_NOT_FOUND"),
        (errors.MethodNotAllowed("no"), 405, "BAD_REQUEST"),
        (errors.PayloadTooLarge("big"), 413, "BAD_REQUEST"),
        (errors.HeadersTooLarge("big"), 431, "BAD_REQUEST"),
        (
            errors.InvalidArguments([errors.Problem("x", "int", "str")]),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (errors.BadRequest("ended"), 400, "BAD_REQUEST"),
        (errors.ModelError("boom"), 500, "INTERNAL_ERROR"),
        (errors.WorkerLost("gone"), 502, "INTERNAL_ERROR"),
        (errors.NotReady("loading"), 503, "TEMPORARILY_UNAVAILABLE"),
        (errors.Timeout("late"), 504, "DEADLINE_EXCEEDED"),
    ],
)
def test_servekits_own_errors_in_mlflows_shape(
    error: errors.ServekitError, status: int, code: str
) -> None:
    """The document MlflowException writes for that code, with servekit's status."""
    made = MlflowException(error.message, error_code=getattr(databricks_pb2, code))
    assert encode_error(error) == (status, made.serialize_as_json().encode())
    assert error_document(code, error.message) == json.loads(made.serialize_as_json())


FLOATS = st.floats(allow_nan=True, allow_infinity=True)
ROWS_OF = st.lists(
    st.fixed_dictionaries(
        {"a": st.integers(-(2**63), 2**63 - 1), "b": FLOATS},
        optional={"note": st.one_of(st.none(), st.text(max_size=8))},
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS_OF, form=st.sampled_from(["dataframe_records", "instances", "split"]))
def test_any_rows_answer_as_mlflow_does(rows: list[dict[str, Any]], form: str) -> None:
    if form == "split":
        columns = sorted({key for row in rows for key in row})
        document: Any = {"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]}
        body = dumps({"dataframe_split": document})
    else:
        body = dumps({form: rows, "params": {"scale": 0.5}})
    model = MODELS["scaled"]
    assert ours(model, body, JSON) == memory.mlflow_answer(model, body, JSON)


CELLS = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), FLOATS, st.text(max_size=4))
COLUMNS = {
    "int64": st.integers(-(2**63), 2**63 - 1),
    "float64": FLOATS,
    "bool": st.booleans(),
    "object": CELLS,
}


@settings(max_examples=80, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=4),
    length=st.integers(0, 4),
    data=st.data(),
)
def test_records_are_written_as_to_dict_writes_them(
    kinds: list[str], length: int, data: st.DataObject
) -> None:
    frame = pd.DataFrame(
        {
            f"c{i}": pd.Series(
                data.draw(st.lists(COLUMNS[kind], min_size=length, max_size=length)),
                dtype=kind,
            )
            for i, kind in enumerate(kinds)
        }
    )
    frame["n"] = np.int64(1) if length else pd.Series([], dtype="int64")
    expected = json.dumps(frame.to_dict(orient="records"), cls=NumpyEncoder)
    assert json.dumps(records(frame), cls=NumpyEncoder) == expected
