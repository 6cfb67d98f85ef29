"""What a model image cannot do without: its requirement files, the TARGET's file (or
module) and the project's modules that file imports at module level. ``servekit build``
refuses a ``.modelignore`` that leaves one of them out, naming the file and the line that
drops it, rather than building an image that fails at run time with an ImportError.

Imports are read with :mod:`ast` (no user code runs): the ``import`` and ``from ...
import`` statements of a module's body, followed through the project's own modules.
Imports inside functions, ``if`` or ``try`` blocks are not followed (they may be
optional). I/O-free but for reading the project's files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from servekit.errors import ConfigError
from servekit.images.modelignore import ModelIgnore, escape
from servekit.runtimes import Target
from servekit.runtimes.registry import installed

__all__ = ["Needed", "check_target", "left_out"]


@dataclass(frozen=True)
class Needed:
    """A project path the image needs, and why (the clause after its name)."""

    path: str
    is_dir: bool
    why: str


def _escaped(path: str) -> str:
    """``path`` as a ``.modelignore`` pattern that matches only it."""
    text = escape(path)
    return "\\" + text if text[:1] in ("#", "!") else text


def _fix(path: str, is_dir: bool, folder: str) -> str:
    """The lines that bring ``path`` back when ``folder`` (itself or above it) is out."""
    if folder == path:
        return "'!" + _escaped(path) + ("/'" if is_dir else "'")
    # git never looks inside a folder left out: bring the folder back, leave out what is
    # in it, and bring back each folder on the way down, then the path itself.
    lines = []
    parts = path.split("/")
    for depth in range(folder.count("/") + 1, len(parts)):
        here = _escaped("/".join(parts[:depth]))
        lines += [f"!{here}/", f"{here}/*"]
    lines.append("!" + _escaped(path) + ("/" if is_dir else ""))
    return ", ".join(f"'{line}'" for line in lines)


def left_out(ignore: ModelIgnore, needed: Needed) -> str | None:
    """The message when ``.modelignore`` leaves ``needed`` out of the image, else None:
    ``.modelignore line 3 ('*.txt') leaves out requirements.txt, which the image needs
    (add '!requirements.txt' after it)``."""
    found = ignore.leaving_out(needed.path, needed.is_dir)
    if found is None:
        return None
    folder, rule = found
    shown = needed.path + ("/" if needed.is_dir else "")
    if rule.line == 0:
        return (
            f"servekit always leaves out {rule.pattern} and so {shown}, {needed.why} "
            f"(move it out of {rule.pattern})"
        )
    return (
        f".modelignore line {rule.line} ({rule.pattern!r}) leaves out {shown}, {needed.why} "
        f"(add {_fix(needed.path, needed.is_dir, folder)} after it)"
    )


def _module_paths(root: Path, base: str, dotted: str) -> tuple[list[Needed], str | None]:
    """The project paths a module named ``dotted`` is, searched from folder ``base``
    (each package folder and its ``__init__.py`` on the way, then the module's file), and
    the module's folder when it is a package. No paths when it is not in the project (an
    installed package)."""
    found: list[Needed] = []
    folder = PurePosixPath(base)
    for part in dotted.split("."):
        here = folder / part
        package, module = root / here, root / f"{here}.py"
        regular = (package / "__init__.py").is_file()
        # A folder without __init__.py is a namespace package only when it holds Python
        # files (a data folder of the same name as an installed package is not one).
        if regular or (not module.is_file() and any(package.glob("*.py"))):
            found.append(Needed(here.as_posix(), True, ""))
            if regular:
                found.append(Needed(f"{here}/__init__.py", False, ""))
            folder = here
        elif module.is_file():
            return [*found, Needed(f"{here}.py", False, "")], None
        else:
            return found, None
    return found, folder.as_posix()


def _imports(source: bytes) -> Iterator[tuple[int, int, str, list[str]]]:
    """(line, level, module, names) of each import in the module's body."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return  # `servekit serve` reports it where the model runs
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, 0, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.level, node.module or "", [a.name for a in node.names]


def _imported(root: Path, rel: str) -> Iterator[tuple[int, Needed]]:
    """(line, path) of each project path that the module file ``rel`` imports: absolute
    imports from the project folder (first on ``sys.path`` in the image), relative ones
    from ``rel``'s package."""
    parents = PurePosixPath(rel).parents
    for line, level, module, names in _imports((root / rel).read_bytes()):
        if level > len(parents):
            continue  # beyond the project: Python refuses it too
        base = parents[level - 1].as_posix() if level else "."
        package: str | None = base
        paths: list[Needed] = []
        if module:
            paths, package = _module_paths(root, base, module)
        # `from package import name`: name may be a module of the package.
        if package is not None:
            for name in names:
                paths += _module_paths(root, package, name)[0] if name != "*" else []
        yield from ((line, path) for path in paths)


def _dependencies(root: Path, ignore: ModelIgnore, first: str) -> Iterator[Needed]:
    """Each project path that the module file ``first`` needs through its imports, and
    through theirs (as far as the image has them)."""
    queue, seen = [first], {first}
    while queue:
        rel = queue.pop(0)
        for line, path in _imported(root, rel):
            why = f"which {rel} imports (line {line}) and the image needs"
            yield Needed(path.path, path.is_dir, why)
            if not path.is_dir and path.path not in seen and left_out(ignore, path) is None:
                seen.add(path.path)
                queue.append(path.path)


def _target_paths(root: Path, target: Target) -> list[Needed]:
    if target.path is not None and target.path.is_dir():  # a folder a runtime serves
        folder = target.path.relative_to(root)
        markers = installed().get(target.runtime).plugin.markers
        why = f"which makes {target.spec} a {target.runtime} model and the image needs"
        return [
            Needed((folder / m).as_posix(), False, why)
            for m in markers
            if (target.path / m).is_file()
        ]
    if target.path is not None:
        rel = target.path.relative_to(root).as_posix()
        return [Needed(rel, False, "the TARGET, which the image needs")]
    assert target.module is not None
    why = f"which holds the TARGET {target.spec} and the image needs"
    return [Needed(p.path, p.is_dir, why) for p in _module_paths(root, "", target.module)[0]]


def check_target(root: Path, ignore: ModelIgnore, target: Target) -> None:
    """Refuse (ConfigError) a ``.modelignore`` that leaves out the TARGET's file, its
    module, or a project module it imports at module level (or those import)."""
    needed = _target_paths(root, target)
    for path in needed:
        message = left_out(ignore, path)
        if message is not None:
            raise ConfigError(message)
    if target.runtime != "python":
        return
    files = [p.path for p in needed if p.path.endswith(".py")]
    for rel in files:
        for path in _dependencies(root, ignore, rel):
            message = left_out(ignore, path)
            if message is not None:
                raise ConfigError(message)
