"""``.modelignore``: the files of a model project that stay out of its image.

Domino's file of the same name lists patterns, one per line, relative to the project
root. servekit reads it with ``.gitignore`` rules:

- blank lines and lines starting with ``#`` are ignored;
- ``*`` and ``?`` match within one path segment, ``**`` across segments;
- a pattern with a ``/`` other than a trailing one is anchored at the project root
  (``/data`` or ``data/raw``); one without matches a name at any depth (``*.csv``);
- a trailing ``/`` matches folders only, and everything under them;
- ``!pattern`` brings back what an earlier pattern excluded (not inside an excluded
  folder: as with git, servekit does not look into one).

``.git/`` is always excluded. I/O-free but for :func:`read_modelignore` and
:func:`included_files`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModelIgnore", "Rule", "dockerignore", "included_files", "read_modelignore"]

FILENAME = ".modelignore"
ALWAYS = (".git/",)


@dataclass(frozen=True)
class Rule:
    """One pattern line: what it matches, and whether it excludes or re-includes."""

    pattern: str
    negate: bool
    dir_only: bool
    regex: re.Pattern[str]

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether this rule applies to ``path`` (``/``-separated, relative)."""
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(path) is not None


def _class_end(glob: str, start: int) -> int:
    """The index of the ``]`` closing the class opened at ``start``, or -1."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":  # a leading ] is a member
        i += 1
    while i < len(glob) and glob[i] != "]":
        i += 2 if glob[i] == "\\" else 1
    return i if i < len(glob) else -1


def _class(members: str) -> str:
    """A glob class's members (``a-z``, ``!x``) as a regex class that never matches ``/``."""
    negate = members[:1] in ("!", "^")
    body = members[1:] if negate else members
    chars, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            chars.append("\\" + body[i + 1])
            i += 2
            continue
        chars.append("\\" + body[i] if body[i] in "\\^[]" else body[i])
        i += 1
    inner = "".join(chars)
    return f"[^/{inner}]" if negate else f"(?!/)[{inner}]"


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        elif glob[i] == "[" and (end := _class_end(glob, i)) > 0:
            out.append(_class(glob[i + 1 : end]))
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def _rule(line: str) -> Rule | None:
    text = line.rstrip("\n")
    while text.endswith(" ") and not text.endswith("\\ "):  # unless escaped, as in git
        text = text[:-1]
    if not text or text.startswith("#"):
        return None
    negate = text.startswith("!")
    body = text[1:] if negate else text
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        return None
    anchored = "/" in body
    body = body.lstrip("/")
    prefix = "" if anchored else "(?:.*/)?"
    return Rule(text, negate, dir_only, re.compile(prefix + _translate(body)))


@dataclass(frozen=True)
class ModelIgnore:
    """The rules of one ``.modelignore`` (plus ``.git/``), last match wins."""

    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> ModelIgnore:
        """Rules from the file's text."""
        lines = [*ALWAYS, *text.splitlines()]
        return cls(tuple(rule for rule in map(_rule, lines) if rule is not None))

    def excluded(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is left out of the image."""
        verdict = False
        for rule in self.rules:
            if rule.matches(path, is_dir):
                verdict = not rule.negate
        return verdict


def dockerignore(files: Sequence[str]) -> str:
    """A ``.dockerignore`` that lets exactly ``files`` into a build context.

    An allowlist rather than a translation of the patterns: Docker's rules are not git's
    (Docker re-includes inside an excluded folder and has no folders-only patterns), so
    only the resolved list gives the same image. A file added later stays out of the
    image until ``servekit build --dockerfile-only`` runs again.
    """
    lines = [
        "# Written by `servekit build --dockerfile-only` from .modelignore: exactly the",
        "# files it let through then. Run it again after adding files.",
        "**",
    ]
    lines += ["!" + re.sub(r"([*?\[\\])", r"\\\1", name) for name in files]
    return "\n".join(lines) + "\n"


def read_modelignore(project: Path) -> ModelIgnore:
    """The project's ``.modelignore`` rules (only ``.git/`` when it has none)."""
    path = project / FILENAME
    return ModelIgnore.parse(path.read_text(encoding="utf-8-sig") if path.is_file() else "")


def included_files(project: Path, ignore: ModelIgnore) -> list[str]:
    """Every file (or symlink) of ``project`` that goes into the image, sorted."""
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            rel = f"{prefix}{entry.name}"
            is_dir = entry.is_dir() and not entry.is_symlink()
            if ignore.excluded(rel, is_dir):
                continue
            if is_dir:
                walk(entry, rel + "/")
            else:
                found.append(rel)

    walk(project, "")
    return found
