"""Small MLflow models made in the tests with real MLflow (nothing is downloaded).

Each function saves one model into ``folder`` (which must not exist yet) and returns it.
All are seeded and deterministic, and skip pip requirement inference (which would start a
subprocess) so that each takes well under two seconds.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

with warnings.catch_warnings():
    # mlflow.pyfunc warns at import (an Any type hint in its own response types); the
    # suite turns warnings into errors. Once imported, later imports are quiet.
    warnings.simplefilter("ignore", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

REQUIREMENTS = ["mlflow", "scikit-learn", "pandas"]
PLANS = ("basic", "plus", "pro")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow warns when a model has no input example or its predict no list[...] type
    hint; the suite turns warnings into errors, and these say nothing about servekit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def churn_frame(rows: int = 60, seed: int = 7) -> pd.DataFrame:
    """A churn-like frame: tenure (int64), monthly (float64), plan (str)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows).astype("int64"),
            "monthly": rng.uniform(10.0, 120.0, rows).round(2),
            "plan": [PLANS[i] for i in rng.integers(0, len(PLANS), rows)],
        }
    )


def churn_labels(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Churned (1) when the monthly bill is high for the tenure, or on the basic plan."""
    score = frame["monthly"] / 60.0 - frame["tenure"] / 36.0 + (frame["plan"] == "basic") * 0.8
    return (score > 0.5).astype("int64").to_numpy()


def classifier(folder: Path) -> Path:
    """A scikit-learn Pipeline (plan one-hot encoded, logistic regression) predicting
    churn (0/1); signature: tenure long, monthly double, plan string -> long."""
    frame = churn_frame()
    encode = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("fit", LogisticRegression(max_iter=500))])
    model.fit(frame, churn_labels(frame))
    signature = ModelSignature(
        inputs=Schema(
            [ColSpec("long", "tenure"), ColSpec("double", "monthly"), ColSpec("string", "plan")]
        ),
        outputs=Schema([ColSpec("long")]),
    )
    with quiet():
        mlflow.sklearn.save_model(
            model, str(folder), signature=signature, pip_requirements=REQUIREMENTS
        )
    return folder


def regression_frame(rows: int = 40, seed: int = 11) -> pd.DataFrame:
    """Two float64 features, x1 and x2."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.normal(0, 1, rows), "x2": rng.normal(5, 2, rows)})


def _linear(frame: pd.DataFrame) -> LinearRegression:
    target = 3.0 * frame["x1"] - 0.5 * frame["x2"] + 2.0
    return LinearRegression().fit(frame, target)


def regressor(folder: Path) -> Path:
    """A linear regression on x1, x2 (double) -> double whose signature also declares
    params (which scikit-learn's pyfunc ignores): ``threshold`` double 0.5, ``mode``
    string "fast", ``top`` long 3, ``weights`` list of double [1.0, 2.0]."""
    frame = regression_frame()
    signature = ModelSignature(
        inputs=Schema([ColSpec("double", "x1"), ColSpec("double", "x2")]),
        outputs=Schema([ColSpec("double")]),
        params=ParamSchema(
            [
                ParamSpec("threshold", "double", 0.5),
                ParamSpec("mode", "string", "fast"),
                ParamSpec("top", "long", 3),
                ParamSpec("weights", "double", [1.0, 2.0], shape=(-1,)),
            ]
        ),
    )
    with quiet():
        mlflow.sklearn.save_model(
            _linear(frame), str(folder), signature=signature, pip_requirements=REQUIREMENTS
        )
    return folder


def _save_pyfunc(folder: Path, make: Any, signature: ModelSignature) -> Path:
    with quiet():
        mlflow.pyfunc.save_model(
            str(folder), python_model=make(), signature=signature, pip_requirements=REQUIREMENTS
        )
    return folder


def _scaled_sum() -> Any:
    """A PythonModel made here so that cloudpickle saves the class by value (the server
    that loads it needs no tests package), and MLflow's class-time warnings stay quiet."""

    class ScaledSum(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """Predicts ``(a + b) * scale + offset`` per row, and appends ``note`` (an optional
        string column) when given; ``scale`` and ``offset`` are params."""

        _skip_type_hint_validation = True  # MLflow would warn that predict has no hints

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            """One output frame: ``total`` (float) and ``label`` (str)."""
            params = params or {}
            scale = float(params.get("scale", 1.0))
            offset = float(params.get("offset", 0))
            total = (model_input["a"] + model_input["b"]) * scale + offset
            notes = model_input["note"] if "note" in model_input else pd.Series([None] * len(total))
            labels = [
                f"{t:.1f}" + (f" {n}" if isinstance(n, str) else "")
                for t, n in zip(total, notes, strict=True)
            ]
            return pd.DataFrame({"total": total.astype(float), "label": labels})

    return ScaledSum()


def pyfunc(folder: Path) -> Path:
    """A custom PythonModel (ScaledSum): a long, b double, note optional string; params
    scale double 1.0 and offset long 0."""
    signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("long", "a"),
                ColSpec("double", "b"),
                ColSpec("string", "note", required=False),
            ]
        ),
        outputs=Schema([ColSpec("double", "total"), ColSpec("string", "label")]),
        params=ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("offset", "long", 0)]),
    )
    return _save_pyfunc(folder, _scaled_sum, signature)


