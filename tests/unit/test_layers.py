"""The import rules of servekit's layers hold (:mod:`tests.layers`), and the check finds
a violation wherever it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import violations

SRC = Path(__file__).resolve().parents[2] / "src"


def test_servekit_keeps_its_layers() -> None:
    assert violations(SRC) == []


@pytest.mark.parametrize(
    ("module", "source", "needle"),
    [
        ("servekit/core/plane.py", "import flask\n", "servekit.core.plane imports flask"),
        (
            "servekit/core/plane.py",
            "def f():\n    from servekit.settings import Settings\n",
            "imports servekit.settings",
        ),
        ("servekit/core/plane.py", "from servekit import runtimes\n", "servekit.runtimes"),
        ("servekit/core/plane.py", "from ..http import app\n", "imports servekit.http"),
        ("servekit/protocols/v2.py", "from flask import request\n", "imports flask"),
        ("servekit/jobs/worker.py", "import servekit.http.app\n", "imports servekit.http.app"),
        ("servekit/metrics/server.py", "from werkzeug import Request\n", "imports werkzeug"),
        ("servekit/errors.py", "from servekit.settings import X\n", "servekit.errors imports"),
    ],
)
def test_a_violation_is_found(tmp_path: Path, module: str, source: str, needle: str) -> None:
    path = tmp_path / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    (found,) = violations(tmp_path)
    assert found.startswith(f"{module}:")
    assert needle in found


def test_what_a_layer_may_import_passes(tmp_path: Path) -> None:
    path = tmp_path / "servekit" / "core" / "plane.py"
    path.parent.mkdir(parents=True)
    path.write_text("from servekit.core.binding import Call\nfrom servekit import errors\n")
    (tmp_path / "servekit" / "http").mkdir()
    (tmp_path / "servekit" / "http" / "app.py").write_text("import flask\n")
    assert violations(tmp_path) == []


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (SRC / "servekit").rglob("*.py")
    }
    assert {name: size for name, size in sizes.items() if size > 400} == {}


def test_create_app_is_wiring() -> None:
    import ast

    tree = ast.parse((SRC / "servekit" / "http" / "app.py").read_text(encoding="utf-8"))
    (found,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "create_app"]
    assert found.end_lineno is not None
    assert found.end_lineno - found.lineno < 60
