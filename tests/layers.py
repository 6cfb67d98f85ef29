"""servekit's import rules, checked by reading every module's imports (top level and
inside functions alike): the layers of ``docs/architecture.md`` as a test.

Each rule is (package, what it must not import); a name matches itself and everything
under it (``flask`` forbids ``flask.json``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

WEB = ("flask", "werkzeug", "uwsgi")
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "servekit.core",
        (
            *WEB,
            "prometheus_client",
            "servekit.settings",
            "servekit.runtimes",
            "servekit.protocols",
            "servekit.http",
            "servekit.serving",
            "servekit.jobs",
            "servekit.metrics",
            "servekit.capture",
        ),
    ),
    (
        "servekit.protocols",
        (*WEB, "prometheus_client", "servekit.http", "servekit.serving", "servekit.jobs"),
    ),
    ("servekit.jobs", (*WEB, "servekit.http", "servekit.serving")),
    ("servekit.runtimes", (*WEB, "servekit.http", "servekit.serving", "servekit.jobs")),
    ("servekit.metrics", (*WEB, "servekit.http", "servekit.serving")),
    (
        "servekit.batching",
        (*WEB, "prometheus_client", "servekit.http", "servekit.serving", "servekit.jobs"),
    ),
    ("servekit.capture", (*WEB, "servekit.http", "servekit.serving", "servekit.jobs")),
    (
        "servekit.monitor",
        (*WEB, "servekit.http", "servekit.serving", "servekit.jobs", "servekit.runtimes"),
    ),
    ("servekit.errors", ("servekit",)),
)


def module_name(root: Path, path: Path) -> str:
    """``servekit.http.app`` for ``root/servekit/http/app.py``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module imported) for every import statement in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from servekit import metrics` imports a module
                yield node.lineno, f"{base}.{alias.name}"


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(root: Path) -> list[str]:
    """Every import in the tree under ``root`` that a rule forbids, as ``file:line``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path)
        for package, forbidden in RULES:
            if not _under(module, package):
                continue
            source = path.read_text(encoding="utf-8")
            said: set[int] = set()  # one violation a line (`from flask import a, b`)
            for line, name in imports(source, module, path.name == "__init__.py"):
                bad = next(
                    (f for f in forbidden if _under(name, f) and not _under(name, package)), None
                )
                if bad is not None and line not in said:
                    said.add(line)
                    where = f"{path.relative_to(root)}:{line}"
                    found.append(f"{where}: {module} imports {name} ({package} must not: {bad})")
    return found
