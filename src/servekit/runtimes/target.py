"""What ``servekit serve TARGET`` names: a file, a folder, a module or a URI.

The runtime plugins (:mod:`servekit.runtimes.plugin`) say which TARGETs they claim;
:func:`~servekit.runtimes.registry.parse_target` asks them. The built-in forms:

- ``path/to/file.py:NAME`` (python): a Python file; its folder is the project directory.
- ``package.module:NAME`` (python): an importable module; the project directory is
  ``SERVEKIT_PROJECT_DIR`` or the current directory.
- ``model.onnx`` (onnx) and ``file.R:NAME`` (r).

NAME may be dotted (``Model.predict``) and may name a function, a class (instantiated
once, its ``load()`` called once, its ``predict`` served) or a callable object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Target"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Target:
    """A parsed TARGET. Exactly one of ``path``, ``module`` and ``uri`` is set."""

    spec: str
    """The text as given."""
    runtime: str
    """The name of the runtime plugin that claimed it."""
    name: str
    """What to serve inside the file or module (``predict``); empty when nothing is named."""
    path: Path | None = None
    """The absolute file or folder."""
    module: str | None = None
    """The dotted module name."""
    uri: str | None = None
    """A URI the runtime resolves (``models:/churn/1``)."""

    def project_dir(self, configured: str = "") -> Path:
        """The folder that is the working directory and is put on ``sys.path``."""
        if configured:
            return Path(configured).resolve()
        if self.path is not None:
            return self.path if self.path.is_dir() else self.path.parent
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
            if self.path.is_dir():
                return self.path.name
            return self.path.parent.name or self.path.stem
        if self.uri is not None:  # models:/churn/1 -> churn; runs:/<run id>/model -> model
            parts = [p for p in self.uri.partition(":")[2].split("/") if p]
            named = [p.split("@")[0] for p in parts if not _RUN_ID.fullmatch(p)]
            return named[0] if named else "model"
        return (self.module or self.name).rsplit(".", 1)[-1]
