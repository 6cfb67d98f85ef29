"""servekit's own runtime plugins, registered in its ``servekit.runtimes`` entry points
exactly as a third party's are. Each imports its runtime's module only in ``make``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from servekit.core.runtime import Runtime
from servekit.errors import LoadError
from servekit.runtimes.plugin import RuntimeContext, RuntimePlugin
from servekit.runtimes.target import Target

__all__ = ["ONNX", "PYTHON", "R"]


def _make_python(target: Target, context: RuntimeContext) -> Runtime:
    from servekit.protocols.seldon.hooks import unit_parameters
    from servekit.runtimes.python import PythonRuntime

    settings = context.settings
    init = unit_parameters(settings.unit_parameters)
    batching = (settings.batch_max_size, settings.batch_max_wait_ms)
    return PythonRuntime(target, context.project_dir, init, batching)


def _make_onnx(target: Target, context: RuntimeContext) -> Runtime:
    from servekit.runtimes.onnx import OnnxOptions, OnnxRuntime

    return OnnxRuntime(target, OnnxOptions.of(context.settings))


def _make_r(target: Target, context: RuntimeContext) -> Runtime:
    from servekit.runtimes.r import ROptions, RRuntime

    return RRuntime(target, ROptions.of(context.settings))


def check_file(target: Target, project_dir: Path) -> None:
    """The TARGET's file exists."""
    if target.path is not None and not target.path.is_file():
        raise LoadError(f"cannot load {target.spec!r}: file not found: {target.path}")


def check_python(target: Target, project_dir: Path) -> None:
    """The file or module exists, parses, and defines NAME; its imports are installed."""
    from servekit.runtimes.precheck import check_source

    where = f"cannot load {target.spec!r}"
    if target.path is not None:
        check_file(target, project_dir)
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


PYTHON = RuntimePlugin(
    name="python",
    make=_make_python,
    summary="a Python function, a class with predict, or a callable object",
    suffixes=(".py",),
    named=True,
    modules=True,
    check=check_python,
    fork_safe=True,
)
"""``path/to/file.py:NAME`` and ``package.module:NAME``."""

ONNX = RuntimePlugin(
    name="onnx",
    make=_make_onnx,
    summary="an ONNX graph, run by onnxruntime (CUDA when there is a GPU)",
    suffixes=(".onnx",),
    settings_prefix="ONNX_",
    requires=("onnxruntime",),
    install="pip install 'servekit[onnx]' (or 'servekit[onnx-cpu]')",
    check=check_file,
)
"""``model.onnx``."""

R = RuntimePlugin(
    name="r",
    make=_make_r,
    summary="an R function, run by Rscript in a child process of each worker",
    suffixes=(".r",),
    named=True,
    settings_prefix="R_",
    check=check_file,
)
"""``file.R:NAME``."""
