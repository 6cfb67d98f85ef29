"""tests/unit and tests/components mirror src/servekit: every folder under them is named
after a package of servekit (tests/unit/jobs tests servekit.jobs, tests/components/jobs
its stores against a real Redis) and is a package itself, so the mirror cannot drift.
Tests of servekit's top-level modules (settings, logs, _proc...) sit at the top."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

SERVEKIT = REPO / "src" / "servekit"
TREES = ["unit", "components"]


def folders(tree: Path) -> list[Path]:
    """``tree`` and every folder below it, caches and hidden folders left out."""
    below = (
        folder
        for folder in tree.rglob("*")
        if folder.is_dir()
        and not any(p == "__pycache__" or p.startswith(".") for p in folder.relative_to(tree).parts)
    )
    return [tree, *sorted(below)]


def strays(tree: Path, package: Path = SERVEKIT) -> list[str]:
    """The folders below ``tree`` that name no package under ``package``."""
    return [
        folder.relative_to(tree).as_posix()
        for folder in folders(tree)[1:]
        if not (package / folder.relative_to(tree) / "__init__.py").is_file()
    ]


@pytest.mark.parametrize("tree", TREES)
def test_every_test_folder_names_a_package_of_servekit(tree: str) -> None:
    found = strays(REPO / "tests" / tree)
    assert not found, (
        f"tests/{tree}/: {', '.join(found)} names no package of src/servekit; put tests in "
        f"the folder of the package they test, or in tests/{tree}/ for a top-level module"
    )


@pytest.mark.parametrize("tree", TREES)
def test_every_test_folder_is_a_package(tree: str) -> None:
    root = REPO / "tests" / tree
    missing = [
        (folder / "__init__.py").relative_to(REPO).as_posix()
        for folder in folders(root)
        if not (folder / "__init__.py").is_file()
    ]
    assert not missing, f"missing (tests are imported as tests.{tree}...): {', '.join(missing)}"


def test_the_check_finds_a_folder_no_package_has(tmp_path: Path) -> None:
    package, tree = tmp_path / "servekit", tmp_path / "unit"
    for name in ("jobs", "protocols", "protocols/seldon"):
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").touch()
    (package / "images").mkdir()  # a folder without __init__.py is no package
    for name in ("jobs/nosuch", "protocols/seldon", "images", "jobs/__pycache__", ".hypothesis/x"):
        (tree / name).mkdir(parents=True)
    assert strays(tree, package) == ["images", "jobs/nosuch"]
