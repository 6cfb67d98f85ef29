"""The joblib runtime: one estimator, loaded once per worker, one method served.

- **Signature:** one parameter, ``instances``: a :class:`~servekit.core.tensors.TensorSpec`
  of float64 and shape ``(rows, n_features_in_)``, so servekit checks every request
  before the estimator sees it (``{"data": {"instances": [[1.0, 2.0], ...]}}``; a row of
  the wrong length is a 422 naming ``data.instances``), documents it in OpenAPI and the
  tester page, and takes KServe V1's ``{"instances": [...]}`` as one batch.
- **Method:** ``SERVEKIT_JOBLIB_METHOD`` (default ``predict``), checked at load: a name
  the estimator does not have stops start-up, listing those it has.
- **Feature names:** an estimator fitted on a pandas DataFrame gets a DataFrame with its
  ``feature_names_in_`` as columns, as it was trained.
- **Result:** the method's array, as JSON lists.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from servekit.core.signature import Param, ParamKind, Signature
from servekit.core.tensors import TensorSpec
from servekit.errors import LoadError
from servekit.runtimes import Target

__all__ = ["JoblibRuntime"]

_USUAL = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


def _module(name: str, install: str) -> Any:
    """Import ``name`` when the model loads; LoadError saying what to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise LoadError(f"the joblib runtime needs {name}: {install}") from None


class JoblibRuntime:
    """Serves ``method`` of the estimator in a ``.joblib`` file."""

    kind = "joblib"

    def __init__(self, target: Target, method: str) -> None:
        self.target = target
        self.method = method
        self._estimator: Any = None
        self._call: Any = None
        self._columns: list[str] | None = None
        self._width: int | None = None
        self._pandas: Any = None

    def load(self) -> None:
        """Unpickle the estimator and find the method to serve; LoadError otherwise."""
        joblib = _module("joblib", "pip install joblib scikit-learn")
        try:
            estimator = joblib.load(self.target.path)
        except Exception as exc:  # unpickling can raise anything
            raise LoadError(
                f"cannot load {self.target.spec!r} with joblib: {type(exc).__name__}: {exc}"
            ) from exc
        call = getattr(estimator, self.method, None)
        if not callable(call):
            has = [name for name in _USUAL if callable(getattr(estimator, name, None))]
            raise LoadError(
                f"SERVEKIT_JOBLIB_METHOD={self.method!r}: the {type(estimator).__name__} in "
                f"{self.target.spec} has no method {self.method!r} (it has: {', '.join(has)})"
            )
        features = getattr(estimator, "n_features_in_", None)
        self._width = int(features) if isinstance(features, (int, np.integer)) else None
        names = getattr(estimator, "feature_names_in_", None)
        if names is not None:  # fitted on a DataFrame: give it one
            self._pandas = _module("pandas", "pip install pandas (it was fitted on a DataFrame)")
            self._columns = [str(name) for name in names]
        self._estimator, self._call = estimator, call

    def signature(self) -> Signature:
        """``instances``: float64 rows of the estimator's feature count (any when unknown)."""
        spec = TensorSpec(np.dtype(np.float64), (None, self._width))
        return Signature((Param("instances", ParamKind.POSITIONAL_OR_KEYWORD, spec),))

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The method on the rows: an array with one entry (or row) per instance."""
        rows = args[0] if args else kwargs["instances"]
        if self._columns is not None:
            rows = self._pandas.DataFrame(rows, columns=self._columns)
        return self._call(rows)

    def details(self) -> dict[str, Any]:
        """What ``/readyz`` shows: the estimator's class, the method and its features."""
        return {
            "runtime": self.kind,
            "target": self.target.spec,
            "estimator": type(self._estimator).__name__,
            "method": self.method,
            "features": self._columns or self._width,
        }

    def close(self) -> None:
        """Drop the estimator."""
        self._estimator = self._call = None
