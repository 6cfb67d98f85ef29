"""What ``servekit serve TARGET`` names, and which runtime serves it.

TARGET forms:

- ``path/to/file.py:NAME``: a Python file; its folder is the project directory.
- ``package.module:NAME``: an importable module; the project directory is
  ``SERVEKIT_PROJECT_DIR`` or the current directory.
- ``model.onnx`` and ``file.R:NAME`` are reserved for the ONNX and R runtimes.

NAME may be dotted (``Model.predict``) and may name a function, a class (instantiated
once, its ``load()`` called once, its ``predict`` served) or a callable object.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from servekit.errors import LoadError

__all__ = ["Target", "parse_target"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_FORMS = "path/to/file.py:NAME or package.module:NAME"


@dataclass(frozen=True)
class Target:
    """A parsed TARGET. Exactly one of ``path`` and ``module`` is set."""

    spec: str
    runtime: str
    name: str
    path: Path | None = None
    module: str | None = None

    def project_dir(self, configured: str = "") -> Path:
        """The folder that is the working directory and is put on ``sys.path``."""
        if configured:
            return Path(configured).resolve()
        if self.path is not None:
            return self.path.parent
        return Path.cwd()

    @property
    def absolute_spec(self) -> str:
        """The TARGET with an absolute path, valid from any working directory."""
        if self.path is None:
            return self.spec
        return f"{self.path}:{self.name}" if self.name else str(self.path)

    @property
    def default_model_name(self) -> str:
        """A model name when none is configured: the project folder or the module."""
        if self.path is not None:
            return self.path.parent.name or self.path.stem
        return (self.module or self.name).rsplit(".", 1)[-1]


def parse_target(spec: str, project_dir: str = "") -> Target:
    """Parse TARGET text; relative paths are taken from ``project_dir`` or the cwd."""
    text = spec.strip()
    if not text:
        raise LoadError(f"no TARGET given: name the model as {_FORMS}")
    base = Path(project_dir) if project_dir else Path.cwd()
    if text.lower().endswith(".onnx"):
        return Target(text, "onnx", "", path=(base / text).resolve())
    location, colon, name = text.rpartition(":")
    if not colon or not location or not name:
        raise LoadError(f"TARGET {spec!r} is not of the form {_FORMS}")
    if not _DOTTED.fullmatch(name):
        raise LoadError(f"TARGET {spec!r}: {name!r} is not a Python name")
    suffix = Path(location).suffix.lower()
    if suffix in (".py", ".r") or "/" in location or os.sep in location:
        runtime = "r" if suffix == ".r" else "python"
        return Target(text, runtime, name, path=(base / location).resolve())
    if not _DOTTED.fullmatch(location):
        raise LoadError(f"TARGET {spec!r}: {location!r} is neither a .py file nor a module name")
    return Target(text, "python", name, module=location)
