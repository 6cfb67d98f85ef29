"""The MLflow benchmark model: a scikit-learn classifier pipeline saved with MLflow.

``build(folder)`` fits and saves it (seeded: the same model every time; nothing is
downloaded or committed): the plan one-hot encoded, then logistic regression, predicting
churn (0/1) from ``tenure`` (long), ``monthly`` (double) and ``plan`` (string), with that
column signature. The same model as ``tests/mlflow_models.py``'s ``classifier``, made here
so that the benchmarks import nothing from the tests. Both servers under test
(``servekit serve FOLDER`` and ``mlflow models serve -m FOLDER``) load the folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("tenure", "monthly", "plan")
PLANS = ("basic", "plus", "pro")


def frame(rows: int, seed: int = 7) -> Any:
    """A churn-like pandas frame: tenure (int64), monthly (float64), plan (str)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows).astype("int64"),
            "monthly": rng.uniform(10.0, 120.0, rows).round(2),
            "plan": [PLANS[i] for i in rng.integers(0, len(PLANS), rows)],
        }
    )


def labels(table: Any) -> Any:
    """Churned (1) when the monthly bill is high for the tenure, or on the basic plan."""
    score = table["monthly"] / 60.0 - table["tenure"] / 36.0 + (table["plan"] == "basic") * 0.8
    return (score > 0.5).astype("int64").to_numpy()


def build(folder: Path) -> Path:
    """Fit the pipeline and save it with MLflow into ``folder`` (which must not exist)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    with warnings.catch_warnings():  # MLflow warns about its own type hints, and about
        warnings.simplefilter("ignore")  # a model saved without an input example
        import mlflow.sklearn
        from mlflow.models import ModelSignature
        from mlflow.types.schema import ColSpec, Schema

        train = frame(60)
        encode = ColumnTransformer(
            [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
        )
        model = Pipeline([("encode", encode), ("fit", LogisticRegression(max_iter=500))])
        model.fit(train, labels(train))
        signature = ModelSignature(
            inputs=Schema(
                [ColSpec("long", "tenure"), ColSpec("double", "monthly"), ColSpec("string", "plan")]
            ),
            outputs=Schema([ColSpec("long")]),
        )
        mlflow.sklearn.save_model(
            model,
            str(folder),
            signature=signature,
            pip_requirements=["mlflow", "scikit-learn", "pandas"],  # no inference: no subprocess
        )
    return folder


def predictions(table: Any, folder: Path) -> list[int]:
    """What the saved model predicts for ``table``, loaded back in this process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc

        return [int(p) for p in mlflow.pyfunc.load_model(str(folder)).predict(table)]
