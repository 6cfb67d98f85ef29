"""In-memory MLflow models for the unit tests of MLflow's scoring protocol: real
``PyFuncModel`` objects (MLflow's own schema and params enforcement) built from a
signature and a plain object, no files; a runtime serving one as the MLflow runtime does;
and MLflow's own scoring function as the oracle."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

with warnings.catch_warnings():  # MLflow warns about its own type hints at import
    warnings.simplefilter("ignore")
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model, ModelSignature
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR
    from mlflow.pyfunc import PyFuncModel
    from mlflow.pyfunc import scoring_server as mlflow_server
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from servekit import errors
from servekit.core.dataplane import DataPlane
from servekit.core.release import Release
from servekit.core.signature import Signature
from servekit.runtimes.mlflow.scoring import ScoringInput

CHURN = Schema([ColSpec("long", "tenure"), ColSpec("double", "monthly"), ColSpec("string", "plan")])


class Churn:
    """Churned (1) when the monthly bill is over 50: an ndarray of int64."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return (data["monthly"] > 50).astype("int64").to_numpy()


class Scaled:
    """``(a + b) * scale + offset`` per row and a label: a DataFrame. ``a == 13`` raises
    a ValueError, ``a == 14`` an MlflowException of its own, ``a == 15`` returns a set
    (which JSON cannot hold), ``a == 16`` a Series."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        if (data["a"] == 13).any():
            raise ValueError("unlucky")
        if (data["a"] == 14).any():
            raise MlflowException("a is 14", error_code=INTERNAL_ERROR)  # 500
        if (data["a"] == 15).any():
            return {1, 2}
        total = (data["a"] + data["b"]) * float(params.get("scale", 1.0)) + params.get("offset", 0)
        if (data["a"] == 16).any():
            return total.rename("total")
        notes = data["note"] if "note" in data else pd.Series([None] * len(data))
        labels = [
            f"{t:.1f} {n}" if isinstance(n, str) else f"{t:.1f}"
            for t, n in zip(total, notes, strict=True)
        ]
        return pd.DataFrame({"total": total.astype(float), "label": labels})


class Summed:
    """Row sums of the tensor ``x`` (or of the one array given)."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        array = data["x"] if isinstance(data, dict) else data
        return np.asarray(array).sum(axis=1)


class Echo:
    """Says what it was given (its type and length) and the params: a dict."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return {"given": type(data).__name__, "length": len(data), "params": params}


def pyfunc(impl: Any, signature: ModelSignature | None = None, hinted: bool = False) -> Any:
    """A PyFuncModel of ``impl`` with ``signature`` (from type hints when ``hinted``)."""
    if signature is not None and hinted:
        signature._is_signature_from_type_hint = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PyFuncModel(Model(signature=signature), impl)


def churn() -> Any:
    return pyfunc(Churn(), ModelSignature(inputs=CHURN, outputs=Schema([ColSpec("long")])))


def scaled() -> Any:
    inputs = Schema(
        [ColSpec("long", "a"), ColSpec("double", "b"), ColSpec("string", "note", required=False)]
    )
    params = ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("offset", "long", 0)])
    return pyfunc(Scaled(), ModelSignature(inputs=inputs, params=params))


def summed() -> Any:
    spec = TensorSpec(np.dtype("float32"), (-1, 3), "x")
    return pyfunc(Summed(), ModelSignature(inputs=Schema([spec])))


def unsigned() -> Any:
    return pyfunc(Echo())


def chat() -> Any:
    params = ParamSchema([ParamSpec("temperature", "double", 0.5)])
    return pyfunc(Echo(), ModelSignature(inputs=Schema([ColSpec("string")]), params=params))


class ServedAsMlflow:
    """A runtime serving ``model`` as the MLflow runtime does for ``/invocations``: one
    ScoringInput in, ``model.predict(data, params=params)``'s raw result out; MLflow's
    schema enforcement refused as a 422 (raised while handling MLflow's exception)."""

    kind = "mlflow"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[ScoringInput] = []

    def load(self) -> None:
        """Loaded already."""

    def signature(self) -> Signature:
        return Signature(())

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        (given,) = args
        assert type(given) is ScoringInput
        assert kwargs == {}
        self.calls.append(given)
        try:
            return self.model.predict(given.data, params=given.params)
        except MlflowException as exc:
            if exc.error_class != "SCHEMA_ENFORCEMENT_FAILED":
                raise
            raise errors.InvalidArguments([errors.Problem("data", "the schema", "")]) from None

    def details(self) -> dict[str, Any]:
        return {"runtime": self.kind}

    def close(self) -> None:
        """Nothing to release."""


def plane_of(model: Any) -> DataPlane:
    return DataPlane(ServedAsMlflow(model), Release("0", "m", "1"))


def mlflow_answer(model: Any, body: bytes, content_type: str) -> tuple[int, str, bytes]:
    """What ``mlflow models serve`` answers: status, content type and body, from MLflow's
    own scoring function (its ``stack_trace`` left out: servekit logs tracebacks)."""
    schema = model.metadata.get_input_schema()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = mlflow_server.invocations(body, content_type, model, schema)
    except MlflowException as exc:
        exc.json_kwargs.pop("stack_trace", None)
        return exc.get_http_status_code(), "application/json", exc.serialize_as_json().encode()
    kind = "text/plain; charset=utf-8" if found.mimetype == "text/plain" else found.mimetype
    return found.status, kind, found.response.encode()
