"""The MLflow runtime: serves a model with MLflow's pyfunc loader, typed by its signature.

``servekit serve ./model`` (a folder holding ``MLmodel``) or ``servekit serve
models:/churn/1`` (with ``MLFLOW_TRACKING_URI`` set; also ``runs:/`` and
``mlflow-artifacts:/`` URIs). The model is loaded once per worker process with
``mlflow.pyfunc.load_model``; its signature becomes servekit's (see
:mod:`.signature`), so ``{"data": {"tenure": 12, ...}}``, ``{"data": {"tenure": [12,
40], ...}}`` and ``{"data": [{"tenure": 12, ...}, ...]}`` are checked and converted
before the model sees them; the result is made JSON-ready as :mod:`.frames` says.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from servekit.core.batching import BatchOptions
from servekit.core.binding import BoundCall
from servekit.core.signature import ParamKind, Signature
from servekit.errors import LoadError
from servekit.runtimes.mlflow.batched import predict_rows
from servekit.runtimes.mlflow.frames import as_column, frame, jsonable, refusal, table
from servekit.runtimes.mlflow.scoring import ScoringInput
from servekit.runtimes.mlflow.signature import Layout, layout_of
from servekit.runtimes.target import Target

__all__ = ["INSTALL", "MlflowRuntime", "import_mlflow"]

INSTALL = "pip install 'servekit[mlflow]'"
"""What to install to serve MLflow models."""


def import_mlflow() -> Any:
    """``mlflow`` with its pyfunc module imported (quietly: it warns about its own type
    hints at import); LoadError saying what to install when it is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow
            import mlflow.pyfunc
    except ImportError as exc:
        raise LoadError(f"MLflow models need mlflow: {INSTALL} ({exc})") from None
    return mlflow


class MlflowRuntime:
    """Serves an MLflow model folder or URI named by a :class:`Target`."""

    kind = "mlflow"

    def __init__(self, target: Target, batching: tuple[int, float] = (0, -1.0)) -> None:
        self.target = target
        self.batch_options: BatchOptions | None = None
        """Set by ``SERVEKIT_BATCH_MAX_SIZE`` above 1 for a model that takes a table."""
        self._batching = batching
        self.model: Any = None
        """The ``mlflow.pyfunc.PyFuncModel`` (after :meth:`load`)."""
        self._layout: Layout | None = None
        self._positional: tuple[str, ...] = ()

    def load(self) -> None:
        """Load the model (once per worker process) and read its signature."""
        # What `mlflow models serve` sets: type-hinted PythonModels parse as when served.
        os.environ.setdefault("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "true")
        mlflow = import_mlflow()
        source = self.target.uri or str(self.target.path)
        where = f"cannot load MLflow model {self.target.spec!r}"
        if self.target.uri is not None:
            where += f" (tracking URI {mlflow.get_tracking_uri()})"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.model = mlflow.pyfunc.load_model(source)
        except ImportError as exc:
            raise LoadError(
                f"{where}: {exc}; install what the model needs (its requirements.txt)"
            ) from exc
        except Exception as exc:  # MlflowException, OSError, unpickling errors
            text = getattr(exc, "message", None) or str(exc)
            raise LoadError(f"{where}: {type(exc).__name__}: {text}") from exc
        self._layout = layout_of(self.model.metadata.signature, self.target.spec)
        size, wait = self._batching
        if size > 1 and self._layout.form in ("columns", "table", "any"):
            self.batch_options = BatchOptions().resolved(size, wait)
        self._positional = tuple(
            p.name
            for p in self._layout.signature.params
            if p.kind is ParamKind.POSITIONAL_OR_KEYWORD
        )

    @property
    def layout(self) -> Layout:
        """What the model takes (after :meth:`load`)."""
        if self._layout is None:
            raise LoadError(f"the MLflow model {self.target.spec!r} is not loaded")
        return self._layout

    def signature(self) -> Signature:
        """The model's signature as servekit's (see :mod:`.signature`)."""
        return self.layout.signature

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``model.predict(data, params=params)``: from bound columns, tensors and params
        (the result JSON-ready), or from a :class:`ScoringInput` (the raw result)."""
        if args and type(args[0]) is ScoringInput:
            return self._predict(args[0].data, args[0].params, "")
        data, params = self._input(args, kwargs)
        return jsonable(self._predict(data, params, "data"))

    def predict_batch(self, calls: Sequence[BoundCall]) -> list[Any]:
        """Many requests' rows in one ``predict`` (:mod:`.batched`); each request's
        result as :meth:`predict` gives it."""
        if len(calls) == 1:
            return [self.predict(calls[0].args, calls[0].kwargs)]
        scoring = [bool(c.args) and type(c.args[0]) is ScoringInput for c in calls]
        inputs = [
            (c.args[0].data, c.args[0].params) if raw else self._input(c.args, c.kwargs)
            for c, raw in zip(calls, scoring, strict=True)
        ]
        results = predict_rows(inputs, lambda data, params: self._predict(data, params, "data"))
        return [r if raw else jsonable(r) for r, raw in zip(results, scoring, strict=True)]

    def _input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """What ``predict`` takes for bound arguments: (data, params or None)."""
        layout = self.layout
        values = dict(zip(self._positional, args, strict=False))
        values.update(kwargs)
        params = {name: values.pop(name) for name in layout.params if name in values}
        data: Any
        if layout.form == "tensors":
            data = values
        elif layout.form == "tensor":
            data = values["inputs"]
        elif layout.form == "table":
            data = table(values["inputs"])
        else:
            known = {c.name: c for c in layout.columns}
            columns = {
                name: as_column(value, name in known and known[name].array)
                for name, value in values.items()
                if value is not None or name not in known  # None: an optional column left out
            }
            data = frame(columns, known)
        return data, params or None

    def _predict(self, data: Any, params: dict[str, Any] | None, root: str) -> Any:
        try:
            return self.model.predict(data, params=params)
        except Exception as exc:
            refused = refusal(exc, root) if type(exc).__name__ == "MlflowException" else None
            if refused is None:
                raise
            raise refused from None

    def details(self) -> dict[str, Any]:
        """The flavor, MLflow's version (serving, and saving), the model's ids."""
        meta = self.model.metadata if self.model is not None else None
        if meta is None:
            return {"runtime": self.kind, "target": self.target.spec}
        pyfunc = meta.flavors.get("python_function", {})
        return {
            "runtime": self.kind,
            "target": self.target.spec,
            "flavor": pyfunc.get("loader_module", ""),
            "flavors": sorted(meta.flavors),
            "mlflow_version": import_mlflow().__version__,
            "saved_with_mlflow": meta.mlflow_version,
            "model_uuid": meta.model_uuid,
            "run_id": meta.run_id,
            "inputs": self.layout.form,
        }

    def close(self) -> None:
        """Drop the model."""
        self.model = None
