"""Whether a TARGET is a batched model, known before uWSGI starts (so its threads can be
set): a Python function or method marked ``@servekit.batch`` (read in its source, run
none of it), or an ONNX graph or MLflow model with ``SERVEKIT_BATCH_MAX_SIZE`` above 1."""

from __future__ import annotations

import ast

from servekit.core.batching import DEFAULT_MAX_SIZE
from servekit.runtimes.target import Target
from servekit.settings import Settings

__all__ = ["batch_size"]


def batch_size(target: Target, settings: Settings) -> int:
    """The batch size a batched TARGET asks for (its requests must meet in one process:
    ``servekit serve`` gives each worker as many threads), else 0."""
    if target.runtime in ("onnx", "mlflow"):  # batched by the setting, when the model can
        return settings.batch_max_size if settings.batch_max_size > 1 else 0
    if target.runtime != "python" or target.path is None or not target.path.is_file():
        return 0
    try:
        tree = ast.parse(target.path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return 0
    found = _marked(tree, target.name)
    if found is None:
        return 0
    return found or settings.batch_max_size or DEFAULT_MAX_SIZE


def _marked(tree: ast.Module, name: str) -> int | None:
    """The literal ``max_size`` of the ``batch`` decorator on ``name`` (a function, a
    class's ``predict``, or ``Class.method``): 0 when it gives none, None when unmarked."""
    parts = name.split(".")
    found = _find(tree.body, parts[0])
    if isinstance(found, ast.ClassDef):
        found = _find(found.body, parts[1] if len(parts) > 1 else "predict")
    if not isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    for decorator in found.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        named = call.func if call is not None else decorator
        if not (
            (isinstance(named, ast.Name) and named.id == "batch")
            or (isinstance(named, ast.Attribute) and named.attr == "batch")
        ):
            continue
        for keyword in call.keywords if call is not None else ():
            value = keyword.value
            if keyword.arg == "max_size" and isinstance(value, ast.Constant):
                return value.value if type(value.value) is int else 0
        return 0
    return None


def _find(body: list[ast.stmt], name: str) -> ast.stmt | None:
    """The last top-level definition of ``name`` in ``body``."""
    found = None
    for node in body:
        defines = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        if isinstance(node, defines) and node.name == name:
            found = node
    return found
