"""servekit-joblib: serve a scikit-learn estimator saved with ``joblib.dump``.

    pip install servekit-joblib          # or: pip install ./examples/joblib-runtime
    servekit serve model.joblib
    curl -s localhost:8080/model -H 'Content-Type: application/json' \\
         -d '{"data": {"instances": [[5.1, 3.5, 1.4, 0.2]]}}'

This module is what servekit imports to learn about the plugin (its entry point
``servekit.runtimes: joblib = "servekit_joblib:PLUGIN"``), so it stays cheap: it imports
neither joblib nor scikit-learn. They are imported in each worker when the model loads
(:mod:`servekit_joblib.runtime`).
"""

from __future__ import annotations

from pathlib import Path

from servekit.errors import LoadError
from servekit.runtimes import PluginSetting, Runtime, RuntimeContext, RuntimePlugin, Target

__all__ = ["PLUGIN"]

__version__ = "0.1.0"


def _make(target: Target, context: RuntimeContext) -> Runtime:
    """The runtime for a ``.joblib`` TARGET, not loaded yet (servekit calls ``load()``
    once in each worker process)."""
    from servekit_joblib.runtime import JoblibRuntime

    return JoblibRuntime(target, context.options["method"])


def _check(target: Target, project_dir: Path) -> None:
    """Before any server starts: the file is there (unpickling it runs code: not here)."""
    if target.path is None or not target.path.is_file():
        raise LoadError(f"cannot load {target.spec!r}: file not found: {target.path}")


PLUGIN = RuntimePlugin(
    name="joblib",
    make=_make,
    summary="a scikit-learn estimator saved with joblib.dump",
    suffixes=(".joblib",),
    settings_prefix="JOBLIB_",
    settings=(
        PluginSetting(
            "method",
            "predict",
            "The estimator's method to serve (predict, predict_proba, decision_function, "
            "transform, ...); checked when the model loads.",
        ),
    ),
    requires=("joblib", "sklearn"),
    install="pip install servekit-joblib",
    check=_check,
)
"""The plugin servekit finds through the ``servekit.runtimes`` entry point."""
