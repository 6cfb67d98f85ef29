"""A model project folder as ``servekit build`` reads it: the files that go into the
image, and the requirement files pip needs. Every problem is a ConfigError naming the
file, never a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from servekit.errors import ConfigError
from servekit.images.modelignore import ModelIgnore, included_files, read_modelignore

__all__ = ["CONTEXT_IGNORES", "REQUIREMENTS", "Project", "read_project"]

REQUIREMENTS = "requirements.txt"
CONTEXT_IGNORES = frozenset((".dockerignore", ".containerignore"))
"""Left out of the staged context: the engine would apply them over ``.modelignore``."""
_REFERENCE = re.compile(r"^(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")


@dataclass(frozen=True)
class Project:
    """What goes into the image: the files (relative, ``/``-separated, sorted) and the
    requirement files in the order pip reads them (``requirements.txt`` first)."""

    root: Path
    ignore: ModelIgnore
    files: tuple[str, ...]
    requirements: tuple[str, ...]


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


def _references(root: Path, rel: str, kept: set[str], seen: list[str]) -> None:
    if rel in seen:
        return
    if rel not in kept:
        where = "does not exist" if not (root / rel).exists() else "is excluded by .modelignore"
        raise ConfigError(f"{root / rel}, named by {seen[-1]}, {where}")
    seen.append(rel)
    text = (root / rel).read_text(encoding="utf-8-sig")
    for line in text.splitlines():
        match = _REFERENCE.match(line.split(" #", 1)[0].strip())
        if match is None or "://" in match.group(1) or match.group(1).startswith("/"):
            continue
        named = PurePosixPath(rel).parent / match.group(1)
        _references(root, os.path.normpath(named.as_posix()), kept, seen)


def read_project(root: Path) -> Project:
    """Read ``root``: its ``.modelignore``, the files let through, and the requirements."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such project folder")
    root = root.resolve()
    try:
        ignore = read_modelignore(root)
        files = [f for f in included_files(root, ignore) if f not in CONTEXT_IGNORES]
        kept = set(files)
        for rel in files:
            _check_entry(root, rel, kept, ignore)
        requirements: list[str] = []
        if REQUIREMENTS in kept:
            _references(root, REQUIREMENTS, kept, requirements)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot read the project {root}: {exc}") from None
    return Project(root, ignore, tuple(files), tuple(requirements))
