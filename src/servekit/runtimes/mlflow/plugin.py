"""The MLflow runtime's plugin: the TARGETs it claims and its cheap checks.

Registered in servekit's ``servekit.runtimes`` entry points as ``mlflow``. Importing
this module imports neither mlflow nor pandas: they are imported in :func:`make`.
"""

from __future__ import annotations

import os
from pathlib import Path

from servekit.core.runtime import Runtime
from servekit.errors import LoadError
from servekit.runtimes.plugin import RuntimeContext, RuntimePlugin
from servekit.runtimes.target import Target

__all__ = ["PLUGIN", "check", "make"]

_TRACKING = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def make(target: Target, context: RuntimeContext) -> Runtime:
    """The (not yet loaded) MLflow runtime for ``target``."""
    from servekit.runtimes.mlflow.runtime import MlflowRuntime

    settings = context.settings
    return MlflowRuntime(target, (settings.batch_max_size, settings.batch_max_wait_ms))


def check(target: Target, project_dir: Path) -> None:
    """A folder holds a readable MLmodel with a python_function flavor; a URI needs
    ``MLFLOW_TRACKING_URI`` (or ``MLFLOW_REGISTRY_URI``) to be resolved."""
    where = f"cannot load MLflow model {target.spec!r}"
    if target.uri is not None:
        if not any(os.environ.get(name, "").strip() for name in _TRACKING):
            raise LoadError(
                f"{where}: set MLFLOW_TRACKING_URI to the tracking server (or the "
                "sqlite:///path/to/mlflow.db) that holds it"
            )
        return
    if target.path is None:
        return
    mlmodel = target.path / "MLmodel"
    try:
        text = mlmodel.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"{where}: cannot read {mlmodel}: {exc}") from None
    if "python_function:" not in text:
        raise LoadError(
            f"{where}: {mlmodel} has no python_function flavor; servekit serves MLflow "
            "models through pyfunc (mlflow.pyfunc.load_model)"
        )


PLUGIN = RuntimePlugin(
    name="mlflow",
    make=make,
    summary="an MLflow model (a folder holding MLmodel, or models:/ runs:/ URIs), via pyfunc",
    markers=("MLmodel",),
    schemes=("models", "runs", "mlflow-artifacts"),
    requires=("mlflow",),
    install="pip install 'servekit[mlflow]'",
    check=check,
    fork_safe=False,
)
"""``./model`` (a folder holding ``MLmodel``), ``models:/name/1``, ``runs:/<id>/model``."""
