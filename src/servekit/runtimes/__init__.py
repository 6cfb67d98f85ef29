"""Runtimes: the kinds of model servekit can serve, behind one small seam.

:func:`make_runtime` picks the runtime from the TARGET; every runtime implements
:class:`~servekit.core.runtime.Runtime`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from servekit.core.runtime import Runtime
from servekit.errors import LoadError
from servekit.runtimes.target import Target, parse_target
from servekit.settings import Settings

__all__ = ["Runtime", "Target", "check_target", "make_runtime", "parse_target"]


def make_runtime(target: Target, project_dir: Path, settings: Settings | None = None) -> Runtime:
    """The (not yet loaded) runtime for ``target``."""
    if target.runtime == "python":
        from servekit.protocols.seldon.hooks import unit_parameters
        from servekit.runtimes.python import PythonRuntime

        chosen = settings if settings is not None else Settings()
        return PythonRuntime(target, project_dir, unit_parameters(chosen.unit_parameters))
    if target.runtime == "r":
        from servekit.runtimes.r import ROptions, RRuntime

        return RRuntime(target, ROptions.of(settings if settings is not None else Settings()))
    if target.runtime == "onnx":
        from servekit.runtimes.onnx import OnnxOptions, OnnxRuntime

        chosen = settings if settings is not None else Settings()
        return OnnxRuntime(target, OnnxOptions.of(chosen))
    raise LoadError(
        f"cannot load {target.spec!r}: the {target.runtime} runtime is not part "
        "of this servekit release yet; serve a Python function or class"
    )


def check_target(target: Target, project_dir: Path) -> None:
    """Cheap checks before any server starts, running none of the user's code.

    A missing file, a syntax error, a NAME the file does not define or a package it
    imports that is not installed becomes one LoadError naming the file and line, so
    ``servekit serve`` fails at once (:mod:`servekit.runtimes.precheck`).
    """
    from servekit.runtimes.precheck import check_source

    where = f"cannot load {target.spec!r}"
    if target.path is not None:
        if not target.path.is_file():
            raise LoadError(f"{where}: file not found: {target.path}")
        if target.runtime == "python":
            check_source(target.path, target.name, project_dir, where)
        return
    module = target.module or ""
    top = module.split(".")[0]
    sys.path.insert(0, str(project_dir))
    try:
        found = importlib.util.find_spec(top)
    finally:
        sys.path.remove(str(project_dir))
    if found is None:
        raise LoadError(
            f"{where}: no module named {top!r} in {project_dir} or the "
            "installed packages (set SERVEKIT_PROJECT_DIR, or use path/to/file.py:NAME)"
        )
    source = _module_file(module, [str(project_dir), *sys.path])
    if source is not None:
        check_source(source, target.name, project_dir, where)


def _module_file(module: str, path: list[str]) -> Path | None:
    """The source file of ``module`` found on ``path`` without importing anything
    (None for an extension, a namespace package, or one not found this simple way)."""
    parts = module.split(".")
    for entry in path:
        base = Path(entry or ".").joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None
