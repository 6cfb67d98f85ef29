"""KServe V1's codec over the data plane: instances as one batch of an ONNX graph's
inputs or one call each of a typed Python function, predictions in order, and every
refusal a 400 naming the instance (``instances[2].x``) before the model runs."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.errors import NotImplementedHere
from servekit.loading import load_dataplane
from servekit.protocols.kserve_v1 import KServeV1Codec, encode_error
from servekit.runtimes.function import FunctionRuntime
from servekit.settings import Settings
from tests.onnx_models import adder, classifier, identity

CALLS: list[tuple[Any, ...]] = []


def scaled(x: int, scale: float = 1.0, *, label: str = "") -> dict[str, Any]:
    CALLS.append((x, scale, label))
    if x < 0:
        raise ValueError("x is negative")
    return {"y": x * scale, "label": label}


def one(text: str) -> str:
    return text.upper()


def codec_for(fn: Any) -> KServeV1Codec:
    return KServeV1Codec(DataPlane(FunctionRuntime(fn), Release("0", "m", "1")))


@cache
def onnx_codec(kind: str) -> KServeV1Codec:
    """One codec per graph for the whole module (hypothesis runs many examples)."""
    folder = Path(mkdtemp(prefix="kserve-v1-"))
    made = {
        "adder": lambda: adder(folder / "adder.onnx"),
        "rows": lambda: identity(folder / "rows.onnx", TensorProto.FLOAT, ["batch", 3]),
        "fixed": lambda: identity(folder / "fixed.onnx", TensorProto.FLOAT, [1, 2]),
        "ragged": lambda: identity(folder / "ragged.onnx", TensorProto.INT64, ["batch", None]),
        "classifier": lambda: classifier(folder / "classifier.onnx"),
    }[kind]()
    return KServeV1Codec(load_dataplane(Settings(target=str(made), model_name=kind)))


def predict(codec: KServeV1Codec, document: Any) -> Any:
    return orjson.loads(codec.predict(orjson.dumps(document), "r1").body)


def refused(codec: KServeV1Codec, document: Any) -> tuple[int, str]:
    with pytest.raises(errors.ServekitError) as caught:
        codec.predict(orjson.dumps(document), "r1")
    status, body = encode_error(caught.value)
    return status, orjson.loads(body)["error"]


def test_objects_are_named_arguments_and_arrays_positional_one_call_each() -> None:
    CALLS.clear()
    codec = codec_for(scaled)
    assert codec.batch is None
    answer = predict(codec, {"instances": [{"x": 2, "label": "a"}, [3, 0.5], {"x": 1}]})
    assert answer == {
        "predictions": [
            {"y": 2.0, "label": "a"},
            {"y": 1.5, "label": ""},
            {"y": 1.0, "label": ""},
        ]
    }
    assert CALLS == [(2, 1.0, "a"), (3, 0.5, ""), (1, 1.0, "")]
    assert predict(codec, {"inputs": [[4]]}) == {"predictions": [{"y": 4.0, "label": ""}]}


def test_a_plain_value_is_the_argument_of_a_one_argument_model() -> None:
    codec = codec_for(one)
    assert predict(codec, {"instances": ["a", {"text": "b"}, ["c"]]}) == {
        "predictions": ["A", "B", "C"]
    }
    assert refused(codec, {"instances": ["a", 3]}) == (
        400,
        "instances[1].text: expected string, got integer 3",
    )
    many = codec_for(scaled)
    assert refused(many, {"instances": [{"x": 1}, 7]}) == (
        400,
        "instances[1]: expected an object (named arguments) or an array (positional "
        "arguments), got integer 7",
    )


def test_every_bad_instance_is_named_and_the_model_never_runs() -> None:
    CALLS.clear()
    status, message = refused(
        codec_for(scaled), {"inputs": [{"x": 1}, {"x": "a"}, [1, 2, 3], {"y": 1}]}
    )
    assert status == 400
    assert message.split("; ") == [
        'inputs[1].x: expected integer, got string "a"',
        "inputs[2][2]: expected at most 2 positional arguments (x, scale, label), got an "
        "extra argument (integer 3)",
        "inputs[3].y: expected an argument of the model (x, scale, label), got an unknown "
        "argument (integer 1)",
        "inputs[3].x: expected integer, got nothing (required)",
    ]
    assert CALLS == []


def test_only_ten_problems_are_spelled_out() -> None:
    status, message = refused(codec_for(scaled), {"instances": [{"x": "a"}] * 12})
    assert status == 400
    assert message.count("; ") == 9
    assert message.endswith('instances[9].x: expected integer, got string "a" (and 2 more)')


def test_a_model_error_names_its_instance_and_stops_there() -> None:
    CALLS.clear()
    status, message = refused(codec_for(scaled), {"instances": [{"x": 1}, {"x": -1}, {"x": 2}]})
    assert (status, message) == (500, "instances[1]: ValueError: x is negative")
    assert [call[0] for call in CALLS] == [1, -1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", 'the request body is empty; send {"instances": [instance, ...]}'),
        (b"[1]", "the request body must be a JSON object, got array of 1 item"),
        (b'{"data": {}}', 'the request has no "instances" or "inputs" key (keys: data)'),
        (b'{"instances": [1], "inputs": [1]}', 'send either "instances" or "inputs", not both'),
        (b'{"instances": {"x": 1}}', '"instances" must be an array of instances, got object'),
        (b'{"inputs": []}', '"inputs" is empty: send at least one instance'),
        (b'{"instances": [1, NaN]}', "the request body is not valid JSON"),
    ],
)
def test_a_body_that_is_not_an_instances_object_is_400(body: bytes, message: str) -> None:
    with pytest.raises(errors.ServekitError) as caught:
        codec_for(one).predict(body, "r1")
    status, answer = encode_error(caught.value)
    assert status == 400
    assert orjson.loads(answer)["error"].startswith(message)


def test_errors_are_kserve_shaped_with_kserve_codes() -> None:
    assert encode_error(errors.NotFound("no such model")) == (404, b'{"error":"no such model"}')
    assert encode_error(errors.NotReady("loading"))[0] == 503
    assert encode_error(errors.ModelError("boom"))[0] == 500
    assert encode_error(NotImplementedHere("no explainer"))[0] == 501
    assert encode_error(errors.Unauthorized())[0] == 401


def test_the_model_answers_to_its_name_and_its_id() -> None:
    codec = codec_for(one)
    assert codec.names() == ["m"]
    assert codec.names("m") == ["m"]
    assert codec.names("isvc") == ["m", "isvc"]
    codec.served("isvc", "isvc")
    with pytest.raises(errors.NotFound, match="model 'other' is not served here"):
        codec.served("other", "isvc")


def test_an_onnx_graph_takes_the_instances_as_one_batch() -> None:
    codec = onnx_codec("adder")
    assert codec.batch is not None
    answer = predict(
        codec,
        {
            "instances": [
                {"a": [1, 2, 3], "b": [1, 1, 1]},
                {"a": [0.5, 0, 0], "b": [0, 0, 1]},
            ]
        },
    )
    assert answer == {
        "predictions": [
            {"total": [2.0, 3.0, 4.0], "doubled": [4.0, 6.0, 8.0]},
            {"total": [0.5, 0.0, 1.0], "doubled": [1.0, 0.0, 2.0]},
        ]
    }


def test_a_bad_row_of_a_batch_is_named() -> None:
    status, message = refused(
        onnx_codec("adder"),
        {
            "instances": [
                {"a": [1, 2, 3], "b": [1, 1]},
                {"a": [1, 2, 3]},
                [1, 2, 3],
                {"a": [1, 2, 3], "b": [1, 2, 3], "c": 1},
            ]
        },
    )
    assert status == 400
    assert sorted(message.split("; ")) == [
        "instances[0].b: expected tensor float32[3], got an array of shape [2]",
        "instances[1].b: expected tensor float32[3], got nothing (required)",
        "instances[2]: expected an object with a row of each input (a, b), got array of 3 items",
        "instances[3].c: expected an input of the model (a, b), got an unknown input (integer 1)",
    ]
    rows = onnx_codec("rows")
    assert refused(rows, {"instances": [[1, 2, 3], [1, True, 3]]}) == (
        400,
        "instances[1]: expected tensor float32[3], got array of booleans and integers",
    )
    assert refused(onnx_codec("ragged"), {"inputs": [[1, 2], [1, 2, 3]]}) == (
        400,
        "inputs[1]: expected a row of shape [2], as the first instance's, got an array of "
        "shape [3]",
    )
    assert refused(onnx_codec("fixed"), {"instances": [[1, 2], [3, 4]]}) == (
        400,
        "instances.x: expected tensor float32[1, 2], got an array of shape [2, 2]",
    )


def test_a_graph_of_one_output_answers_its_rows_and_named_rows_are_taken() -> None:
    rows = onnx_codec("rows")
    assert predict(rows, {"instances": [{"x": [1, 2, 3]}, {"x": [4, 5, 6]}]}) == {
        "predictions": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    }
    assert predict(onnx_codec("ragged"), {"instances": [[7], [8]]}) == {"predictions": [[7], [8]]}


def test_sequence_outputs_are_rows_too() -> None:
    answer = predict(onnx_codec("classifier"), {"instances": [[1, 2], [3, 1]]})
    first, second = answer["predictions"]
    assert (first["label"], second["label"]) == (1, 0)
    assert set(first["probabilities"]) == {"0", "1"}
    assert first["probabilities"]["1"] == pytest.approx(0.7310586)


def test_outputs_that_do_not_have_a_row_per_instance_are_a_model_error() -> None:
    batch = onnx_codec("adder").batch
    assert batch is not None
    assert batch.predictions({"y": np.zeros((1, 2))}, 3).shape == (1, 2)  # one output: as is
    with pytest.raises(errors.ModelError, match="output 'b' has no rows for 2 instances"):
        batch.predictions({"a": np.zeros((2, 1)), "b": np.float32(1)}, 2)
    with pytest.raises(errors.ModelError, match="output 'a' has 3 rows for 2 instances"):
        batch.predictions({"a": [1, 2, 3], "b": [1, 2]}, 2)


FINITE = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@given(st.lists(st.lists(FINITE, min_size=3, max_size=3), min_size=1, max_size=20))
def test_rows_in_are_rows_out(rows: list[list[float]]) -> None:
    answer = predict(onnx_codec("rows"), {"instances": rows})
    np.testing.assert_array_equal(
        np.array(answer["predictions"], dtype=np.float32), np.array(rows, dtype=np.float32)
    )


@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"x": st.integers(0, 10**6)}, optional={"scale": FINITE}),
            st.tuples(st.integers(0, 10**6), FINITE).map(list),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_one_prediction_per_instance_in_order(instances: list[Any]) -> None:
    answer = predict(codec_for(scaled), {"instances": instances})
    expected = [scaled(**item) if isinstance(item, dict) else scaled(*item) for item in instances]
    assert answer == {"predictions": orjson.loads(orjson.dumps(expected))}


@given(st.integers(1, 12), st.data())
def test_a_bad_instance_anywhere_is_named_by_its_index(count: int, data: st.DataObject) -> None:
    bad = data.draw(st.integers(0, count - 1))
    instances: list[Any] = [[1.0, 2.0, 3.0]] * count
    instances[bad] = data.draw(st.sampled_from([[1.0, 2.0], "row", [1.0, None, 3.0]]))
    status, message = refused(onnx_codec("rows"), {"instances": instances})
    assert status == 400
    assert message.startswith(f"instances[{bad}]: expected tensor float32[3]")
