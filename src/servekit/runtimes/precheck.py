"""Checks of a Python TARGET that read its source and run none of it.

``servekit serve`` runs them before uWSGI starts, so the common start-up mistakes (a
misspelt NAME, a syntax error, a package that is not installed) are one line and exit
status 2 instead of a server that spawns its workers and then stops. Every check is
conservative: where the source could define a name or change the import path at run
time in a way reading it cannot follow, the check says nothing and the real load decides.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

from servekit.errors import LoadError

__all__ = ["check_source", "defined_names", "leading_imports"]

_DYNAMIC_ANYWHERE = frozenset({"globals", "exec"})
"""Calls that can bind module names from anywhere, a function's body included."""
_DYNAMIC_AT_TOP = frozenset({"vars", "eval", "setattr", "locals"})
"""Calls that can bind module names when the module itself runs them."""


def check_source(path: Path, name: str, project_dir: Path, where: str) -> None:
    """Refuse ``path`` when it does not parse, does not define ``name``'s first part, or
    imports (in its leading block of imports) a top-level module that cannot be found
    from ``project_dir`` or the installed packages. ``where`` starts each message."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as exc:
        text = f": {exc.text.strip()}" if exc.text else ""
        raise LoadError(
            f"{where}: {exc.filename}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}{text}"
        ) from None
    for line, module in leading_imports(tree):
        if not _findable(module, project_dir):
            raise LoadError(
                f"{where}: {path}, line {line}: ModuleNotFoundError: No module named "
                f"{module!r} (install the package that provides it into {sys.prefix}, "
                f"or put it in {project_dir})"
            )
    names = defined_names(tree)
    first = name.split(".")[0]
    if names is not None and first not in names:
        public = sorted(n for n in names if not n.startswith("_"))
        close = difflib.get_close_matches(first, public, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(public[:20]) or "nothing public"
        label = path.parent.name if path.name == "__init__.py" else path.stem
        raise LoadError(f"{where}: {label} has no {first!r} (it defines: {shown}){hint}")


def leading_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of each absolute import before the module's first other
    statement: nothing the module runs can have changed ``sys.path`` by then."""
    for index, node in enumerate(tree.body):
        if index == 0 and _is_docstring(node):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module != "__future__":
                yield node.lineno, node.module.split(".")[0]
        else:
            return


def defined_names(tree: ast.Module) -> set[str] | None:
    """The names the module binds at its top level, or None when it may bind others
    that reading it cannot tell (``import *``, ``__getattr__``, ``globals()`` and kin)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        if _calls(node, _DYNAMIC_ANYWHERE):
            return None
    names: set[str] = set()
    for statement in _top_level(tree.body):
        names.update(_bound(statement))
        runs = not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        if runs and any(_calls(node, _DYNAMIC_AT_TOP) for node in ast.walk(statement)):
            return None
    return None if "__getattr__" in names else names


_TRY = (ast.Try, getattr(ast, "TryStar", ast.Try))  # try/except* is Python 3.11+


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run at module level, compound statements opened."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            yield from _top_level(node.body)
        elif isinstance(node, _TRY):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)
            for handler in node.handlers:
                if handler.name:
                    yield ast.Global(names=[handler.name])
                yield from _top_level(handler.body)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from _top_level(case.body)


def _bound(node: ast.stmt) -> Iterator[str]:
    """The names one top-level statement binds."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            yield alias.asname or alias.name.split(".")[0]
    elif isinstance(node, ast.Global):  # an except clause's name (see _top_level)
        yield from node.names
    else:  # assignments, for/with targets, walrus, match captures: every Name stored
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                yield child.id
            elif isinstance(child, ast.MatchAs | ast.MatchStar) and child.name:
                yield child.name
            elif isinstance(child, ast.MatchMapping) and child.rest:
                yield child.rest


def _calls(node: ast.AST, names: frozenset[str]) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _findable(module: str, project_dir: Path) -> bool:
    """Whether ``import module`` would find it (a top-level name: nothing is imported)."""
    if module in sys.builtin_module_names or module in sys.modules:
        return True
    folder = str(project_dir)
    sys.path.insert(0, folder)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return True  # the real import will say what is wrong
    finally:
        sys.path.remove(folder)
