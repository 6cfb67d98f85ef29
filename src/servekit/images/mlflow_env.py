"""What an MLflow model folder says about its environment, for ``servekit build``.

MLflow writes, beside ``MLmodel``, ``requirements.txt`` (pip), ``conda.yaml`` (conda,
with a ``pip:`` part) and ``python_env.yaml`` (the Python version it was saved with).
The build installs ``requirements.txt`` as any project's; without one, the pip part of
``conda.yaml`` when that is all there is (conda packages besides python and pip are an
error: pip cannot install them); and it checks, before installing anything, that the
base image's Python is the ``major.minor`` the model was saved with (a pickled model
from another Python may not load).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError

__all__ = ["MlflowEnv", "read_mlflow_env"]

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")
_PYTHON_LINE = re.compile(r"^python:\s*['\"]?([0-9][0-9.]*)['\"]?\s*$", re.MULTILINE)
_CONDA_PYTHON = re.compile(r"^python\s*(?:==?|>=?)?\s*([0-9][0-9.]*)")


@dataclass(frozen=True)
class MlflowEnv:
    """The Python version the model was saved with, and pip requirements to install
    when the folder has no ``requirements.txt``."""

    python: str = ""
    """``3.11.14`` as MLflow recorded it; empty when it recorded none."""
    source: str = ""
    """The file that recorded it."""
    pip: tuple[str, ...] = ()
    """Requirements from ``conda.yaml``'s pip part (only without ``requirements.txt``)."""

    @property
    def major_minor(self) -> tuple[int, int] | None:
        """``(3, 11)``, or None when no version was recorded."""
        found = _VERSION.fullmatch(self.python)
        return (int(found.group(1)), int(found.group(2))) if found else None


def read_mlflow_env(folder: Path, has_requirements: bool) -> MlflowEnv:
    """Read ``python_env.yaml`` and ``conda.yaml`` in ``folder``; ConfigError naming the
    file for what cannot be used."""
    python, source = "", ""
    env_file = folder / "python_env.yaml"
    if env_file.is_file():
        found = _PYTHON_LINE.search(env_file.read_text(encoding="utf-8"))
        if found:
            python, source = found.group(1), "python_env.yaml"
    conda_file = folder / "conda.yaml"
    pip: tuple[str, ...] = ()
    if conda_file.is_file() and (not python or not has_requirements):
        conda_python, pip = _conda(conda_file, installing=not has_requirements)
        if not python and conda_python:
            python, source = conda_python, "conda.yaml"
    if python and not _VERSION.fullmatch(python):
        raise ConfigError(f"{folder / source}: the Python version {python!r} is not X.Y[.Z]")
    return MlflowEnv(python, source, pip)


def _conda(path: Path, installing: bool) -> tuple[str, tuple[str, ...]]:
    """(python version, pip requirements) of a conda.yaml; ``installing`` (no
    requirements.txt) its pip part, refusing conda packages besides python and pip."""
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(
            f"reading {path} needs PyYAML (pip install PyYAML), or give the model a "
            "requirements.txt"
        ) from None
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    dependencies = document.get("dependencies", []) if isinstance(document, dict) else None
    if not isinstance(dependencies, list):
        raise ConfigError(f"{path}: 'dependencies' must be a list")
    python, pip, others = "", [], []
    for entry in dependencies:
        if isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            pip += [str(item) for item in entry["pip"]]
        elif isinstance(entry, str) and (match := _CONDA_PYTHON.match(entry)):
            python = match.group(1)
        elif isinstance(entry, str) and re.match(r"^pip\b", entry):
            continue
        else:
            others.append(str(entry))
    if not installing:
        return python, ()
    if others:
        raise ConfigError(
            f"{path} names conda packages pip cannot install ({', '.join(others)}) and the "
            "model has no requirements.txt: write one with their pip names"
        )
    options = [item for item in pip if item.startswith("-")]
    if options:
        raise ConfigError(
            f"{path}: its pip part has options ({', '.join(options)}), which servekit build "
            "does not pass to pip: write a requirements.txt instead"
        )
    return python, tuple(pip)
