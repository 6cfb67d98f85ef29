"""A model project folder as ``servekit build`` reads it: the files that go into the
image, the requirement files pip needs and the packages they name. Every problem is a
ConfigError naming the file, never a traceback; a requirement file that ``.modelignore``
leaves out is one, naming the line that drops it.

The ``Dockerfile`` and ``.dockerignore`` that ``servekit build --dockerfile-only`` wrote
(their first line says so: :data:`MARKER`) never go into the image.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from servekit.errors import ConfigError
from servekit.images.modelignore import ModelIgnore, included_files, read_modelignore
from servekit.images.needs import Needed, left_out

__all__ = [
    "CONTEXT_IGNORES",
    "DOCKERFILE",
    "MARKER",
    "REQUIREMENTS",
    "Project",
    "Requirement",
    "read_project",
    "written_by_servekit",
]

REQUIREMENTS = "requirements.txt"
DOCKERFILE = "Dockerfile"
CONTEXT_IGNORES = frozenset((".dockerignore", ".containerignore"))
"""Left out of the staged context: the engine would apply them over ``.modelignore``."""
MARKER = "# Written by servekit build"
"""The first line of the files ``servekit build --dockerfile-only`` writes."""
_OLD_MARKERS = ("# Written by servekit ", "# Written by `servekit build")  # servekit 0.1.0
_REFERENCE = re.compile(
    r"^(-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)", re.IGNORECASE
)
_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:$|[\[;(<>=!~@ ])")


@dataclass(frozen=True)
class Project:
    """What goes into the image: the files (relative, ``/``-separated, sorted) and the
    requirement files in the order pip reads them (``requirements.txt`` first)."""

    root: Path
    ignore: ModelIgnore
    files: tuple[str, ...]
    requirements: tuple[str, ...]
    installs: tuple[Requirement, ...] = ()
    """The packages the requirement files (not the constraint files) name."""


@dataclass(frozen=True)
class Requirement:
    """A package a requirement file names: its normalised name, the file and line."""

    name: str
    file: str
    line: int


def written_by_servekit(path: Path) -> bool:
    """Whether ``path`` is a file that ``servekit build --dockerfile-only`` wrote."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(200).decode("utf-8", "replace")
    except OSError:
        return False
    return first.startswith(MARKER) or first.startswith(_OLD_MARKERS)


def _check_entry(root: Path, rel: str, kept: set[str], ignore: ModelIgnore) -> None:
    path = root / rel
    mode = path.lstat().st_mode
    if stat.S_ISREG(mode):
        return
    if not stat.S_ISLNK(mode):
        raise ConfigError(
            f"{path} is not a regular file (a FIFO, socket or device): add it to .modelignore"
        )
    target = Path(os.path.normpath(path.parent / os.readlink(path)))
    try:
        inside = target.relative_to(root).as_posix()
    except ValueError:
        raise ConfigError(
            f"{path} links to {target}, outside the project: the image would have a broken "
            "link (copy the file in, or add the link to .modelignore)"
        ) from None
    if not target.exists():
        raise ConfigError(f"{path} links to {target}, which does not exist")
    if target.is_dir() and not target.is_symlink():
        if ignore.excluded(inside, True):
            raise ConfigError(f"{path} links to {inside}/, which .modelignore excludes")
    elif inside not in kept:
        raise ConfigError(f"{path} links to {inside}, which .modelignore excludes")


def _lines(text: str) -> list[tuple[int, str]]:
    """(number, line) of a requirement file, continuations joined, comments dropped."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if pending is not None:
            number, line = pending[0], pending[1] + line
            pending = None
        if line.endswith("\\"):
            pending = (number, line[:-1])
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append((number, line))
    return lines


def _references(
    root: Path,
    rel: str,
    read: tuple[str, int, bool],
    ignore: ModelIgnore,
    seen: list[str],
    installs: list[Requirement],
) -> None:
    """Walk the requirement file ``rel`` and the files it names (``read``: the file that
    named it, the line, and whether as requirements rather than constraints)."""
    if rel in seen:
        return
    by, number, installing = read
    if not (root / rel).is_file():
        raise ConfigError(f"{root / rel}, named by {by} (line {number}), does not exist")
    why = f"which {by} names (line {number}) and the image needs" if number else ""
    message = left_out(ignore, Needed(rel, False, why or "which the image needs"))
    if message is not None:
        raise ConfigError(message)
    seen.append(rel)
    for number, line in _lines((root / rel).read_text(encoding="utf-8-sig")):
        match = _REFERENCE.match(line)
        if match is not None:
            named = match.group(2)
            if "://" in named or named.startswith("/"):
                continue
            path = os.path.normpath((PurePosixPath(rel).parent / named).as_posix())
            if path == ".." or path.startswith("../"):
                raise ConfigError(
                    f"{rel} line {number} names {named}, outside the project folder, which "
                    "the image cannot copy (move it into the project)"
                )
            nested = installing and match.group(1).lower() in ("-r", "--requirement")
            _references(root, path, (rel, number, nested), ignore, seen, installs)
            continue
        name = _NAME.match(line)
        if installing and name is not None and not line.startswith("-"):
            normal = re.sub(r"[-_.]+", "-", name.group(1)).lower()
            installs.append(Requirement(normal, rel, number))


def read_project(root: Path) -> Project:
    """Read ``root``: its ``.modelignore``, the files let through, and the requirements."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such project folder")
    root = root.resolve()
    try:
        ignore = read_modelignore(root)
        files = [
            f
            for f in included_files(root, ignore)
            if f not in CONTEXT_IGNORES
            and not (f == DOCKERFILE and written_by_servekit(root / DOCKERFILE))
        ]
        kept = set(files)
        for rel in files:
            _check_entry(root, rel, kept, ignore)
        requirements: list[str] = []
        installs: list[Requirement] = []
        if (root / REQUIREMENTS).is_file():
            read = ("", 0, True)
            _references(root, REQUIREMENTS, read, ignore, requirements, installs)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot read the project {root}: {exc}") from None
    return Project(root, ignore, tuple(files), tuple(requirements), tuple(installs))