def unsigned(folder: Path) -> Path:
    """The x1, x2 linear regression saved without a signature (any columns go in)."""
    with quiet():
        mlflow.sklearn.save_model(
            _linear(regression_frame()), str(folder), pip_requirements=REQUIREMENTS
        )
    return folder


def _tensor_sum() -> Any:
    """A PythonModel made here (see ``_scaled_sum``)."""

    class TensorSum(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """Sums tensors: ``{"x": float32[-1, 3]}`` -> x.sum(axis=1), or a bare array likewise."""

        _skip_type_hint_validation = True

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            """Row sums of ``x`` (or of the array given)."""
            array = model_input["x"] if isinstance(model_input, dict) else model_input
            return np.asarray(array).sum(axis=1)

    return TensorSum()


def tensors(folder: Path, named: bool = True) -> Path:
    """A PythonModel with a tensor signature: ``x`` float32[-1, 3] (unnamed if not named)."""
    spec = TensorSpec(np.dtype("float32"), (-1, 3), "x" if named else None)
    signature = ModelSignature(inputs=Schema([spec]))
    return _save_pyfunc(folder, _tensor_sum, signature)


def _echo() -> Any:
    """A PythonModel made here (see ``_scaled_sum``)."""

    class Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        """Returns, per column, its dtype and its cells as Python values."""

        _skip_type_hint_validation = True

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            """``{column: {"dtype": str, "cells": [...]}}``."""
            return {
                name: {"dtype": str(model_input[name].dtype), "cells": model_input[name].tolist()}
                for name in model_input.columns
            }

    return Echo()


def echo(folder: Path) -> Path:
    """A PythonModel echoing what it receives (see ``_echo``), its signature one column of
    each MLflow type: flag boolean, when datetime, blob binary, small integer, f float,
    vec array of double, and opt long (optional)."""
    signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("boolean", "flag"),
                ColSpec("datetime", "when"),
                ColSpec("binary", "blob"),
                ColSpec("integer", "small"),
                ColSpec("float", "f"),
                ColSpec(Array("double"), "vec"),
                ColSpec("long", "opt", required=False),
            ]
        )
    )
    return _save_pyfunc(folder, _echo, signature)


def register(folder: Path, tracking_uri: str, name: str, artifacts: Path) -> str:
    """Log the saved model in ``folder`` to the tracking store at ``tracking_uri`` (e.g.
    ``sqlite:///…/mlflow.db``), its files under ``artifacts``, and register it as
    ``name``; returns the ``models:/name/N`` URI of the version made. The process's
    tracking and registry URIs are left as they were."""
    with quiet():  # SQLAlchemy's deprecations, inside MLflow's SQL store
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        experiment = client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(name, artifact_location=artifacts.as_uri())
        )
        run = client.create_run(experiment_id)
        client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(
            name if _has_model(client, name) else client.create_registered_model(name).name,
            source=f"{artifacts.as_uri()}/{run.info.run_id}/artifacts/model",
            run_id=run.info.run_id,
        )
    return f"models:/{name}/{version.version}"


def _has_model(client: Any, name: str) -> bool:
    return bool(client.search_registered_models(filter_string=f"name = '{name}'"))
