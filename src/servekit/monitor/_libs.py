"""The ``monitor`` extra's libraries, imported once, here.

``servekit monitor`` needs numpy, scipy, scikit-learn, pandas (with pyarrow for Parquet),
matplotlib and PyYAML: ``pip install 'servekit[monitor]'``. :func:`require` checks them
all before anything is read, so a missing one is one line, not a traceback halfway
through. scipy, scikit-learn, pandas and PyYAML ship no type hints: their modules are
typed ``Any`` here, and only here.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from servekit.errors import ConfigError

__all__ = ["PACKAGES", "metrics", "pandas", "require", "special", "stats", "yaml"]

PACKAGES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "matplotlib": "matplotlib",
    "yaml": "PyYAML",
}
"""Module -> the distribution that installs it: what the ``monitor`` extra holds."""


def require() -> None:
    """ConfigError naming what is missing and the one command that installs it all."""
    missing = [dist for module, dist in PACKAGES.items() if not _installed(module)]
    if missing:
        raise ConfigError(
            f"servekit monitor needs {', '.join(missing)}: pip install 'servekit[monitor]'"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        require()
        raise


pandas: Any = _load("pandas")
stats: Any = _load("scipy.stats")
special: Any = _load("scipy.special")
metrics: Any = _load("sklearn.metrics")
yaml: Any = _load("yaml")
